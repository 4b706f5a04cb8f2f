"""The chapter schedule: each chapter's discussion thread and the reminder the day before
are one-off schedules, so the scheduler's guarantees hold (posted once, in local time,
surviving restarts). This module adds, cancels and lists them, and renders what they post.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from companion.delivery import Action, Post, PostKind, Thread
from companion.events import Kind, Place
from companion.features.bookclub.clubs import local
from companion.features.bookclub.plans import Plans, PlanView
from companion.features.events.timing import next_at
from companion.fmt import Md, bold, bullets, code, fmt, italic, lines
from companion.recurrence import Recurrence, shown, to_instant
from companion.scheduler import Scheduler
from companion.store import Store, UnitOfWork
from companion.store.bookclubs import ClubRow, SessionRow
from companion.store.events import EventRow
from companion.store.schedules import ScheduleRow, iso

THREAD_KIND, REMINDER_KIND = "bookclub-chapter", "bookclub-reminder"


class ChapterSchedule:
    def __init__(self, store: Store, scheduler: Scheduler, plans: Plans) -> None:
        self.store = store
        self.scheduler = scheduler
        self.plans = plans

    def post_kinds(self) -> list[PostKind]:
        return [
            PostKind(THREAD_KIND, self.render_chapter),
            PostKind(REMINDER_KIND, self.render_reminder),
        ]

    async def add(
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

    async def pause(self, uow: UnitOfWork, session: SessionRow) -> None:
        """Pause a session's thread and reminder schedules that are active."""
        await self._set_status(uow, session, "paused", ("active",))

    async def cancel(self, uow: UnitOfWork, session: SessionRow) -> None:
        """Cancel a session's thread and reminder schedules, unless already done."""
        await self._set_status(uow, session, "cancelled", ("active", "paused"))

    async def _set_status(
        self, uow: UnitOfWork, session: SessionRow, status: str, among: tuple[str, ...]
    ) -> None:
        for schedule_id in (session.thread_schedule_id, session.reminder_schedule_id):
            row = await uow.schedules.get(schedule_id) if schedule_id else None
            if row is not None and row.status in among:
                await self.scheduler.set_status(row, status, repos=uow)

    async def future(self, uow: UnitOfWork, club: ClubRow, after: datetime) -> list[SessionRow]:
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
        meeting = (await self.store.bookclubs.meetings(club.id)).get(session.chapter)
        event = await self.store.events.get(club.community_id, meeting) if meeting else None
        if event is not None and event.status == "planned":
            parts.append(meeting_line(event, self.scheduler.clock.now()))
        parts.append(
            fmt(
                "\nMark how far you have read (only you see it): {}",
                code(f"bookclub progress {session.chapter}"),
            )
        )
        return Thread(title, lines(*parts), kind=Kind.DISCUSSION)

    async def render_reminder(self, row: ScheduleRow, due: datetime) -> Action:
        session, club, plan = await self._session(row)
        when = local(club, session.opens_at)
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


def meeting_line(event: EventRow, now: datetime) -> Md:
    """The chapter's meeting as it stands when the thread is posted: it may have been moved
    to another day (`event edit`) since the club planned it on the discussion day."""
    upcoming = next_at(event, now)
    if upcoming is None:
        return fmt("This chapter's meeting (event #{}) has already taken place.", event.id)
    zone = ZoneInfo(event.timezone)
    when = upcoming.astimezone(zone)
    rsvp = code(f"event rsvp {event.id} yes")
    place = event.location or "here"
    if when.date() == now.astimezone(zone).date():
        return fmt(
            "Meeting today at {} ({}): say whether you come with {}.",
            when.strftime("%H:%M"),
            place,
            rsvp,
        )
    return fmt("Meeting on {} ({}): say whether you come with {}.", shown(when, zone), place, rsvp)
