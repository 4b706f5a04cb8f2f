"""`bookclub ...`: read a book together, a discussion thread per chapter, spoiler-safe.

Each chapter's thread and the reminder the day before are one-off schedules, so the
scheduler's guarantees hold: posted once, in local time, surviving restarts. Progress is
private: members see their own; everyone else sees only a count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from companion.commands import CommandSpec, Param, ParamType, UserError
from companion.events import Invocation, Kind, Place, Reply
from companion.features.bookclub_plans import Plans, PlanView
from companion.features.communities import Communities
from companion.features.schedules import parse_date, parse_days, parse_time
from companion.fmt import bold, bullets, code, fmt, italic, lines
from companion.recurrence import Recurrence, to_instant
from companion.scheduler import Action, Post, Scheduler, Thread
from companion.store import Repositories, Store, UnitOfWork
from companion.store.bookclubs import ClubRow, SessionRow
from companion.store.schedules import ScheduleRow, iso

DEFAULT_TIME = time(18, 0)
_ALREADY = fmt("This channel already has a book club; `bookclub end` it first.")
THREAD_KIND, REMINDER_KIND = "bookclub-chapter", "bookclub-reminder"


@dataclass(frozen=True, slots=True)
class Pace:
    every_days: int
    weekday: int | None  # weekly on this day (0 = Monday), else every N days from the start
    at: time

    def opens(self, start: date, chapters: int) -> list[date]:
        """The local date of each chapter's discussion: one pace after reading starts."""
        if self.weekday is None:
            return [start + timedelta(days=self.every_days * k) for k in range(1, chapters + 1)]
        first = start + timedelta(days=(self.weekday - start.weekday() - 1) % 7 + 1)
        return [first + timedelta(weeks=k) for k in range(chapters)]


def parse_pace(words: list[str], default_days: int) -> Pace:
    if not words:
        return Pace(default_days, None, DEFAULT_TIME)
    if words[0] == "every" and len(words) in (3, 4) and words[2] in ("day", "days"):
        if not words[1].isdigit() or not 1 <= int(words[1]) <= 60:
            raise UserError(fmt("`every N days` takes N from 1 to 60."))
        at = parse_time(words[3]) if len(words) == 4 else DEFAULT_TIME
        return Pace(int(words[1]), None, at)
    if words[0] == "weekly" and len(words) == 3:
        day = parse_days(words[1])
        if len(day) != 1:
            raise UserError(fmt("A club meets on one day a week, e.g. `weekly thu 19:00`."))
        return Pace(7, day[0], parse_time(words[2]))
    raise UserError(fmt("Give the pace as `every 7 days [HH:MM]` or `weekly thu 19:00`."))


