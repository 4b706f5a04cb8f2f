"""A challenge's days on the scheduler: each day's thread and, later that day, the day's
round of private messages (a nudge to members who opted in and have not checked in; the
review questions for terms met three and ten days before) are one-off schedules, so the
scheduler's guarantees hold: claimed before sending, keyed, posted once, in local time.
Each private message is also claimed per member and day, so it goes at most once.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from companion.content import Content, LearningPath
from companion.delivery import Action, PostKind, Silent, Thread
from companion.events import Kind, Place
from companion.features.challenges.paths import find_path
from companion.features.challenges.text import REVIEW_AFTER, day_text, review_line, title
from companion.fmt import Md, code, fmt, lines
from companion.notices import Notices
from companion.recurrence import Recurrence, to_instant
from companion.scheduler import Scheduler
from companion.store import Store, UnitOfWork
from companion.store.challenges import ChallengeMember, ChallengeRow, SlotRow
from companion.store.schedules import ScheduleRow, iso

DAY_KIND, TICK_KIND = "challenge-day", "challenge-tick"
TICK_AFTER = timedelta(hours=8)  # the day's private round, this long after its thread opens
TICK_LATEST, TICK_FIRST = time(23, 0), timedelta(hours=1)  # ... by 23:00, at least 1 h after
REVIEW_DAYS = max(REVIEW_AFTER)  # ticks go on this many days after the last day


class Planned(NamedTuple):
    kind: str
    day: int
    local: datetime  # naive, in the challenge's zone


def plan(start: date, at: time, days: int) -> list[Planned]:
    """Every day's thread and every tick, in local wall-clock time (DST never moves them)."""
    opens = [datetime.combine(start + timedelta(days=n), at) for n in range(days + REVIEW_DAYS)]
    return [Planned("day", n + 1, opens[n]) for n in range(days)] + [
        Planned("tick", n + 1, tick_after(opens[n])) for n in range(days + REVIEW_DAYS)
    ]


def tick_after(opens: datetime) -> datetime:
    """When a day's private round goes: eight hours after the day opens, but in the evening
    of that day (by 23:00) rather than in the night, and never within the first hour."""
    evening = datetime.combine(opens.date(), TICK_LATEST)
    return max(min(opens + TICK_AFTER, evening), opens + TICK_FIRST)


def place_of(challenge: ChallengeRow) -> Place:
    return Place(challenge.platform, challenge.community_id, challenge.room_id)


