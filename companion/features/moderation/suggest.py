"""What members send to the queue: `resource suggest`, `suggest term`, `suggest prompt`
and `ask anonymously` (which keeps no author, only the keyed hash the limits count).
"""

from __future__ import annotations

from typing import Any

from companion import links
from companion.commands import CommandSpec, Param, ParamType, UserError
from companion.content import Content
from companion.events import Invocation, Kind, Reply
from companion.features.moderation.limits import SuggestionLimits
from companion.features.prompts import MAX_PROMPT, PROMPT_TEXT, split_tags
from companion.fmt import code, fmt, italic
from companion.store import Store

MAX_TITLE = 200
MAX_DEFINITION = 600


class Suggestions:
    def __init__(self, store: Store, content: Content, limits: SuggestionLimits) -> None:
        self.store = store
        self.content = content
        self.limits = limits

    @property
    def shipped_links(self) -> dict[str, str]:
        return self.content.derived(_shipped_links)

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "resource suggest",
                "Suggest a book, article or talk for this community's library",
                self.suggest_resource,
                params=(
                    Param("url", "A link to it (http or https)", max_length=links.MAX_URL),
                    Param(
                        "title",
                        "Its title, optionally ending in #tags",
                        ParamType.TEXT,
                        rest=True,
                        max_length=MAX_TITLE + 200,
                    ),
                ),
                private=True,
                in_direct=False,
                examples=(
                    "resource suggest https://example.org/talk Why listening matters #listening",
                ),
            ),
            CommandSpec(
                "suggest term",
                "Suggest a glossary term and its definition",
                self.suggest_term,
                params=(
                    Param("term", "The word or phrase (quote it if it has spaces)", max_length=60),
                    Param(
                        "definition",
                        "A short definition in your own words",
                        ParamType.TEXT,
                        rest=True,
                        max_length=MAX_DEFINITION,
                    ),
                ),
                private=True,
                in_direct=False,
                examples=('suggest term "call in" Inviting someone privately to reflect on harm',),
            ),
            CommandSpec(
                "suggest prompt",
                "Suggest a discussion prompt for this community",
                self.suggest_prompt,
                params=(PROMPT_TEXT,),
                private=True,
                in_direct=False,
            ),
            CommandSpec(
                "ask anonymously",
                "Ask the community a question without your name: moderators review it first",
                self.ask_anonymously,
                params=(
                    Param(
                        "question",
                        "Your question",
                        ParamType.TEXT,
                        rest=True,
                        max_length=MAX_PROMPT,
                    ),
                ),
                private=True,
                in_direct=False,
            ),
        ]

    async def _queue(
        self,
        inv: Invocation,
        kind: str,
        data: dict[str, Any],
        *,
        anonymous: bool = False,
        url_key: str | None = None,
    ) -> int:
        author_hash = await self.limits.admit(inv)
        return await self.store.contributions.suggest(
            inv.place.community_id,
            kind,
            data,
            author_id=None if anonymous else inv.actor.id,
            author_hash=author_hash,
            platform=inv.place.platform,
            room_id=inv.place.room_id,
            url_key=url_key,
            now=inv.at,
        )

    async def _queue_once(self, inv: Invocation, kind: str, data: dict[str, Any]) -> int:
        """Queue a term or a prompt, unless the very same one waits already (the command
        sent twice, a client's retry): moderators would review it twice, and approve two."""
        waiting = await self.store.contributions.waiting(inv.place.community_id, kind, data)
        if waiting is not None:
            raise UserError(fmt("That one is already waiting for review (#{}).", waiting))
        return await self._queue(inv, kind, data)

    async def _refuse_a_kept_prompt(self, inv: Invocation, text: str) -> None:
        """A prompt approved already (or added by a moderator) is among the community's
        prompts: queued again, moderators would review it again and could add a copy."""
        wanted = " ".join(text.split()).casefold()
        for row in await self.store.prompts.for_community(inv.place.community_id):
            if " ".join(row.text.split()).casefold() == wanted:
                raise UserError(
                    fmt(
                        "That one is already among this community's prompts ({}; see {}).",
                        code(str(row.id)),
                        code("prompt list"),
                    )
                )

    async def suggest_resource(self, inv: Invocation) -> Reply:
        url = links.check(str(inv.args["url"]))
        key = links.normalize(url)
        title, tags = split_tags(str(inv.args["title"]))
        if not title:
            raise UserError("Give the resource a title after the link.")
        if len(title) > MAX_TITLE:
            raise UserError(fmt("A title can be at most {} characters.", MAX_TITLE))
        shipped = self.shipped_links.get(key)
        if shipped:
            raise UserError(fmt("That one is already in the library: {}.", italic(shipped)))
        found = await self.store.contributions.find_link(inv.place.community_id, key)
        if found and found[0] == "library":
            raise UserError(fmt("That one is already in the library: {}.", italic(found[1])))
        if found:
            raise UserError(fmt("That link is already waiting for review ({}).", found[1]))
        number = await self._queue(
            inv, "resource", {"url": url, "title": title, "tags": tags}, url_key=key
        )
        return Reply(
            fmt(
                "Thank you. Your suggestion #{} is waiting for a moderator; "
                "I will tell you privately what they decide.",
                number,
            ),
            kind=Kind.CONFIRMATION,
        )

    async def suggest_term(self, inv: Invocation) -> Reply:
        term = str(inv.args["term"]).strip()
        definition = str(inv.args["definition"]).strip()
        if len(definition) < 15:
            raise UserError("Give a definition of at least a sentence (15 characters or more).")
        number = await self._queue_once(inv, "term", {"term": term, "definition": definition})
        return _thanks(number)

    async def suggest_prompt(self, inv: Invocation) -> Reply:
        text, tags = split_tags(str(inv.args["text"]))
        if not 10 <= len(text) <= MAX_PROMPT:
            raise UserError(fmt("A prompt is 10 to {} characters.", MAX_PROMPT))
        await self._refuse_a_kept_prompt(inv, text)
        number = await self._queue_once(inv, "prompt", {"text": text, "tags": tags})
        return _thanks(number)

    async def ask_anonymously(self, inv: Invocation) -> Reply:
        question = str(inv.args["question"]).strip()
        if len(question) < 10:
            raise UserError("Write your question in a sentence or two (10 characters or more).")
        await self._queue(inv, "question", {"question": question}, anonymous=True)
        return Reply(
            "Your question is with the moderators, without your name. If they "
            "approve it, I will post it in the community's room with no name attached. Nobody, "
            "moderators included, can see who asked.",
            kind=Kind.CONFIRMATION,
        )


def _thanks(number: int) -> Reply:
    return Reply(
        fmt("Thank you. Your suggestion #{} is waiting for a moderator.", number),
        kind=Kind.CONFIRMATION,
    )


def _shipped_links(content: Content) -> dict[str, str]:
    return {links.normalize(r.url): r.title for r in content.resources.values() if r.url}
