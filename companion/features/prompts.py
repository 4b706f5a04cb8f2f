"""Discussion prompts: the shipped ones plus each community's own, kept in SQLite."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from companion.commands import CommandSpec, Param, ParamType, UserError
from companion.content import Content, shown_at, work_shown_at
from companion.events import Invocation, Kind, Reply
from companion.fmt import Md, bold, bullets, code, fmt, join, lines
from companion.store import Store

MAX_PROMPT = 600
_TAG = re.compile(r"^#([a-z0-9]+(?:-[a-z0-9]+)*)$")
# A prompt's text, as `prompt add` and `suggest prompt` take it (tags are split off after).
PROMPT_TEXT = Param(
    "text",
    "The prompt, optionally ending in #tags",
    ParamType.TEXT,
    rest=True,
    max_length=MAX_PROMPT + 200,
)


class PromptView(NamedTuple):
    ref: str  # "s:<slug>" shipped, "c:<id>" the community's own
    title: str
    text: str
    tags: tuple[str, ...]
    source: str | None = None
    chapter: int | None = None  # tied to this chapter of a book: see content.shown_at
    more_sources: tuple[str, ...] = ()  # cited after source

    @property
    def shown_id(self) -> str:
        return self.ref[2:]

    @property
    def community(self) -> bool:
        return self.ref.startswith("c:")


class Prompts:
    def __init__(self, store: Store, content: Content, rng: random.Random) -> None:
        self.store = store
        self.content = content
        self.rng = rng

    @property
    def shipped(self) -> list[PromptView]:
        return self.content.derived(_shipped)

    def commands(self) -> list[CommandSpec]:
        ident = Param("id", "A prompt id (see `prompt list`)", complete=self.complete_id)
        return [
            CommandSpec(
                "prompt", "A discussion prompt to talk about", self.random_prompt, in_direct=True
            ),
            CommandSpec(
                "prompt add",
                "Add a discussion prompt for this community; end with #tags",
                self.add,
                params=(PROMPT_TEXT,),
                moderator_only=True,
                in_direct=False,
                examples=("prompt add What did you notice this week? #practice",),
            ),
            CommandSpec(
                "prompt list",
                "List this community's prompts and the shipped ones, by tag",
                self.list_,
                params=(
                    Param(
                        "tag",
                        "Only prompts with this tag",
                        required=False,
                        complete=self.complete_tag,
                    ),
                ),
                in_direct=False,
            ),
            CommandSpec(
                "prompt remove",
                "Remove one of this community's prompts",
                self.remove,
                params=(ident,),
                moderator_only=True,
                in_direct=False,
            ),
            CommandSpec(
                "prompt edit",
                "Replace one of this community's prompts with a new text (it gets a new id)",
                self.edit,
                params=(ident, PROMPT_TEXT),
                moderator_only=True,
                in_direct=False,
                examples=("prompt edit 3 What did you notice when you listened first? #practice",),
            ),
        ]

    async def all_for(self, community_id: str) -> list[PromptView]:
        own = [
            PromptView(f"c:{row.id}", row.title, row.text, row.tags)
            for row in await self.store.prompts.for_community(community_id)
        ]
        return own + self.shipped

    async def shown_for(self, community_id: str, at: datetime) -> list[PromptView]:
        """The prompts that may be shown now: none tied to a chapter a club here has not read."""
        reached = await self.store.bookclubs.reached(community_id, at)
        works = self.content.resources
        return [
            v
            for v in await self.all_for(community_id)
            if shown_at(v.chapter, reached)
            # cited to (or naming) a work that waits for a chapter: it waits with the work
            and all(work_shown_at(works[s], reached) for s in (v.source, *v.more_sources) if s)
        ]

    async def find(self, community_id: str, shown_id: str) -> PromptView:
        from rapidfuzz import fuzz, process  # loaded on first fuzzy match: 3 MB RSS (issue 24)

        shown_id = shown_id.strip().lstrip("#").lower()
        views = await self.all_for(community_id)
        for view in views:
            if view.shown_id == shown_id:
                return view
        close = process.extract(
            shown_id, [v.shown_id for v in views], scorer=fuzz.ratio, limit=3, score_cutoff=60
        )
        hint = fmt(" Did you mean {}?", join(code(c) for c, _, _ in close)) if close else ""
        raise UserError(fmt("There is no prompt {} here.{}", code(shown_id[:40]), hint))

    async def next_unused(self, community_id: str, at: datetime) -> PromptView:
        """The community's newest unused prompt first, then the shipped ones in order."""
        views = await self.shown_for(community_id, at)
        used = await self.store.prompts.used(community_id)
        own = [v for v in views if v.community]
        ordered = list(reversed(own)) + [v for v in views if not v.community]
        for view in ordered:
            if view.ref not in used:
                return view
        await self.store.prompts.reset_used(community_id)  # a new round
        return ordered[0]

    async def mark_used(self, community_id: str, ref: str, when: datetime) -> None:
        await self.store.prompts.mark_used(community_id, ref, when)

    async def random_prompt(self, inv: Invocation) -> Reply:
        if inv.place.is_direct:
            views = self.shipped
        else:
            views = await self.shown_for(inv.place.community_id, inv.at)
        if not views:
            raise UserError("There are no prompts yet.")
        return Reply(render(self.rng.choice(views), self.content), kind=Kind.PROMPT)

    async def add(self, inv: Invocation) -> Reply:
        text, tags = _checked(str(inv.args["text"]))
        prompt_id = await self.store.prompts.add(
            inv.place.community_id, title_from(text), text, tuple(tags), inv.actor.id, inv.at
        )
        return Reply(_added(prompt_id, text, tags), kind=Kind.CONFIRMATION)

    async def edit(self, inv: Invocation) -> Reply:
        """The new text is checked as `prompt add` checks it; the old prompt is removed and
        the new one added in one unit of work, so an edit is whole or nothing."""
        old = _own_number(str(inv.args["id"]))
        text, tags = _checked(str(inv.args["text"]))
        community_id = inv.place.community_id
        async with self.store.unit_of_work() as uow:
            if not await uow.prompts.remove(community_id, old, inv.at):
                raise UserError(fmt("There is no prompt {} here.", code(old)))
            prompt_id = await uow.prompts.add(
                community_id, title_from(text), text, tuple(tags), inv.actor.id, inv.at
            )
        return Reply(
            lines(_added(prompt_id, text, tags), fmt("Removed prompt {}.", code(old))),
            kind=Kind.CONFIRMATION,
        )

    async def list_(self, inv: Invocation) -> Reply:
        tag = inv.args.get("tag")
        tag = str(tag).lstrip("#").lower() if tag else None
        views = await self.shown_for(inv.place.community_id, inv.at)
        if tag:
            views = [v for v in views if tag in v.tags]
            if not views:
                raise UserError(fmt("No prompt has the tag {}.", code(tag[:40])))
        own = [v for v in views if v.community]
        shipped = [v for v in views if not v.community]
        parts: list[object] = [
            fmt("**This community's prompts** ({})", len(own)),
            bullets((fmt("{} {}", code(v.shown_id), v.text) for v in own), empty="none yet"),
        ]
        if tag:
            parts.append(fmt("\n**Shipped prompts tagged {}** ({})", tag, len(shipped)))
            parts.append(bullets(fmt("{} {}", code(v.shown_id), v.title) for v in shipped))
        else:
            counts: dict[str, int] = {}
            for view in shipped:
                for t in view.tags:
                    counts[t] = counts.get(t, 0) + 1
            popular = ", ".join(f"{t} ({n})" for t, n in sorted(counts.items()))
            parts.append(fmt("\nPlus {} shipped prompts. Filter by tag: {}", len(shipped), popular))
        return Reply(lines(*parts), kind=Kind.LIST)

    async def remove(self, inv: Invocation) -> Reply:
        shown = _own_number(str(inv.args["id"]))
        if not await self.store.prompts.remove(inv.place.community_id, shown, inv.at):
            raise UserError(fmt("There is no prompt {} here.", code(shown)))
        return Reply(fmt("Removed prompt {}.", code(shown)), kind=Kind.CONFIRMATION)

    async def complete_id(self, inv: Invocation, partial: str) -> Sequence[str]:
        from rapidfuzz import fuzz, process  # loaded on first fuzzy match: 3 MB RSS (issue 24)

        views = await self.shown_for(inv.place.community_id, inv.at)
        ids = [v.shown_id for v in views]
        if not partial:
            return ids[:25]
        return [i for i, _, _ in process.extract(partial, ids, scorer=fuzz.WRatio, limit=25)]

    async def complete_tag(self, inv: Invocation, partial: str) -> Sequence[str]:
        return [t for t in sorted(self.content.tags) if t.startswith(partial.lower())][:25]


