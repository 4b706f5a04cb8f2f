"""`resources`: the shipped library and what this community added, searched and paged.

A work that quotes a book from beginning to end (a review listing its quotes) is shown with
a note saying so, and left out wherever a book club here is part way through a book; a work
tied to one chapter (it quotes it) is left out where a club has not reached that chapter,
like every entry tied to a chapter (see content.shown_at).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import NamedTuple

from companion.commands import CommandSpec, Param, ParamType, UserError
from companion.content import Content, shown_at
from companion.events import Invocation, Kind, Reply
from companion.fmt import Md, bullets, code, fmt, italic, join, lines, link, quote
from companion.store import Store

PAGE = 8
_PAGE_WORDS = re.compile(r"^(?P<query>.*?)\s*\bpage\s+(?P<page>\d+)$", re.IGNORECASE)


class Entry(NamedTuple):
    title: str
    creator: str | None
    kind: str | None
    year: int | None
    url: str | None
    tags: tuple[str, ...]
    community: bool  # added by this community (marked in lists)
    whole_book: str | None = None  # the title of a book it quotes throughout (a spoiler)
    chapter: int | None = None  # it quotes a chapter of a book: see content.shown_at


class Resources:
    def __init__(self, store: Store, content: Content) -> None:
        self.store = store
        self.content = content

    @property
    def shipped(self) -> list[Entry]:
        return self.content.derived(_shipped)

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "resources",
                "Books, articles and talks: search by tag or words; add `page 2` for more",
                self.resources,
                params=(
                    Param(
                        "query",
                        "A tag (e.g. listening) or words to search for",
                        ParamType.TEXT,
                        required=False,
                        rest=True,
                        max_length=100,
                    ),
                ),
                examples=("resources", "resources accountability", "resources kim page 2"),
            )
        ]

    async def entries(self, community_id: str | None, at: datetime) -> list[Entry]:
        own: list[Entry] = []
        shipped = self.shipped
        if community_id is not None:
            own = [
                Entry(r.title, None, None, None, r.url, r.tags, True)
                for r in await self.store.contributions.resources(community_id)
            ]
            reached = await self.store.bookclubs.reached(community_id, at)
            if reached is not None:  # a club is mid-book (the rule of content.work_shown_at)
                shipped = [
                    e for e in shipped if e.whole_book is None and shown_at(e.chapter, reached)
                ]
        return own + shipped  # the community's newest first, then the library

    async def resources(self, inv: Invocation) -> Reply:
        query = str(inv.args.get("query") or "").strip()
        page = 1
        paged = _PAGE_WORDS.match(query)
        if paged:
            query, page = paged.group("query").strip(), int(paged.group("page"))
        community = None if inv.place.is_direct else inv.place.community_id
        found = search(await self.entries(community, inv.at), query, set(self.content.tags))
        if not found:
            raise UserError(
                fmt(
                    "Nothing matches {}. Try a tag such as "
                    "`listening` or `accountability`, or `resources` for everything.",
                    quote(query[:60]),
                )
            )
        pages = (len(found) + PAGE - 1) // PAGE
        if page > pages:
            raise UserError(fmt("There {} only {} page(s).", "is" if pages == 1 else "are", pages))
        shown = found[(page - 1) * PAGE : page * PAGE]
        heading = quote(query) if query else "the library"
        parts: list[object] = [
            fmt("**Resources: {}** (page {} of {}, {} in all)", heading, page, pages, len(found)),
            bullets(render(entry) for entry in shown),
        ]
        if page < pages:
            more = f"resources {query} page {page + 1}".replace("  ", " ")
            parts.append(fmt("More: {}", code(more)))
        parts.append(fmt("Know a good one? `resource suggest <link> <title>`"))
        return Reply(lines(*parts), kind=Kind.LIST)


def search(entries: list[Entry], query: str, tags: set[str]) -> list[Entry]:
    """A known tag filters; other words rank by fuzzy match on title, creator and tags."""
    from rapidfuzz import fuzz  # loaded on first fuzzy match: 3 MB RSS (issue 24)

    if not query:
        return entries
    lowered = query.lower().lstrip("#")
    if lowered in tags:
        return [e for e in entries if lowered in e.tags]
    scored = []
    for index, entry in enumerate(entries):
        fields = [entry.title, entry.creator or "", " ".join(entry.tags)]
        score = max(fuzz.partial_ratio(lowered, f.lower()) for f in fields if f)
        if score >= 80:
            scored.append((-score, index, entry))
    return [entry for _, _, entry in sorted(scored)]


def render(entry: Entry) -> Md:
    """One resource on one line (its title in italics, a link where there is one)."""
    bits: list[object] = [italic(entry.title)]
    if entry.creator:
        bits.append(entry.creator)
    details = ", ".join(str(x) for x in (entry.kind, entry.year) if x)
    line = join(bits, " · ") + (fmt(" ({})", details) if details else "")
    if entry.url:
        line += fmt(" {}", link("link", entry.url))
    if entry.community:
        line += " · shared here"
    if entry.whole_book:
        line += fmt(
            " · it quotes the whole of {}, so read it after the book", italic(entry.whole_book)
        )
    return line


def _shipped(content: Content) -> list[Entry]:
    def whole_book(book: str | None) -> str | None:
        return content.resources[book].title if book else None

    return [
        Entry(
            r.title,
            r.creator,
            r.kind,
            r.year,
            r.url,
            r.tags,
            False,
            whole_book(r.quotes_whole_book),
            r.chapter,
        )
        for r in sorted(content.resources.values(), key=lambda r: r.title.lower())
    ]
