"""`define` and `terms`: the cited glossary, forgiving case, punctuation and small typos.

A source that would spoil a book for a club here (tied to a chapter the club has not
reached, or quoting a whole book while a club is part way through one) is left out of a
term's sources, as `resources` leaves it out (content.work_shown_at); how far the clubs have
read comes from memory (BookClubRepo.reached), so a definition costs no database read.
"""

from __future__ import annotations

from collections.abc import Sequence

from companion.commands import CommandSpec, Param, ParamType, UserError
from companion.content import Content, Term, normalize, work_shown_at
from companion.events import Invocation, Kind, Reply
from companion.fmt import Md, bold, bullets, code, fmt, join, lines, link, quote
from companion.store import Store


class Definitions:
    def __init__(self, content: Content, store: Store) -> None:
        self.content = content
        self.store = store

    @property
    def _complete_names(self) -> list[str]:
        return self.content.derived(_names)

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "define",
                "Look up a word in the glossary, with its sources",
                self.define,
                params=(
                    Param(
                        "term",
                        "The word or phrase, e.g. allyship",
                        ParamType.TEXT,
                        rest=True,
                        max_length=100,
                        complete=self.complete,
                    ),
                ),
                aliases=("what is", "what's"),
                examples=("define allyship", "define ally theater"),
            ),
            CommandSpec("terms", "List every word in the glossary", self.terms),
        ]

    async def complete(self, inv: Invocation, partial: str) -> Sequence[str]:
        from rapidfuzz import fuzz, process  # loaded on first fuzzy match: 3 MB RSS (issue 24)

        if not partial:
            return self._complete_names[:25]
        found = process.extract(partial, self._complete_names, scorer=fuzz.WRatio, limit=25)
        return [name for name, _, _ in found]

    async def define(self, inv: Invocation) -> Reply:
        query = str(inv.args["term"]).rstrip("?!. ")
        term = self.content.find_term(query)
        if term is None and not inv.place.is_direct:
            own = await self._community_term(inv.place.community_id, query)
            if own is not None:
                return Reply(own, kind=Kind.DEFINITION)
        if term is None:
            shown = quote(query[:60])
            close = self.content.suggest_terms(query)
            if close:
                names = join(bold(t.term) for t in close)
                raise UserError(
                    fmt("I don't have {} in the glossary. Did you mean {}?", shown, names)
                )
            raise UserError(
                fmt("I don't have {} in the glossary. {} lists every entry.", shown, code("terms"))
            )
        reached = None
        if not inv.place.is_direct:
            reached = await self.store.bookclubs.reached(inv.place.community_id, inv.at)
        rendered = self.content.derived(_rendered)  # per version of the content
        key = (term.id, reached)
        if key not in rendered:
            rendered[key] = self.render(term, reached)
        return Reply(rendered[key], kind=Kind.DEFINITION)

    async def _community_term(self, community_id: str, query: str) -> Md | None:
        """A term this community added through the moderation queue (one read, on a miss)."""
        from rapidfuzz import fuzz, process  # loaded on first fuzzy match: 3 MB RSS (issue 24)

        terms = await self.store.contributions.terms(community_id)
        if not terms:
            return None
        key = normalize(query)
        best = process.extractOne(
            key, [normalize(t) for t, _ in terms], scorer=fuzz.ratio, score_cutoff=85
        )
        if best is None:
            return None
        term, definition = terms[best[2]]
        return lines(
            bold(term),
            definition,
            "",
            "Added by this community (not from the shipped, cited glossary).",
        )

    def cite(self, source_id: str) -> Md:
        source = self.content.resources[source_id]
        if not source.url:
            return fmt("{}", source.citation)
        return fmt("{} {}", source.citation, link("link", source.url))

    def render(self, term: Term, reached: int | None = None) -> Md:
        """The term's answer where book clubs have read to ``reached`` (None: no club is part
        way through a book, every source is shown)."""

        def shown(source_id: str) -> bool:
            return work_shown_at(self.content.resources[source_id], reached)

        parts: list[object] = [bold(f"{term.term[:1].upper()}{term.term[1:]}"), term.definition]
        if term.quote and shown(term.quote.source):  # never a quotation without its source
            parts += ["", quote(term.quote.text), fmt("— {}", self.cite(term.quote.source))]
        if term.parts:
            parts += ["", bullets(term.parts)]
        if term.related:
            names = ", ".join(self.content.terms[r].term for r in term.related)
            parts += ["", fmt("Related: {}", names)]
        cited = [s for s in term.sources if (not term.quote or s != term.quote.source) and shown(s)]
        if cited:
            heading = "Sources:"
            if term.own_summary:  # the sources bear on the idea; none defines it so
                heading = "Our own summary; no one source defines it so. Related reading:"
            parts += ["", heading, bullets(self.cite(s) for s in cited)]
        return lines(*parts)

    async def terms(self, inv: Invocation) -> Reply:
        names = sorted(t.term for t in self.content.terms.values())
        parts: list[object] = [fmt("**The glossary** ({} terms)", len(names)), ", ".join(names)]
        if not inv.place.is_direct:
            own = await self.store.contributions.terms(inv.place.community_id)
            if own:
                parts.append(fmt("\n**Added by this community** ({})", len(own)))
                parts.append(", ".join(term for term, _ in own))
        parts.append(fmt("\nAsk about any of them with `define <term>`."))
        return Reply(lines(*parts), kind=Kind.LIST)


def _names(content: Content) -> list[str]:
    return sorted({t.term for t in content.terms.values()})


def _rendered(content: Content) -> dict[tuple[str, int | None], Md]:
    """Each term's answer by how far clubs have read, once rendered (escaping every part
    costs about a millisecond)."""
    return {}
