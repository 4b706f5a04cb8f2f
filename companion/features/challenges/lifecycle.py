"""A challenge's lifecycle for moderators: `challenge start`, `pause`, `resume`, `end`.

Each runs in one unit of work: the challenge, its days and their schedules change together
or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time

from companion.commands import CommandSpec, Param, UserError
from companion.content import Content
from companion.events import Invocation, Kind, Reply
from companion.features.challenges.days import DaySchedule, plan
from companion.features.challenges.here import challenge_here
from companion.features.challenges.paths import find_path, paths_here
from companion.features.communities import Communities
from companion.features.schedules import MAX_YEARS_AHEAD, parse_date, parse_time
from companion.fmt import code, fmt, italic, join
from companion.recurrence import shown, to_instant
from companion.store import Store
from companion.store.schedules import iso

DEFAULT_TIME = time(9, 0)
_ALREADY = fmt("A challenge already runs here; `challenge end` it first.")


class ChallengeLifecycle:
    def __init__(
        self, store: Store, content: Content, communities: Communities, days: DaySchedule
    ) -> None:
        self.store = store
        self.content = content
        self.communities = communities
        self.days = days

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "challenge start",
                "Start a learning path here: a thread a day, at the community's time",
                self.start,
                params=(
                    Param("path", "The path, e.g. allyship-21", complete=self.complete),
                    Param("date", "The day it starts, YYYY-MM-DD", max_length=10),
                    Param("time", "When each day opens, HH:MM (09:00)", required=False),
                ),
                moderator_only=True,
                in_direct=False,
                examples=("challenge start allyship-21 2026-12-01 08:30",),
            ),
            CommandSpec(
                "challenge pause",
                "Pause the challenge; later days shift by the pause",
                self.pause,
                moderator_only=True,
                in_direct=False,
            ),
            CommandSpec(
                "challenge resume",
                "Resume a paused challenge",
                self.resume,
                moderator_only=True,
                in_direct=False,
            ),
            CommandSpec(
                "challenge end",
                "End the challenge here",
                self.end,
                moderator_only=True,
                in_direct=False,
            ),
        ]

    async def complete(self, inv: Invocation, prefix: str) -> Sequence[str]:
        here = await paths_here(self.store, self.content, inv.place.community_id)
        return [p.id for p, _ in here if p.id.startswith(prefix.lower())]

    async def start(self, inv: Invocation) -> Reply:
        community_id = inv.place.community_id
        found = await find_path(
            self.store, self.content, community_id, str(inv.args["path"]).lower()
        )
        if found is None:
            here = await paths_here(self.store, self.content, community_id)
            known = join((code(p.id) for p, _ in here), ", ")
            raise UserError(fmt("There is no path by that name. Paths: {}.", known))
        path = found[0]
        start = parse_date(str(inv.args["date"]))
        if start.year > inv.at.year + MAX_YEARS_AHEAD:  # its days would run past year 9999
            raise UserError(fmt("That start is too far ahead; pick one within ten years."))
        at = parse_time(str(inv.args["time"])) if inv.args.get("time") else DEFAULT_TIME
        zone = self.communities.zone(inv.place.community_id)
        planned = plan(start, at, len(path.days))
        if to_instant(planned[0].local, zone) <= inv.at:
            raise UserError("That start has passed; pick a later day or time.")
        place = inv.place
        async with self.store.unit_of_work() as uow:
            challenge_id = await uow.challenges.add(
                place.community_id,
                place.platform,
                place.room_id,
                path.id,
                path.title,
                len(path.days),
                zone.key,
                inv.actor.id,
                inv.at,
            )
            if challenge_id is None:  # the unique index: one running challenge here
                raise UserError(_ALREADY)
            challenge = await uow.challenges.get(challenge_id)
            assert challenge is not None
            slots = await self.days.add(uow, challenge, planned, inv.actor.id)
        return Reply(
            fmt(
                "Challenge started: {}, {} days. Day 1 opens here {}, then a day each day "
                "at the same time. Members: {} to walk along, {} for private reminders.",
                italic(path.title),
                len(path.days),
                shown(slots[0].at, zone),
                code("challenge join"),
                code("challenge remind on"),
            ),
            kind=Kind.CONFIRMATION,
        )

    async def pause(self, inv: Invocation) -> Reply:
        async with self.store.unit_of_work() as uow:
            challenge = await challenge_here(uow, inv)
            if challenge.status == "paused":
                raise UserError("The challenge is already paused.")
            await self.days.stop(uow, challenge, iso(inv.at), "paused")
            await uow.challenges.set_status(challenge.id, "paused", iso(inv.at))
        return Reply(
            fmt(
                "Paused. `challenge resume` moves the days still to come on by the length "
                "of the pause."
            ),
            kind=Kind.CONFIRMATION,
        )

    async def resume(self, inv: Invocation) -> Reply:
        async with self.store.unit_of_work() as uow:
            challenge = await challenge_here(uow, inv)
            if challenge.status != "paused":
                raise UserError("The challenge is not paused.")
            moved = await self.days.shift(uow, challenge, inv.at, inv.actor.id)
            await uow.challenges.set_status(challenge.id, "active", None)
        return Reply(
            fmt(
                "Resumed. The days still to come moved {} day{} later.",
                moved,
                "s" * (moved != 1),
            ),
            kind=Kind.CONFIRMATION,
        )

    async def end(self, inv: Invocation) -> Reply:
        async with self.store.unit_of_work() as uow:
            challenge = await challenge_here(uow, inv)
            await self.days.stop(uow, challenge, "", "cancelled")
            await uow.challenges.set_status(challenge.id, "ended", None)
        return Reply(
            fmt("Ended {}. Thank you for walking it together.", italic(challenge.title)),
            kind=Kind.CONFIRMATION,
        )
