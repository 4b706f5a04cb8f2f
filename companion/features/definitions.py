"""`define` and `terms`: the cited glossary, forgiving case, punctuation and small typos."""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz import fuzz, process

from companion.commands import CommandSpec, Param, ParamType, UserError
from companion.content import Content, Term, normalize
from companion.events import Invocation, Reply
from companion.markup import escape
from companion.store import Store


class Definitions:
    def __init__(self, content: Content, store: Store) -> None:
        self.content = content
        self.store = store
        self._complete_names = sorted({t.term for t in content.terms.values()})

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
                return Reply(own)
        if term is None:
            shown = escape(query[:60])
            close = self.content.suggest_terms(query)
            if close:
                names = ", ".join(f"**{escape(t.term)}**" for t in close)
                raise UserError(f"I don't have “{shown}” in the glossary. Did you mean {names}?")
            raise UserError(f"I don't have “{shown}” in the glossary. `terms` lists every entry.")
        return Reply(self.render(term))

    async def _community_term(self, community_id: str, query: str) -> str | None:
        """A term this community added through the moderation queue (one read, on a miss)."""
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
        return (
            f"**{escape(term)}**\n{escape(definition)}\n\n"
            "Added by this community (not from the shipped, cited glossary)."
        )

    def render(self, term: Term) -> str:
        lines = [f"**{term.term[:1].upper()}{term.term[1:]}**", term.definition]
        if term.quote:
            source = self.content.resources[term.quote.source]
            link = f" [link]({source.url})" if source.url else ""
            lines += ["", f"“{term.quote.text}”", f"— {source.citation}{link}"]
        if term.parts:
            lines += [""] + [f"- {part}" for part in term.parts]
        if term.related:
            names = ", ".join(self.content.terms[r].term for r in term.related)
            lines += ["", f"Related: {names}"]
        cited = [s for s in term.sources if not term.quote or s != term.quote.source]
        if cited:
            heading = "Sources:"
            if term.own_summary:  # the sources use the word; none defines it this way
                heading = "Our own summary; no one source defines it so. The word comes up in:"
            lines += ["", heading]
            for source_id in cited:
                source = self.content.resources[source_id]
                link = f" [link]({source.url})" if source.url else ""
                lines.append(f"- {source.citation}{link}")
        return "\n".join(lines)

    async def terms(self, inv: Invocation) -> Reply:
        names = sorted(t.term for t in self.content.terms.values())
        lines = [f"**The glossary** ({len(names)} terms)", ", ".join(names)]
        if not inv.place.is_direct:
            own = await self.store.contributions.terms(inv.place.community_id)
            if own:
                lines.append(f"\n**Added by this community** ({len(own)})")
                lines.append(", ".join(escape(term) for term, _ in own))
        lines.append("\nAsk about any of them with `define <term>`.")
        return Reply("\n".join(lines))
