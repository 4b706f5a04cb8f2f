"""A queued suggestion as moderators see it: its number, its kind, its one-line description."""

from __future__ import annotations

from companion.commands import Param, ParamType, UserError
from companion.events import Invocation
from companion.fmt import Md, bold, code, fmt
from companion.store import Store
from companion.store.contributions import SuggestionRow

KINDS = {
    "resource": "resource",
    "term": "glossary term",
    "prompt": "prompt",
    "question": "anonymous question",
}
SUGGESTION_ID = Param("id", "The queue number (see `queue`)", ParamType.INT, min_value=1)


async def find_item(store: Store, inv: Invocation) -> SuggestionRow:
    """The suggestion the command's `id` names, in this community."""
    item = await store.contributions.get(inv.place.community_id, inv.number("id"))
    if item is None:
        raise UserError(fmt("There is no suggestion #{} here.", inv.args["id"]))
    return item


def describe(item: SuggestionRow) -> Md:
    data = item.data
    if item.kind == "resource":
        return fmt("resource: {} {}", data["title"], code(data["url"]))
    if item.kind == "term":
        return fmt("glossary term: {}, {}", bold(data["term"]), data["definition"])
    if item.kind == "prompt":
        return fmt("prompt: {}", data["text"])
    return fmt("anonymous question: {}", data["question"])
