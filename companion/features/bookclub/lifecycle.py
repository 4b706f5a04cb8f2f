"""A book club's lifecycle: `bookclub start`, `pause`, `resume`, `skip` and `end`.

Each runs in one unit of work: the club, its sessions and their schedules change together
or not at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from companion.commands import CommandSpec, Param, ParamType, UserError
from companion.events import Invocation, Kind, Place, Reply
from companion.features.bookclub.chapters import ChapterSchedule
from companion.features.bookclub.clubs import club_here
from companion.features.bookclub.meetings import ClubMeetings, parse_meetings
from companion.features.bookclub.pace import parse_pace
from companion.features.bookclub.plans import Plans
from companion.features.communities import Communities
from companion.features.schedules import MAX_YEARS_AHEAD, parse_date
from companion.fmt import code, fmt, italic
from companion.recurrence import shown, to_instant
from companion.store import Store
from companion.store.schedules import iso

_ALREADY = fmt("This channel already has a book club; `bookclub end` it first.")


class ClubLifecycle:
    def __init__(
        self,
        store: Store,
        communities: Communities,
        plans: Plans,
        chapters: ChapterSchedule,
        meetings: ClubMeetings,
    ) -> None:
        self.store = store
        self.communities = communities
        self.plans = plans
        self.chapters = chapters
        self.meetings = meetings

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "bookclub start",
                "Start a book club here on a reading plan, with a thread per chapter",
                self.start,
                params=(
                    Param(
                        "plan", "The reading plan, e.g. the-wake-up", complete=self.plans.complete
                    ),
                    Param("date", "The day reading starts, YYYY-MM-DD", max_length=10),
                    Param(
                        "pace",
                        "every N days [HH:MM] or weekly DAY HH:MM; then optionally chapters N "
                        "and with meetings HH:MM",
                        ParamType.TEXT,
                        required=False,
                        rest=True,
                        max_length=80,
                    ),
                ),
                moderator_only=True,
                examples=(
                    "bookclub start the-wake-up 2026-12-01 weekly thu 19:00",
                    "bookclub start the-wake-up 2026-12-01 every 14 days 18:30 chapters 12",
                    "bookclub start the-wake-up 2026-12-01 weekly thu 18:00 with meetings 19:00",
                ),
                in_direct=False,
            ),
            CommandSpec(
                "bookclub pause",
                "Pause the club; later dates shift by the pause",
                self.pause,
                moderator_only=True,
                in_direct=False,
            ),
            CommandSpec(
                "bookclub resume",
                "Resume a paused club",
                self.resume,
                moderator_only=True,
                in_direct=False,
            ),
            CommandSpec(
                "bookclub skip",
                "Skip the next chapter discussion",
                self.skip,
                moderator_only=True,
                in_direct=False,
            ),
            CommandSpec(
                "bookclub end", "End the club here", self.end, moderator_only=True, in_direct=False
            ),
        ]

    async def start(self, inv: Invocation) -> Reply:
        plan = await self.plans.find(inv.place.community_id, str(inv.args["plan"]))
        start = parse_date(str(inv.args["date"]))
        zone = self.communities.zone(inv.place.community_id)
        if start < inv.at.astimezone(zone).date():
            raise UserError("That start date has passed; pick today or a later day.")
        if start.year > inv.at.year + MAX_YEARS_AHEAD:  # its chapters would run past year 9999
            raise UserError(fmt("That start is too far ahead; pick one within ten years."))
        words, meeting_at = parse_meetings(str(inv.args.get("pace") or "").lower().split())
        chapters = plan.chapters or plan.min_chapters
        if len(words) >= 2 and words[-2] == "chapters":
            if not words[-1].isdecimal() or not 1 <= int(words[-1]) <= 200:
                raise UserError(fmt("`chapters N` takes N from 1 to 200."))
            chapters = int(words[-1])
            words = words[:-2]
            if plan.chapters and chapters > plan.chapters:
                raise UserError(fmt("{} has {} chapters.", code(plan.name), plan.chapters))
        pace = parse_pace(words, plan.pace_days)
        days = pace.opens(start, chapters)
        sessions = []
        here = Place(inv.place.platform, inv.place.community_id, inv.place.room_id)
        # The club, its sessions and every chapter's schedules: all of them or none.
        async with self.store.unit_of_work() as uow:
            if await uow.bookclubs.club_in_room(inv.place.platform, inv.place.room_id):
                raise UserError(_ALREADY)
            for chapter, day in enumerate(days, 1):
                opens_at, thread_id, reminder_id = await self.chapters.add(
                    uow, here, zone, day, pace.at, inv.actor.id, inv.at
                )
                sessions.append((chapter, opens_at, thread_id, reminder_id))
            club_id = await uow.bookclubs.add_club(
                inv.place.community_id,
                inv.place.platform,
                inv.place.room_id,
                plan.ref,
                plan.title,
                chapters,
                zone.key,
                inv.actor.id,
                inv.at,
                sessions,
            )
            if club_id is None:  # the unique index says a club is here: undo the schedules
                raise UserError(_ALREADY)
            meeting_ids: list[int] = []
            if meeting_at is not None:
                club = await uow.bookclubs.get(club_id)
                assert club is not None
                meeting_ids = await self.meetings.add(
                    uow, club, days, meeting_at, inv.actor.id, inv.at
                )
        unverified = (
            ""
            if plan.chapters
            else fmt(
                " (I know of {} chapters; if your copy has more, start again with `chapters N`)",
                plan.min_chapters,
            )
        )
        first = shown(sessions[0][1], zone)
        met = (
            fmt(
                " A meeting at {} on each discussion day: events #{} to #{} (`event list`); "
                "members answer with {}.",
                meeting_at.strftime("%H:%M"),
                meeting_ids[0],
                meeting_ids[-1],
                code(f"event rsvp {meeting_ids[0]} yes"),
            )
            if meeting_at is not None and meeting_ids
            else ""
        )
        return Reply(
            fmt(
                "Book club started: {}, {} chapters{}. Reading starts {}; the chapter 1 "
                "discussion opens here {}, with a reminder the day before. "
                "`bookclub schedule` lists every date.{}",
                italic(plan.title),
                chapters,
                unverified,
                start.isoformat(),
                first,
                met,
            ),
            kind=Kind.CONFIRMATION,
        )

    async def pause(self, inv: Invocation) -> Reply:
        async with self.store.unit_of_work() as uow:
            club = await club_here(uow, inv)
            if club.status == "paused":
                raise UserError("The club is already paused.")
            future = await self.chapters.future(uow, club, inv.at)
            for session in future:
                await self.chapters.pause(uow, session)
            await self.meetings.postpone(uow, club, [s.chapter for s in future], inv.actor.id)
            await uow.bookclubs.set_status(club.id, "paused", iso(inv.at))
        return Reply(
            fmt(
                "Paused the book club. `bookclub resume` moves the remaining dates on "
                "by the length of the pause."
            ),
            kind=Kind.CONFIRMATION,
        )

    async def resume(self, inv: Invocation) -> Reply:
        changes = []
        async with self.store.unit_of_work() as uow:
            club = await club_here(uow, inv)
            if club.status != "paused" or club.paused_at is None:
                raise UserError("The club is not paused.")
            paused_at = datetime.fromisoformat(club.paused_at)
            zone = ZoneInfo(club.timezone)
            # Shift by the local days the pause covered: paused Tuesday, resumed Friday = 3.
            shift = inv.at.astimezone(zone).date() - paused_at.astimezone(zone).date()
            here = Place(club.platform, club.community_id, club.room_id)
            remaining = await self.chapters.future(uow, club, paused_at)
            if remaining:
                # Paused before a discussion later that day and resumed after its hour: the
                # shifted date has passed too, so the dates move one day more.
                first = datetime.fromisoformat(remaining[0].opens_at).astimezone(zone)
                if to_instant(datetime.combine(first.date() + shift, first.time()), zone) <= inv.at:
                    shift += timedelta(days=1)
            for session in remaining:
                await self.chapters.cancel(uow, session)
                was = datetime.fromisoformat(session.opens_at).astimezone(zone)
                opens_at, thread_id, reminder_id = await self.chapters.add(
                    uow, here, zone, was.date() + shift, was.time(), inv.actor.id, inv.at
                )
                changes.append(
                    (club.id, session.chapter, opens_at, "planned", thread_id, reminder_id)
                )
                await self.meetings.move(
                    uow, club, session.chapter, was.date() + shift, inv.actor.id, inv.at
                )
            await uow.bookclubs.update_sessions(changes)
            await uow.bookclubs.set_status(club.id, "active", None)
        days = shift.days
        return Reply(
            fmt(
                "Resumed. The remaining discussions moved {} day{} later; "
                "`bookclub schedule` shows the new dates.",
                days,
                "s" * (days != 1),
            ),
            kind=Kind.CONFIRMATION,
        )

    async def skip(self, inv: Invocation) -> Reply:
        async with self.store.unit_of_work() as uow:
            club = await club_here(uow, inv)
            future = await self.chapters.future(uow, club, inv.at)
            if not future:
                raise UserError("There is no discussion left to skip.")
            session = future[0]
            await self.chapters.cancel(uow, session)
            skipped = fmt("the book club skips this chapter's discussion.")
            await self.meetings.cancel(uow, club, session.chapter, skipped, inv.actor.id, inv.at)
            await uow.bookclubs.update_sessions(
                [
                    (
                        club.id,
                        session.chapter,
                        session.opens_at,
                        "skipped",
                        session.thread_schedule_id,
                        session.reminder_schedule_id,
                    )
                ]
            )
        return Reply(
            fmt("Skipped the chapter {} discussion; the others keep their dates.", session.chapter),
            kind=Kind.CONFIRMATION,
        )

    async def end(self, inv: Invocation) -> Reply:
        changes = []
        async with self.store.unit_of_work() as uow:
            club = await club_here(uow, inv)
            ended = fmt("the book club has ended.")
            for session in await self.chapters.future(uow, club, inv.at):
                await self.chapters.cancel(uow, session)
                await self.meetings.cancel(uow, club, session.chapter, ended, inv.actor.id, inv.at)
                changes.append(
                    (
                        club.id,
                        session.chapter,
                        session.opens_at,
                        "cancelled",
                        session.thread_schedule_id,
                        session.reminder_schedule_id,
                    )
                )
            await uow.bookclubs.update_sessions(changes)
            await uow.bookclubs.set_status(club.id, "ended", None)
        return Reply(
            fmt("Ended the book club on {}. Thank you for reading together.", italic(club.title)),
            kind=Kind.CONFIRMATION,
        )
