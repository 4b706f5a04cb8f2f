"""Schedules: a calendar of the next 30 days in the community's time zone, and the forms
that pause, resume, cancel and create schedules (through the `schedule ...` commands).

The calendar reads the store's planned schedules and book-club sessions directly: the
chat renders them only as text, and the schedules and book club features are not on the
app the pages are given. The reads are scoped to the signed-in community; every change
goes through a command."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from companion.features.bookclub.chapters import REMINDER_KIND, THREAD_KIND
from companion.features.challenges.days import DAY_KIND as CHALLENGE_DAY
from companion.features.challenges.days import TICK_KIND as CHALLENGE_TICK
from companion.recurrence import DAY_NAMES, shown, to_instant
from companion.scheduler import describe, recurrence_of
from companion.store.schedules import ScheduleRow
from companion.web.context import Ctx, community_ctx
from companion.web.guard import path_id

DAYS_SHOWN = 30
MAX_PER_SCHEDULE = 62  # two a day for a month is the most a calendar cell shows


@dataclass(slots=True)
class Entry:
    at: str  # HH:MM local
    label: str
    schedule_id: int


@dataclass(slots=True)
class Day:
    day: date
    today: bool
    entries: list[Entry] = field(default_factory=list)

    @property
    def heading(self) -> str:
        return self.day.strftime("%a %d %b")


def setup(router: web.UrlDispatcher) -> None:
    router.add_get("/c/{community}/schedules", page)
    router.add_post("/c/{community}/schedules/reflection", create_reflection)
    router.add_post("/c/{community}/schedules/discussion", create_discussion)
    router.add_post("/c/{community}/schedules/{id:\\d+}/{action:pause|resume|cancel}", change)


def occurrences(row: ScheduleRow, start: datetime, end: datetime) -> list[datetime]:
    """The schedule's posting times from its next run up to ``end`` (UTC instants)."""
    if row.status != "active" or not row.next_run:
        return []
    recurrence = recurrence_of(row)
    found: list[datetime] = []
    moment: datetime | None = datetime.fromisoformat(row.next_run)
    while moment is not None and moment < end and len(found) < MAX_PER_SCHEDULE:
        if moment >= start:
            found.append(moment)
        moment = recurrence.next_after(moment)
    return found


async def _labels(ctx: Ctx) -> dict[int, str]:
    """Book-club schedules by id: which chapter of which book they open or remind of."""
    labels: dict[int, str] = {}
    for club in await ctx.app.store.bookclubs.clubs_in_community(ctx.community_id):
        for session in await ctx.app.store.bookclubs.sessions(club.id):
            if session.thread_schedule_id:
                labels[session.thread_schedule_id] = (
                    f"Book club: {club.title}, chapter {session.chapter} discussion"
                )
            if session.reminder_schedule_id:
                labels[session.reminder_schedule_id] = (
                    f"Book club: {club.title}, reminder for chapter {session.chapter}"
                )
    return labels


def _what(row: ScheduleRow, labels: dict[int, str]) -> str:
    if row.id in labels:
        return labels[row.id]
    if row.kind in (THREAD_KIND, REMINDER_KIND):
        return "Book club"
    if row.kind == CHALLENGE_DAY:
        return f"Challenge: day {row.payload.partition(':')[2]} opens"
    return "Reflection question" if row.kind == "reflection" else "Discussion thread"


def _local(row: ScheduleRow) -> str:
    if not row.next_run:
        return "none"
    return shown(row.next_run, ZoneInfo(row.timezone))


async def page(request: web.Request) -> web.Response:
    ctx = await community_ctx(request)
    zone = ctx.app.communities.zone(ctx.community_id)
    now = ctx.state.now()
    today = now.astimezone(zone).date()
    end = to_instant(datetime.combine(today + timedelta(days=DAYS_SHOWN), time()), zone)
    rows = [
        r
        for r in await ctx.app.store.schedules.for_community(ctx.community_id)
        if r.platform == ctx.session.platform
        and r.status in ("active", "paused")
        and not r.kind.startswith(("event-", "poll-"))  # events and polls list their own
    ]
    labels = await _labels(ctx)
    days = [Day(today + timedelta(days=n), n == 0) for n in range(DAYS_SHOWN)]
    for row in rows:
        if row.kind == CHALLENGE_TICK:  # a round of private messages: nothing in the room
            continue
        for moment in occurrences(row, now, end):
            local = moment.astimezone(zone)
            index = (local.date() - today).days
            if 0 <= index < DAYS_SHOWN:
                days[index].entries.append(
                    Entry(local.strftime("%H:%M"), _what(row, labels), row.id)
                )
    for day in days:
        day.entries.sort(key=lambda e: e.at)
    listed = [
        (row, _what(row, labels), describe(row), _local(row))
        for row in rows
        if row.kind not in (THREAD_KIND, REMINDER_KIND, CHALLENGE_DAY, CHALLENGE_TICK)
    ]
    chosen = request.query.get("date", "")
    return ctx.render(
        "schedules.html",
        "schedules",
        zone=zone.key,
        days=days,
        listed=listed,
        chosen=chosen if _is_date(chosen) else "",
        day_names=DAY_NAMES,
    )


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


async def create_reflection(request: web.Request) -> web.Response:
    ctx = await community_ctx(request, write=True)
    await ctx.run("schedule reflection", time=ctx.field("time"), zone=ctx.field("zone") or None)
    ctx.back("schedules")


async def create_discussion(request: web.Request) -> web.Response:
    """The form's fields become the chat command's words; the command checks them."""
    ctx = await community_ctx(request, write=True)
    rule = ctx.field("rule")
    at = ctx.field("time").strip()
    prompt = ctx.field("prompt").strip() or "next"
    days = ",".join(d for d in (ctx.form.getall("days", []) if ctx.form else []) if d)
    missing = {
        "once": "Pick the date of the discussion." if not ctx.field("date").strip() else "",
        "weekly": "Tick at least one day of the week." if not days else "",
    }.get(rule, "")
    if not at:
        missing = "Pick the time of the discussion."
    if missing:
        ctx.flash(missing, error=True)
        ctx.back("schedules", "#create")
    first = {"once": ctx.field("date").strip(), "weekly": days}.get(rule, "")
    when = " ".join(part for part in (first, at, prompt) if part)
    await ctx.run("schedule discussion", rule=rule, when=when)
    ctx.back("schedules")


async def change(request: web.Request) -> web.Response:
    ctx = await community_ctx(request, write=True)
    schedule_id = path_id(request)
    row = await ctx.app.store.schedules.planned(ctx.community_id, schedule_id)
    if row is None:
        ctx.not_found(f"schedule #{schedule_id}")
    await ctx.run(f"schedule {request.match_info['action']}", id=schedule_id)
    ctx.back("schedules")
