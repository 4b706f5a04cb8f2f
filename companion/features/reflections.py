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
from companion.events import Invocation, Reply
from companion.features.communities import Communities
from companion.markup import escape
from companion.store import Store


class Reflections:
    def __init__(self, store: Store, content: Content, communities: Communities) -> None:
        self.store = store
        self.content = content
        self.communities = communities
        self._counts: dict[str, dict[str, int]] = {}
        self._today: dict[str, tuple[str, str]] = {}  # community -> (day, reflection id)
        self._order: dict[str, list[str]] = {}

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
        return Reply(render(question, self.content, heading="Today's reflection"))

    async def for_day(self, community_id: str, day: date) -> Reflection:
        key = day.isoformat()
        cached = self._today.get(community_id)
        if cached and cached[0] == key and cached[1] in self.content.reflections:
            return self.content.reflections[cached[1]]
        counts = self._counts.get(community_id)
        if counts is None:
            counts = await self.store.reflections.use_counts(community_id)
            self._counts[community_id] = counts
        candidate = self._next(community_id, counts)
        chosen = await self.store.reflections.claim_day(community_id, key, candidate)
        if chosen == candidate:
            counts[chosen] = counts.get(chosen, 0) + 1
        self._today[community_id] = (key, chosen)
        if chosen not in self.content.reflections:  # removed from the files since
            return self.content.reflections[candidate]
        return self.content.reflections[chosen]

    def _next(self, community_id: str, counts: dict[str, int]) -> str:
        """The least-asked question, in an order shuffled once per community."""
        order = self._order.get(community_id)
        if order is None:
            order = sorted(self.content.reflections, key=lambda i: _shuffle_key(community_id, i))
            self._order[community_id] = order
        cycle = min(counts.get(i, 0) for i in order)
        return next(i for i in order if counts.get(i, 0) == cycle)


def _shuffle_key(community_id: str, reflection_id: str) -> int:
    return zlib.crc32(f"{community_id}\0{reflection_id}".encode())


def render(question: Reflection, content: Content, *, heading: str) -> str:
    lines = [f"**{heading}**", escape(question.text)]
    if question.source:
        lines.append(f"— {content.resources[question.source].citation}")
    return "\n".join(lines)