def split_tags(text: str) -> tuple[str, list[str]]:
    """'What did you notice? #listening #power' -> the text and ['listening', 'power']."""
    words = text.split()
    tags: list[str] = []
    while words and words[-1].startswith("#"):
        match = _TAG.match(words[-1].lower())
        if not match:
            raise UserError(
                fmt(
                    "{} is not a tag: use # and lowercase words joined by hyphens, "
                    "like #active-practice.",
                    code(words[-1][:40]),
                )
            )
        tags.insert(0, match.group(1))
        words.pop()
    return " ".join(words), tags


def _checked(raw: str) -> tuple[str, list[str]]:
    """A prompt's text and tags, refused as `prompt add` refuses them."""
    text, tags = split_tags(raw)
    if len(text) < 10:
        raise UserError("A prompt needs a question or two (at least 10 characters).")
    if len(text) > MAX_PROMPT:
        raise UserError(
            fmt("A prompt can be at most {} characters ({} now).", MAX_PROMPT, len(text))
        )
    return text, tags


def _added(prompt_id: int, text: str, tags: list[str]) -> Md:
    tag_text = f" (tags: {', '.join(tags)})" if tags else ""
    return fmt("Added prompt {}{}: {}", code(prompt_id), tag_text, text)


def _own_number(shown: str) -> int:
    """The id of one of the community's own prompts (shipped ones have names, not numbers)."""
    shown = shown.strip().lstrip("#")
    if not shown.isdecimal():
        raise UserError("Only this community's own prompts (numbered ones) can be changed.")
    if len(shown) > 18:  # beyond any id the database hands out
        raise UserError(fmt("There is no prompt {} here.", code(shown[:20])))
    return int(shown)


def title_from(text: str, limit: int = 80) -> str:
    first = re.split(r"(?<=[?.!])\s", text, maxsplit=1)[0]
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def _shipped(content: Content) -> list[PromptView]:
    return [
        PromptView(f"s:{p.id}", p.title, p.text, p.tags, p.source, p.chapter, p.more_sources)
        for p in content.prompts.values()
        if p.plan is None  # book-club prompts are shown by their club, chapter by chapter
    ]


def render(view: PromptView, content: Content) -> Md:
    parts: list[object] = [bold(view.title)]
    if view.text != view.title:
        parts.append(view.text)
    if view.source:
        parts.append(fmt("— {}", content.resources[view.source].citation))
    for more in view.more_sources:
        parts.append(fmt("— and {}", content.resources[more].citation))
    return lines(*parts)
