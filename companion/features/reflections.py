"""`reflect`: one reflection question per community per local day, rotating without repeats.

The rotation's history is in the database (question ids never change), so it survives
restarts and content edits; the scheduled morning post asks the same question through
:meth:`Reflections.for_day`.
"""

from __future__ import annotations

import zlib
from datetime import date

from companion.commands import CommandSpec
from companion.content import Content, Reflection
from companion.events import Invocation, Kind, Reply
from companion.features.communities import Communities
from companion.fmt import Md, bold, fmt, lines
from companion.store import Store


class Reflections:
    def __init__(self, store: Store, content: Content, communities: Communities) -> None:
        self.store = store
        self.content = content
        self.communities = communities
        self._counts: dict[str, dict[str, int]] = {}
        self._today: dict[str, tuple[str, str]] = {}  # community -> (day, reflection id)
        # One shuffled order of all questions (stable across restarts); each community starts
        # at its own offset in it, so neighbours do not get the same question the same day.
        self._order = sorted(content.reflections, key=lambda i: zlib.crc32(i.encode()))
        self._cursor: dict[str, int] = {}
        self._cycle: dict[str, int] = {}

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "reflect",
                "Today's reflection question for this community",
                self.reflect,
                aliases=("today", "today's reflection", "reflection"),
            )
        ]

    async def reflect(self, inv: Invocation) -> Reply:
        community = inv.place.community_id
        day = inv.at.astimezone(self.communities.zone(community)).date()
        question = await self.for_day(community, day)
        return Reply(
            render(question, self.content, heading="Today's reflection"), kind=Kind.REFLECTION
        )

    async def for_day(self, community_id: str, day: date) -> Reflection:
        return (await self.for_days([(community_id, day)]))[0]

    async def for_days(self, wanted: list[tuple[str, date]]) -> list[Reflection]:
        """The question of each (community, local day): at most two database calls in all."""
        keys = [(community_id, day.isoformat()) for community_id, day in wanted]
        found = {k: got for k in keys if (got := self._cached(*k)) is not None}
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing:
            unknown = [c for c in dict.fromkeys(c for c, _ in missing) if c not in self._counts]
            if unknown:
                self._counts.update(await self.store.reflections.use_counts_many(unknown))
            picks = [(c, day, self._next(c, self._counts[c])) for c, day in missing]
            chosen = await self.store.reflections.claim_days(picks)
            for community_id, day, candidate in picks:
                got = chosen.get((community_id, day), candidate)
                if got == candidate:
                    counts = self._counts[community_id]
                    counts[got] = counts.get(got, 0) + 1
                if got not in self.content.reflections:  # removed from the files since
                    got = candidate
                self._today[community_id] = (day, got)
                found[(community_id, day)] = got
        return [self.content.reflections[found[k]] for k in keys]

    def _cached(self, community_id: str, day: str) -> str | None:
        cached = self._today.get(community_id)
        if cached and cached[0] == day and cached[1] in self.content.reflections:
            return cached[1]
        return None

    def _next(self, community_id: str, counts: dict[str, int]) -> str:
        """The next least-asked question, walking the shuffled list from where it last stopped.

        Each community starts at its own offset in one shared order and keeps a cursor, so a
        pick is usually one step; the least-asked count ("cycle") only rises once every
        question has reached it, so nothing repeats before all were asked.
        """
        order = self._order
        size = len(order)
        cursor = self._cursor.get(community_id)
        if cursor is None:
            cursor = zlib.crc32(community_id.encode()) % size
        cycle = self._cycle.get(community_id, 0)
        while True:
            for step in range(size):
                index = (cursor + step) % size
                if counts.get(order[index], 0) <= cycle:
                    self._cursor[community_id] = (index + 1) % size
                    self._cycle[community_id] = cycle
                    return order[index]
            cycle += 1


def render(question: Reflection, content: Content, *, heading: str) -> Md:
    if question.source:
        cited = fmt("— {}", content.resources[question.source].citation)
        return lines(bold(heading), question.text, cited)
    return lines(bold(heading), question.text)
