"""`schedule ...`: moderators plan reflection posts and discussion threads in local time."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from companion.commands import CommandSpec, Param, ParamType, UserError
from companion.content import Content
from companion.delivery import Action, Post, PostKind, Thread
from companion.events import Invocation, Kind, Reply
from companion.features.communities import Communities, complete_zone, parse_zone
from companion.features.prompts import Prompts, render
from companion.features.reflections import Reflections
from companion.features.reflections import render as render_reflection
from companion.fmt import Md, bullets, code, fmt, lines
from companion.recurrence import DAY_NAMES, Recurrence, shown
from companion.scheduler import PASSED, Scheduler, describe
from companion.store import Store
from companion.store.schedules import ScheduleRow

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
THREAD_TITLE = 100


def parse_time(text: str) -> time:
    match = _TIME.match(text.strip())
    if not match:
        shown = code(text.strip()[:20])
        raise UserError(fmt("{} is not a time: use HH:MM, from 00:00 to 23:59.", shown))
    return time(int(match.group(1)), int(match.group(2)))


def parse_days(text: str) -> tuple[int, ...]:
    days: set[int] = set()
    for part in re.split(r"[,\s]+", text.strip().lower()):
        if not part:
            continue
        found = [i for i, name in enumerate(DAY_NAMES) if part.startswith(name) or name == part]
        if not found:
            names = ", ".join(DAY_NAMES)
            raise UserError(fmt("{} is not a day: use {} (e.g. tue,thu).", code(part[:20]), names))
        days.update(found)
    if not days:
        raise UserError(fmt("Name at least one day, e.g. `weekly tue,thu 19:30`."))
    return tuple(sorted(days))


MAX_YEARS_AHEAD = 10  # a start further ahead would run a plan's dates past year 9999


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(fmt("{} is not a date: use YYYY-MM-DD.", code(text[:20]))) from None


RULES = ("once", "daily", "weekly")
SHAPES = {"once": "YYYY-MM-DD HH:MM", "daily": "HH:MM", "weekly": "DAYS HH:MM"}


def parse_when(
    rule: str, words: list[str], zone: ZoneInfo, now: datetime, *, then: Md
) -> tuple[Recurrence, list[str]]:
    """``once YYYY-MM-DD HH:MM``, ``daily HH:MM`` or ``weekly DAYS HH:MM`` (the words after
    the rule) in ``zone``: the recurrence, with a future occurrence, and the words left over.
    ``then`` names what may follow, for the error message."""
    if rule not in RULES:
        raise UserError(fmt("{} is not a rule: use once, daily or weekly.", code(rule[:20])))
    need = {"once": 2, "daily": 1, "weekly": 2}[rule]
    if len(words) < need:
        raise UserError(fmt("After {} write {}, then {}.", code(rule), SHAPES[rule], then))
    at = parse_time(words[need - 1])
    today = now.astimezone(zone).date()
    if rule == "once":
        day = parse_date(words[0])
        # Checked on the date, before any instant is computed: one at either end of the
        # calendar has none in UTC (0001-01-01 in Berlin), nor a reminder the day before.
        if day < today:
            raise UserError(PASSED)
        if day.year > today.year + MAX_YEARS_AHEAD:
            raise UserError(fmt("That date is too far ahead; pick one within ten years."))
        recurrence = Recurrence("once", at, zone, day)
    elif rule == "weekly":
        recurrence = Recurrence("weekly", at, zone, today, parse_days(words[0]))
    else:
        recurrence = Recurrence("daily", at, zone, today)
    if recurrence.next_after(now) is None:
        raise UserError(PASSED)
    return recurrence, words[need:]


class Schedules:
    def __init__(
        self,
        store: Store,
        scheduler: Scheduler,
        communities: Communities,
        reflections: Reflections,
        prompts: Prompts,
        content: Content,
    ) -> None:
        self.store = store
        self.scheduler = scheduler
        self.communities = communities
        self.reflections = reflections
        self.prompts = prompts
        self.content = content

    def post_kinds(self) -> list[PostKind]:
        return [
            PostKind("reflection", self.render_reflection, prepare=self.prepare_reflections),
            PostKind("discussion", self.render_discussion, self.discussion_sent),
        ]

    def commands(self) -> list[CommandSpec]:
        ident = Param("id", "The schedule number (see `schedule list`)", ParamType.INT, min_value=1)
        return [
            CommandSpec(
                "schedule reflection",
                "Post the day's reflection question here every day at a local time",
                self.add_reflection,
                params=(
                    Param("time", "HH:MM, 24-hour", max_length=10),
                    Param(
                        "zone",
                        "IANA time zone (default: the community's)",
                        required=False,
                        complete=complete_zone,
                    ),
                ),
                moderator_only=True,
                in_direct=False,
                examples=("schedule reflection 09:00", "schedule reflection 08:30 Europe/Berlin"),
            ),
            CommandSpec(
                "schedule discussion",
                "Open a discussion thread here: once, daily or weekly, with a prompt or the next",
                self.add_discussion,
                params=(
                    Param("rule", "once, daily or weekly", choices=("once", "daily", "weekly")),
                    Param(
                        "when",
                        "once: YYYY-MM-DD HH:MM; daily: HH:MM; weekly: DAYS HH:MM, "
                        "then a prompt id or next",
                        ParamType.TEXT,
                        rest=True,
                        max_length=200,
                    ),
                ),
                moderator_only=True,
                in_direct=False,
                examples=(
                    "schedule discussion weekly thu 19:30 next",
                    "schedule discussion once 2026-12-01 18:00 power-at-work",
                ),
            ),
            CommandSpec(
                "schedule list",
                "What is planned here, with the next times",
                self.list_,
                in_direct=False,
            ),
            CommandSpec(
                "schedule cancel",
                "Cancel a schedule",
                self.cancel,
                params=(ident,),
                moderator_only=True,
                in_direct=False,
            ),
            CommandSpec(
                "schedule pause",
                "Pause a schedule",
                self.pause,
                params=(ident,),
                moderator_only=True,
                in_direct=False,
            ),
            CommandSpec(
                "schedule resume",
                "Resume a paused schedule from now on",
                self.resume,
                params=(ident,),
                moderator_only=True,
                in_direct=False,
            ),
        ]

    # --- commands -----------------------------------------------------------------------

    async def add_reflection(self, inv: Invocation) -> Reply:
        at = parse_time(str(inv.args["time"]))
        zone_name = inv.args.get("zone")
        zone = (
            parse_zone(str(zone_name))
            if zone_name
            else self.communities.zone(inv.place.community_id)
        )
        today = inv.at.astimezone(zone).date()
        recurrence = Recurrence("daily", at, zone, today)
        await self._refuse_a_twin(inv, "reflection", recurrence, "")
        row = await self.scheduler.add(inv.place, "reflection", recurrence, "", inv.actor.id)
        return Reply(
            fmt(
                "Planned #{}: the reflection question {}. First post: {}.",
                row.id,
                describe(row),
                self.local(row),
            ),
            kind=Kind.CONFIRMATION,
        )

    async def add_discussion(self, inv: Invocation) -> Reply:
        rule = str(inv.args["rule"])
        words = str(inv.args["when"]).split()
        zone = self.communities.zone(inv.place.community_id)
        recurrence, rest = parse_when(rule, words, zone, inv.at, then=fmt("a prompt id or `next`"))
        if len(rest) > 1:
            raise UserError(fmt("Too many words: give the time, then one prompt id or `next`."))
        choice = rest[0] if rest else "next"
        if choice.lower() == "next":
            payload, what = "next", "the next unused prompt"
        else:
            view = await self.prompts.find(inv.place.community_id, choice)
            payload, what = view.ref, fmt("prompt {}", code(view.shown_id))
        await self._refuse_a_twin(inv, "discussion", recurrence, payload)
        row = await self.scheduler.add(inv.place, "discussion", recurrence, payload, inv.actor.id)
        return Reply(
            fmt(
                "Planned #{}: a discussion thread with {}, {}. First one: {}.",
                row.id,
                what,
                describe(row),
                self.local(row),
            ),
            kind=Kind.CONFIRMATION,
        )

    async def _refuse_a_twin(
        self, inv: Invocation, kind: str, recurrence: Recurrence, payload: str
    ) -> None:
        """The same post planned twice for one room (the command sent twice, a client's
        retry) would reach the members twice at the same minute."""
        place = (inv.place.room_id, inv.place.thread_id)
        await self._refuse_twin_of(inv, kind, place, payload, recurrence.describe(), None)

    async def _refuse_twin_of(
        self,
        inv: Invocation,
        kind: str,
        place: tuple[str, str | None],
        payload: str,
        shown: str,
        itself: int | None,
    ) -> None:
        for row in await self.store.schedules.for_community(inv.place.community_id):
            same = (row.kind, (row.room_id, row.thread_id), row.payload, row.status)
            if same == (kind, place, payload, "active") and row.id != itself:
                if describe(row) == shown:
                    raise UserError(
                        fmt("That is planned here already: #{}, {}.", row.id, describe(row))
                    )

    async def list_(self, inv: Invocation) -> Reply:
        rows = await self.store.schedules.for_community(inv.place.community_id)
        clubs = {r.room_id for r in rows if r.kind.startswith("bookclub-")}
        walking = any(r.kind.startswith("challenge-") for r in rows)
        # Only what `schedule` plans: clubs, challenges, events and polls list their own.
        rows = [r for r in rows if r.kind in ("reflection", "discussion")]
        if not rows and not clubs and not walking:
            return Reply(
                fmt(
                    "Nothing is planned here yet. Moderators can start with "
                    "`schedule reflection 09:00`."
                ),
                kind=Kind.LIST,
            )
        items = []
        for row in rows:
            what = "Reflection question" if row.kind == "reflection" else "Discussion thread"
            status = f"next: {self.local(row)}" if row.status == "active" else "paused"
            line = fmt("**#{}** {}, {} · {}", row.id, what, describe(row), status)
            if row.status == "paused" and row.status_reason and inv.actor.is_moderator:
                resume = code(f"schedule resume {row.id}")
                line += fmt(" (why: {}; {})", row.status_reason[:300], resume)
            items.append(line)
        if clubs:
            items.append(
                fmt(
                    "Book club discussions in {} channel(s): `bookclub schedule` "
                    "in the club's channel lists them",
                    len(clubs),
                )
            )
        if walking:
            items.append(fmt("A challenge's days: `challenge` shows where it is"))
        return Reply(lines(fmt("**Planned here**"), bullets(items)), kind=Kind.LIST)

    async def _own(self, inv: Invocation) -> ScheduleRow:
        row = await self.store.schedules.planned(inv.place.community_id, inv.number("id"))
        if row is None:
            raise UserError(
                fmt("There is no schedule #{} here (see `schedule list`).", inv.args["id"])
            )
        return row

    async def cancel(self, inv: Invocation) -> Reply:
        row = await self._own(inv)
        await self.scheduler.set_status(row, "cancelled")
        return Reply(fmt("Cancelled #{}.", row.id), kind=Kind.CONFIRMATION)

    async def pause(self, inv: Invocation) -> Reply:
        row = await self._own(inv)
        if row.status == "paused":
            raise UserError(fmt("#{} is already paused.", row.id))
        await self.scheduler.set_status(row, "paused")
        resume = code(f"schedule resume {row.id}")
        return Reply(fmt("Paused #{}. {} starts it again.", row.id, resume), kind=Kind.CONFIRMATION)

    async def resume(self, inv: Invocation) -> Reply:
        row = await self._own(inv)
        if row.status == "active":
            raise UserError(fmt("#{} is not paused.", row.id))
        # Planned again while it was paused: resuming it would post everything twice.
        place = (row.room_id, row.thread_id)
        await self._refuse_twin_of(inv, row.kind, place, row.payload, describe(row), row.id)
        row = await self.scheduler.set_status(row, "active")
        if row.status != "active":
            return Reply(fmt("#{} has no more dates to post, so it is finished.", row.id))
        return Reply(fmt("Resumed #{}; next: {}.", row.id, self.local(row)), kind=Kind.CONFIRMATION)

    def local(self, row: ScheduleRow) -> str:
        if not row.next_run:
            return "none"
        return shown(row.next_run, ZoneInfo(row.timezone))

    # --- what a due schedule posts --------------------------------------------------------

    async def prepare_reflections(self, due: list[tuple[ScheduleRow, datetime]]) -> None:
        await self.reflections.for_days([(row.community_id, self._day(row, at)) for row, at in due])

    def _day(self, row: ScheduleRow, due: datetime) -> date:
        return due.astimezone(self.communities.zone(row.community_id)).date()

    async def render_reflection(self, row: ScheduleRow, due: datetime) -> Action:
        question = await self.reflections.for_day(row.community_id, self._day(row, due))
        text = render_reflection(question, self.content, heading="Today's reflection")
        return Post(text, kind=Kind.REFLECTION)

    async def render_discussion(self, row: ScheduleRow, due: datetime) -> Action:
        view = None
        if row.payload != "next":
            shown = await self.prompts.shown_for(row.community_id, due)
            # Removed since it was planned, or tied to a chapter the club here has not read
            # yet: take the next one instead.
            view = next((v for v in shown if v.ref == row.payload), None)
        if view is None:
            view = await self.prompts.next_unused(row.community_id, due)
        title = view.title if len(view.title) <= THREAD_TITLE else view.title[:99] + "…"
        return Thread(title, render(view, self.content), meta=view.ref, kind=Kind.PROMPT)

    async def discussion_sent(self, row: ScheduleRow, due: datetime, action: Action) -> None:
        if action.meta:
            await self.prompts.mark_used(row.community_id, action.meta, due)
