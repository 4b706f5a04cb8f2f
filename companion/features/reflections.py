"""`reflect`: one reflection question per community per local day, rotating without repeats.

The rotation's history is in the database (question ids never change), so it survives
restarts and content edits; the scheduled morning post asks the same question through
:meth:`Reflections.for_day`.
"""

from __future__ import annotations

import zlib
from datetime import date, datetime, time

from companion.commands import CommandSpec
from companion.content import Content, Reflection, shown_at, work_shown_at
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
        """The question of each (community, local day): at most three database calls in all."""
        keys = [(community_id, day.isoformat()) for community_id, day in wanted]
        found = {k: got for k in keys if (got := self._cached(*k)) is not None}
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing:
            unknown = [c for c in dict.fromkeys(c for c, _ in missing) if c not in self._counts]
            if unknown:
                self._counts.update(await self.store.reflections.use_counts_many(unknown))
            reached = await self._chapters_reached(missing)
            picks = [(c, day, self._next(c, self._counts[c], reached.get(c))) for c, day in missing]
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

    async def _chapters_reached(self, missing: list[tuple[str, str]]) -> dict[str, int]:
        """How far each community's book club has read when the earliest of these days began.

        A day's question is fixed for the whole day, so it must be safe from the day's start.
        """
        starts = [
            datetime.combine(date.fromisoformat(day), time(0), self.communities.zone(c))
            for c, day in missing
        ]
        communities = list(dict.fromkeys(c for c, _ in missing))
        return await self.store.bookclubs.chapters_reached(communities, min(starts))

    def _cached(self, community_id: str, day: str) -> str | None:
        cached = self._today.get(community_id)
        if cached and cached[0] == day and cached[1] in self.content.reflections:
            return cached[1]
        return None

    def _next(self, community_id: str, counts: dict[str, int], reached: int | None) -> str:
        """The next least-asked question, walking the shuffled list from where it last stopped.

        Each community starts at its own offset in one shared order and keeps a cursor, so a
        pick is usually one step; the least-asked count ("cycle") only rises once every
        question has reached it, so nothing repeats before all were asked. A question tied to
        a chapter the community's book club has not read yet, or cited to a work that waits
        for one, is passed over (the content check keeps some questions tied to neither, so
        there is always one to ask).
        """
        order = self.content.derived(_order)
        questions = self.content.reflections
        size = len(order)
        cursor = self._cursor.get(community_id)
        if cursor is None:
            cursor = zlib.crc32(community_id.encode()) % size
        cycle = self._cycle.get(community_id, 0)
        while True:
            for step in range(size):
                index = (cursor + step) % size
                if counts.get(order[index], 0) <= cycle and self._shown(
                    questions[order[index]], reached
                ):
                    self._cursor[community_id] = (index + 1) % size
                    self._cycle[community_id] = cycle
                    return order[index]
            cycle += 1

    def _shown(self, question: Reflection, reached: int | None) -> bool:
        """Not tied to a chapter not yet reached, nor cited to a work that waits for one."""
        source = question.source
        return shown_at(question.chapter, reached) and (
            source is None or work_shown_at(self.content.resources[source], reached)
        )


def _order(content: Content) -> list[str]:
    """One shuffled order of all questions (stable across restarts); each community starts
    at its own offset in it, so neighbours do not get the same question the same day."""
    return sorted(content.reflections, key=lambda i: zlib.crc32(i.encode()))


def render(question: Reflection, content: Content, *, heading: str) -> Md:
    if question.source:
        cited = fmt("— {}", content.resources[question.source].citation)
        return lines(bold(heading), question.text, cited)
    return lines(bold(heading), question.text)