class DaySchedule:
    def __init__(
        self, store: Store, scheduler: Scheduler, content: Content, notices: Notices
    ) -> None:
        self.store = store
        self.scheduler = scheduler
        self.content = content
        self.notices = notices

    def post_kinds(self) -> list[PostKind]:
        return [
            PostKind(DAY_KIND, self.render_day),
            PostKind(TICK_KIND, self.render_tick, self.after_tick),
        ]

    async def add(
        self, uow: UnitOfWork, challenge: ChallengeRow, planned: list[Planned], by: str
    ) -> list[SlotRow]:
        zone = ZoneInfo(challenge.timezone)
        slots = []
        for item in planned:
            kind = DAY_KIND if item.kind == "day" else TICK_KIND
            recurrence = Recurrence("once", item.local.time(), zone, item.local.date())
            row = await self.scheduler.add(
                place_of(challenge), kind, recurrence, f"{challenge.id}:{item.day}", by, repos=uow
            )
            assert row.next_run is not None
            slots.append(SlotRow(challenge.id, item.kind, item.day, row.next_run, row.id))
        await uow.challenges.put_slots(slots)
        return slots

    async def stop(
        self, uow: UnitOfWork, challenge: ChallengeRow, after: str, status: str
    ) -> list[SlotRow]:
        """Pause or cancel the schedules of every slot after ``after``; returns those slots."""
        among = ("active",) if status == "paused" else ("active", "paused")
        later = [s for s in await uow.challenges.slots(challenge.id) if s.at > after]
        for slot in later:
            row = await uow.schedules.get(slot.schedule_id) if slot.schedule_id else None
            if row is not None and row.status in among:
                await self.scheduler.set_status(row, status, repos=uow)
        return later

    async def shift(self, uow: UnitOfWork, challenge: ChallengeRow, now: datetime, by: str) -> int:
        """After a pause: every slot not reached before it moves on by the local days the
        pause lasted (and on, if that would still be in the past). Returns the days moved."""
        assert challenge.paused_at is not None
        zone = ZoneInfo(challenge.timezone)
        paused_at = datetime.fromisoformat(challenge.paused_at)
        later = await self.stop(uow, challenge, iso(paused_at), "cancelled")
        if not later:
            return 0
        days = (now.astimezone(zone).date() - paused_at.astimezone(zone).date()).days
        local = [datetime.fromisoformat(s.at).astimezone(zone).replace(tzinfo=None) for s in later]
        while to_instant(min(local) + timedelta(days=days), zone) <= now:
            days += 1
        moved = [
            Planned(s.kind, s.day, when + timedelta(days=days))
            for s, when in zip(later, local, strict=True)
        ]
        await self.add(uow, challenge, moved, by)
        return days

    # --- what the scheduler posts -------------------------------------------------------

    async def _load(self, row: ScheduleRow) -> tuple[ChallengeRow, LearningPath, Content, int]:
        challenge_id, _, day = row.payload.partition(":")
        challenge = await self.store.challenges.get(int(challenge_id))
        if challenge is None:
            raise RuntimeError(f"schedule {row.id} belongs to no challenge")
        found = await find_path(self.store, self.content, challenge.community_id, challenge.path_id)
        if found is None:
            raise RuntimeError(f"the path {challenge.path_id!r} is no longer in the content")
        return challenge, found[0], found[1], int(day)

    async def render_day(self, row: ScheduleRow, due: datetime) -> Action:
        _, path, content, number = await self._load(row)
        day = path.day(number)
        return Thread(title(path, day), day_text(content, path, day), kind=Kind.DISCUSSION)

    async def render_tick(self, row: ScheduleRow, due: datetime) -> Action:
        return Silent()

    async def after_tick(self, row: ScheduleRow, due: datetime, action: Action) -> None:
        challenge, path, content, day = await self._load(row)
        members = [
            m for m in await self.store.challenges.members(challenge.id) if m.remind or m.review
        ]
        if not members:
            return
        checked = await self.store.challenges.checked_on(challenge.id, day)
        for member in members:
            if (
                member.remind
                and day <= len(path.days)
                and member.joined_day <= day
                and member.member_id not in checked
            ):
                await self._send(challenge, member, "nudge", day, self._nudge(path, day))
            review = self._review(content, path, day, member) if member.review else None
            if review is not None:
                await self._send(challenge, member, "review", day, review)

    async def _send(
        self, challenge: ChallengeRow, member: ChallengeMember, kind: str, day: int, text: Md
    ) -> None:
        now = self.scheduler.clock.now()
        if await self.store.challenges.claim_message(
            challenge.id, member.member_id, kind, day, now
        ):
            await self.notices.send(place_of(challenge), member.member_id, text)

    def _nudge(self, path: LearningPath, day: int) -> Md:
        return fmt(
            "Day {} of {} is open whenever you have a moment: {} shows it, {} checks it in. "
            "{} stops these messages.",
            day,
            path.title,
            code(f"challenge day {day}"),
            code(f"challenge catchup {day}"),
            code("challenge remind off"),
        )

    def _review(
        self, content: Content, path: LearningPath, day: int, member: ChallengeMember
    ) -> Md | None:
        """The review questions due today: terms met on day N come back on N+3 and N+10."""
        met = [day - gap for gap in REVIEW_AFTER]
        terms = [
            term
            for number in met
            if member.joined_day <= number <= len(path.days)
            for term in path.day(number).terms
        ]
        asked = [review_line(content, term) for term in dict.fromkeys(terms)]
        if not any(asked):
            return None
        return lines(
            fmt("A question or two to look back on ({}):", path.title),
            *(line for line in asked if line is not None),
        )