class BookClubs:
    def __init__(
        self, store: Store, scheduler: Scheduler, communities: Communities, plans: Plans
    ) -> None:
        self.store = store
        self.scheduler = scheduler
        self.communities = communities
        self.plans = plans
        scheduler.register(THREAD_KIND, self.render_chapter)
        scheduler.register(REMINDER_KIND, self.render_reminder)

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "bookclub",
                "This channel's book club: the book, this week's chapter, the next discussion",
                self.status,
                aliases=("bookclub status",),
                in_direct=False,
            ),
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
                        "every N days [HH:MM] or weekly DAY HH:MM; then optionally chapters N",
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
                ),
                in_direct=False,
            ),
            CommandSpec(
                "bookclub progress",
                "Mark how far you have read (only you see it)",
                self.progress,
                params=(
                    Param(
                        "chapter",
                        "The last chapter you finished",
                        ParamType.INT,
                        min_value=0,
                        max_value=200,
                    ),
                ),
                private=True,
                in_direct=False,
            ),
            CommandSpec(
                "bookclub prompts",
                "Prompts for the chapters you have reached, no further",
                self.prompts,
                private=True,
                in_direct=False,
            ),
            CommandSpec(
                "bookclub schedule",
                "Every chapter with its discussion date",
                self.schedule,
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

    # --- helpers --------------------------------------------------------------------------

    async def _club(self, inv: Invocation, repos: Repositories | None = None) -> ClubRow:
        repos = repos or self.store
        club = await repos.bookclubs.club_in_room(inv.place.platform, inv.place.room_id)
        if club is None:
            raise UserError(
                fmt(
                    "There is no book club in this channel. Moderators can start one "
                    "with `bookclub start the-wake-up YYYY-MM-DD`."
                )
            )
        return club

    def _local(self, club: ClubRow, at: str) -> str:
        moment = datetime.fromisoformat(at).astimezone(ZoneInfo(club.timezone))
        return moment.strftime("%a %d %b %Y, %H:%M ") + club.timezone

    async def _add_session_schedules(
        self,
        uow: UnitOfWork,
        place: Place,
        zone: ZoneInfo,
        chapter_day: date,
        at: time,
        by: str,
        now: datetime,
    ) -> tuple[str, int, int | None]:
        """The one-off thread schedule and, unless already past, the reminder a day before."""
        thread = await self.scheduler.add(
            place, THREAD_KIND, Recurrence("once", at, zone, chapter_day), "", by, repos=uow
        )
        reminder_day = chapter_day - timedelta(days=1)
        reminder_id = None
        if to_instant(datetime.combine(reminder_day, at), zone) > now:
            reminder = await self.scheduler.add(
                place, REMINDER_KIND, Recurrence("once", at, zone, reminder_day), "", by, repos=uow
            )
            reminder_id = reminder.id
        assert thread.next_run is not None
        return thread.next_run, thread.id, reminder_id

    async def _cancel(self, uow: UnitOfWork, schedule_ids: list[int | None]) -> None:
        for schedule_id in schedule_ids:
            if schedule_id is None:
                continue
            row = await uow.schedules.get(schedule_id)
            if row is not None and row.status in ("active", "paused"):
                await self.scheduler.set_status(row, "cancelled", repos=uow)

    # --- commands -------------------------------------------------------------------------

    async def start(self, inv: Invocation) -> Reply:
        plan = await self.plans.find(inv.place.community_id, str(inv.args["plan"]))
        start = parse_date(str(inv.args["date"]))
        zone = self.communities.zone(inv.place.community_id)
        if start < inv.at.astimezone(zone).date():
            raise UserError("That start date has passed; pick today or a later day.")
        words = str(inv.args.get("pace") or "").lower().split()
        chapters = plan.chapters or plan.min_chapters
        if len(words) >= 2 and words[-2] == "chapters":
            if not words[-1].isdigit() or not 1 <= int(words[-1]) <= 200:
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
                opens_at, thread_id, reminder_id = await self._add_session_schedules(
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
        unverified = (
            ""
            if plan.chapters
            else fmt(
                " (I know of {} chapters; if your copy has more, start again with `chapters N`)",
                plan.min_chapters,
            )
        )
        first = self._local_zone(zone, sessions[0][1])
        return Reply(
            fmt(
                "Book club started: {}, {} chapters{}. Reading starts {}; the chapter 1 "
                "discussion opens here {}, with a reminder the day before. "
                "`bookclub schedule` lists every date.",
                italic(plan.title),
                chapters,
                unverified,
                start.isoformat(),
                first,
            ),
            kind=Kind.CONFIRMATION,
        )

    def _local_zone(self, zone: ZoneInfo, at: str) -> str:
        moment = datetime.fromisoformat(at).astimezone(zone)
        return moment.strftime("%a %d %b %Y, %H:%M ") + zone.key

    async def status(self, inv: Invocation) -> Reply:
        club = await self._club(inv)
        sessions = await self.store.bookclubs.sessions(club.id)
        now = iso(inv.at)
        opened = [s for s in sessions if s.state == "planned" and s.opens_at <= now]
        upcoming = [s for s in sessions if s.state == "planned" and s.opens_at > now]
        plan = await self.plans.by_ref(club.community_id, club.plan_ref)
        parts: list[object] = [
            fmt("{} ({} chapters)", bold(fmt("Book club: {}", club.title)), club.chapters)
        ]
        current = opened[-1].chapter if opened else 1
        if opened:
            parts.append(
                fmt(
                    "This week: {} (discussion opened {})",
                    plan.chapter_label(current),
                    self._local(club, opened[-1].opens_at),
                )
            )
        if club.status == "paused":
            parts.append(fmt("The club is paused; a moderator can `bookclub resume` it."))
        elif upcoming:
            nxt = upcoming[0]
            parts.append(
                fmt(
                    "Next discussion: {}, {}",
                    plan.chapter_label(nxt.chapter),
                    self._local(club, nxt.opens_at),
                )
            )
        else:
            parts.append("Every chapter has been discussed.")
        done = await self.store.bookclubs.finished_count(club.id, current)
        people = "member has" if done == 1 else "members have"
        parts.append(fmt("{} {} marked chapter {} done.", done, people, current))
        return Reply(lines(*parts))

    async def progress(self, inv: Invocation) -> Reply:
        club = await self._club(inv)
        chapter = inv.number("chapter")
        if chapter > club.chapters:
            raise UserError(fmt("This book has {} chapters.", club.chapters))
        await self.store.bookclubs.set_progress(club.id, inv.actor.id, chapter, inv.at)
        if chapter == 0:
            return Reply(
                "Noted: you have not started yet. Only you can see this.", kind=Kind.CONFIRMATION
            )
        return Reply(
            fmt(
                "Noted: you have read up to chapter {} of {}. "
                "Only you can see this; `bookclub prompts` shows prompts up to there.",
                chapter,
                club.chapters,
            ),
            kind=Kind.CONFIRMATION,
        )

    async def prompts(self, inv: Invocation) -> Reply:
        club = await self._club(inv)
        reached = await self.store.bookclubs.progress(club.id, inv.actor.id)
        if reached == 0:
            raise UserError(
                fmt(
                    "Tell me how far you have read first, with `bookclub progress "
                    "<chapter>`: I only show prompts for chapters you have reached."
                )
            )
        plan = await self.plans.by_ref(club.community_id, club.plan_ref)
        found = await self.plans.prompts(plan, 1, reached)
        if not found:
            return Reply(fmt("There are no prompts yet for chapters 1 to {}.", reached))
        return Reply(
            lines(
                fmt("**Prompts up to chapter {}** (nothing past where you are)", reached),
                bullets(fmt("{}: {}", plan.chapter_label(c), text) for c, text in found),
            ),
            kind=Kind.PROMPT,
        )

    async def schedule(self, inv: Invocation) -> Reply:
        club = await self._club(inv)
        plan = await self.plans.by_ref(club.community_id, club.plan_ref)
        note = {"planned": "", "skipped": " (skipped)", "cancelled": " (cancelled)"}
        items = [
            fmt(
                "{} · {}{}",
                plan.chapter_label(session.chapter),
                self._local(club, session.opens_at),
                note[session.state],
            )
            for session in await self.store.bookclubs.sessions(club.id)
        ]
        parts: list[object] = [fmt("{}: the discussions", bold(club.title)), bullets(items)]
        if club.status == "paused":
            parts.append("Paused: these dates move on by the length of the pause.")
        return Reply(lines(*parts), kind=Kind.LIST)

    async def pause(self, inv: Invocation) -> Reply:
        async with self.store.unit_of_work() as uow:
            club = await self._club(inv, uow)
            if club.status == "paused":
                raise UserError("The club is already paused.")
            for session in await self._future(uow, club, inv.at):
                for schedule_id in (session.thread_schedule_id, session.reminder_schedule_id):
                    row = await uow.schedules.get(schedule_id) if schedule_id else None
                    if row is not None and row.status == "active":
                        await self.scheduler.set_status(row, "paused", repos=uow)
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
            club = await self._club(inv, uow)
            if club.status != "paused" or club.paused_at is None:
                raise UserError("The club is not paused.")
            paused_at = datetime.fromisoformat(club.paused_at)
            zone = ZoneInfo(club.timezone)
            # Shift by the local days the pause covered: paused Tuesday, resumed Friday = 3.
            shift = inv.at.astimezone(zone).date() - paused_at.astimezone(zone).date()
            here = Place(club.platform, club.community_id, club.room_id)
            for session in await self._future(uow, club, paused_at):
                await self._cancel(uow, [session.thread_schedule_id, session.reminder_schedule_id])
                local = datetime.fromisoformat(session.opens_at).astimezone(zone)
                opens_at, thread_id, reminder_id = await self._add_session_schedules(
                    uow, here, zone, local.date() + shift, local.time(), inv.actor.id, inv.at
                )
                changes.append(
                    (club.id, session.chapter, opens_at, "planned", thread_id, reminder_id)
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
            club = await self._club(inv, uow)
            future = await self._future(uow, club, inv.at)
            if not future:
                raise UserError("There is no discussion left to skip.")
            session = future[0]
            await self._cancel(uow, [session.thread_schedule_id, session.reminder_schedule_id])
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
            club = await self._club(inv, uow)
            for session in await self._future(uow, club, inv.at):
                await self._cancel(uow, [session.thread_schedule_id, session.reminder_schedule_id])
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

    async def _future(self, uow: UnitOfWork, club: ClubRow, after: datetime) -> list[SessionRow]:
        return [
            s
            for s in await uow.bookclubs.sessions(club.id)
            if s.state == "planned" and s.opens_at > iso(after)
        ]

    # --- what the scheduler posts -----------------------------------------------------------

    async def _session(self, row: ScheduleRow) -> tuple[SessionRow, ClubRow, PlanView]:
        found = await self.store.bookclubs.session_for_schedule(row.id)
        if found is None:
            raise RuntimeError(f"schedule {row.id} belongs to no book club session")
        session, club = found
        return session, club, await self.plans.by_ref(club.community_id, club.plan_ref)

    async def render_chapter(self, row: ScheduleRow, due: datetime) -> Action:
        session, club, plan = await self._session(row)
        label = plan.chapter_label(session.chapter)
        title = f"{club.title}: {label}"
        if len(title) > 100:
            title = f"{club.title[: 98 - len(label)].rstrip()}… {label}"[:100]
        prompts = await self.plans.prompts(plan, session.chapter, session.chapter)
        parts: list[object] = [bold(f"{club.title}, {label}")]
        if prompts:
            parts += ["Some questions to start with:", bullets(t for _, t in prompts)]
        else:
            parts.append(
                "No prompts were written for this chapter yet: share what stayed with you."
            )
        parts.append(
            fmt(
                "\nMark how far you have read (only you see it): {}",
                code(f"bookclub progress {session.chapter}"),
            )
        )
        return Thread(title, lines(*parts), kind=Kind.DISCUSSION)

    async def render_reminder(self, row: ScheduleRow, due: datetime) -> Action:
        session, club, plan = await self._session(row)
        when = self._local(club, session.opens_at)
        return Post(
            fmt(
                "Reminder: the discussion of {} of {} opens here tomorrow ({}). "
                "`bookclub progress <chapter>` marks how far you have read, privately.",
                plan.chapter_label(session.chapter),
                italic(club.title),
                when,
            ),
            kind=Kind.REMINDER,
        )
