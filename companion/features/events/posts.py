"""What the scheduler sends for events: the announcement (a thread where the platform opens
threads), the reminders before each occurrence and the notice of a change, both private;
the announcement's edits showing the counts (coalesced: ``refresh``) and the platform's own
scheduled event (made, moved, cancelled).

Every one of them is a scheduled occurrence, claimed before it is sent, so it goes out once
across restarts and processes. A reminder or change notice writes one stored notice per
member, remembered under the occurrence's key in the same transaction: an occurrence resent
after a crash finds the notices it already wrote and delivers only those not yet delivered,
each under its own idempotency key.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from companion.delivery import Action, PostKind, Silent, Thread
from companion.events import Kind, MessageRef, Place
from companion.features.events.native import NEXT, NativeEvents
from companion.features.events.timing import (
    ahead,
    next_at,
    place_of,
    recurrence,
    reminded,
    shifted,
)
from companion.fmt import Md, bold, code, fmt, lines, stored
from companion.notices import Notices
from companion.ports import (
    Announcements,
    PostError,
    TransientFailure,
    capability,
)
from companion.recurrence import shown
from companion.scheduler import Scheduler, occurrence_key
from companion.store import Repositories, Store
from companion.store.events import Counts, EventRow
from companion.store.schedules import ScheduleRow

ANNOUNCE, REMINDER, CHANGE = "event-announce", "event-reminder", "event-change"
REFRESH = "event-refresh"  # the announcement's edit showing the counts, coalesced
REFRESH_KV, EDIT_EVERY = "event-refresh:", timedelta(seconds=5)
REFRESH_GRACE = timedelta(days=30)  # after any downtime, the latest counts are still shown
MAX_GRACE = timedelta(hours=6)

log = logging.getLogger(__name__)


def where(event: EventRow) -> Md:
    """The location as typed, as text: a link a moderator typed is never made a live link
    by the bot (clients may link it, as in anyone's message, showing where it goes)."""
    shown = event.location.strip()
    return fmt("{}", shown) if shown else fmt("not given")


def counts_line(counts: Counts) -> Md:
    return fmt("{} yes · {} maybe · {} no", counts.yes, counts.maybe, counts.no)


def summary(event: EventRow, now: datetime) -> Md:
    """When an event is, in words and its next time."""
    upcoming = next_at(event, now)
    rule = recurrence(event)
    nxt = shown(upcoming, rule.zone) if upcoming else "none"
    if event.rule == "once":
        return fmt("{}", nxt)
    return fmt("{}; next {}", rule.describe(), nxt)


class EventPosts:
    def __init__(self, store: Store, scheduler: Scheduler, notices: Notices) -> None:
        self.store = store
        self.scheduler = scheduler
        self.notices = notices
        self.native = NativeEvents(store, scheduler)

    def post_kinds(self) -> list[PostKind]:
        return [
            PostKind(ANNOUNCE, self.render_announcement),
            PostKind(REMINDER, self.render_reminder),
            PostKind(CHANGE, self.render_change),
            PostKind(REFRESH, self.render_refresh),
            *self.native.post_kinds(),
        ]

    # --- planning what will be sent (inside the command's unit of work) -------------------

    async def announce(self, uow: Repositories, event: EventRow, by: str) -> None:
        await self.scheduler.add_now(place_of(event), ANNOUNCE, str(event.id), by, repos=uow)

    async def plan_reminders(
        self, uow: Repositories, event: EventRow, leads: tuple[int, ...], by: str
    ) -> None:
        """One reminder schedule per lead time (minutes before each occurrence)."""
        ids = []
        for minutes in leads:
            rule = shifted(recurrence(event), minutes)
            if rule.next_after(self.scheduler.clock.now()) is None:
                continue  # a one-off event sooner than this lead time
            grace = min(timedelta(minutes=minutes), MAX_GRACE)  # never after it began
            row = await self.scheduler.add(
                place_of(event), REMINDER, rule, f"{event.id}:{minutes}", by, grace=grace, repos=uow
            )
            ids.append(row.id)
        if event.rule != "once":  # a recurring event's next meeting, as each one ends
            ends = shifted(recurrence(event), -event.minutes)
            if ends.next_after(self.scheduler.clock.now()) is not None:
                row = await self.scheduler.add(
                    place_of(event), NEXT, ends, str(event.id), by, grace=MAX_GRACE, repos=uow
                )
                ids.append(row.id)
        await uow.events.set_reminders(event.community_id, event.id, ids)

    async def cancel_reminders(self, uow: Repositories, event: EventRow) -> None:
        for schedule_id in event.reminder_ids:
            row = await uow.schedules.get(schedule_id)
            if row is not None and row.status in ("active", "paused"):
                await self.scheduler.set_status(row, "cancelled", repos=uow)

    async def tell(self, uow: Repositories, event: EventRow, text: Md, by: str) -> None:
        """Tell those who said yes, privately (a move, a cancellation)."""
        await self.scheduler.add_now(place_of(event), CHANGE, f"{event.id}\n{text}", by, repos=uow)

    # --- what the scheduler sends ---------------------------------------------------------

    def announcement(
        self, event: EventRow, counts: Counts, now: datetime, *, reactions: bool = False
    ) -> Md:
        if event.status != "planned":
            return lines(
                fmt("**Event #{}: {}**", event.id, event.title),
                fmt("This event is cancelled."),
            )
        react = fmt(", or react here with ✅ (yes), ❔ (maybe) or ❌ (no)") if reactions else ""
        return lines(
            fmt("**Event #{}: {}**", event.id, event.title),
            fmt("When: {}", summary(event, now)),
            fmt("Where: {}", where(event)),
            fmt("Answers so far: {}", counts_line(counts)),
            fmt(
                "Say whether you come with {} (or `maybe`, `no`){}: only the counts are "
                "shown, never names, and those who say yes or maybe get a private reminder "
                "before.",
                code(f"event rsvp {event.id} yes"),
                react,
            ),
        )

    def _announcements(self, platform: str) -> Announcements | None:
        port = self.scheduler.ports.get(platform)
        return capability(port, Announcements) if port is not None else None

    async def render_announcement(self, row: ScheduleRow, due: datetime) -> Action:
        event = await self.store.events.get(row.community_id, int(row.payload))
        if event is None or event.status != "planned":
            return Silent()
        counts = (await self.store.events.counts([event.id]))[event.id]
        await self.native.create(event, due, occurrence_key(row.id, due))
        native = self._announcements(row.platform)
        if native is not None:  # members answer by reacting to it; it shows the counts
            text = self.announcement(event, counts, due, reactions=True)
            text = self.scheduler.ports.render(row.platform, text)
            key = occurrence_key(row.id, due)
            ref = await native.announce(place_of(event), event.title, text, key=key)
            await self.store.events.set_native(event.community_id, event.id, ref=ref.message_id)
            return Silent()
        return Thread(event.title, self.announcement(event, counts, due), kind=Kind.DISCUSSION)

    async def refresh(self, uow: Repositories, event: EventRow) -> None:
        """Show the current counts (or the change) in the event's announcement, where the
        platform lets the bot edit it, in the caller's unit of work (with the answer or the
        change, so a crash cannot lose it).

        Coalesced: at most one edit per announcement every ``EDIT_EVERY``, each showing the
        counts as they are when it goes out, so a burst of answers makes two edits, not one
        per answer (Discord's and Matrix's rate limits), and the last one shows them all. A
        refresh already waiting covers this one; otherwise one is planned for now, or for
        ``EDIT_EVERY`` after the last one. It waits in the schedule table (the outbox), so a
        restart sends it."""
        if event.native_ref is None:
            return
        key = f"{REFRESH_KV}{event.id}"
        now = self.scheduler.clock.now()
        due = now
        last = await uow.kv.get(key)
        if last is not None:
            pending, _, when = last.partition(" ")
            row = await uow.schedules.get(int(pending))
            if row is not None and row.next_run is not None and row.status == "active":
                return  # not claimed yet: it reads the counts as it goes out
            due = max(now, datetime.fromisoformat(when) + EDIT_EVERY)
        due = due.replace(microsecond=0) + timedelta(seconds=bool(due.microsecond))
        schedule_id = await self.scheduler.add_now(
            place_of(event),
            REFRESH,
            str(event.id),
            event.created_by or "companion",
            repos=uow,
            due=due,
            grace=REFRESH_GRACE,
        )
        await uow.kv.set(key, f"{schedule_id} {due.isoformat()}")

    async def render_refresh(self, row: ScheduleRow, due: datetime) -> Action:
        """The announcement's edit: the counts (or the change) as they are now; a platform
        that refuses the edit for good costs only this refresh, a transient failure is
        retried (the scheduler's backoff)."""
        event = await self.store.events.get(row.community_id, int(row.payload))
        native = self._announcements(row.platform)
        if event is None or event.native_ref is None or native is None:
            return Silent()
        counts = (await self.store.events.counts([event.id]))[event.id]
        text = self.scheduler.ports.render(
            event.platform,
            self.announcement(event, counts, self.scheduler.clock.now(), reactions=True),
        )
        message = MessageRef(place_of(event), event.native_ref)
        try:
            await native.update(message, text, key=occurrence_key(row.id, due))
        except TransientFailure:
            raise
        except PostError as error:
            log.warning("event %d: could not update its announcement: %s", event.id, error)
        return Silent()

    async def render_reminder(self, row: ScheduleRow, due: datetime) -> Action:
        event_id, minutes = (int(part) for part in row.payload.split(":"))
        event = await self.store.events.get(row.community_id, event_id)
        if event is None or event.status != "planned":
            return Silent()
        zone = recurrence(event).zone
        starts = reminded(due, minutes, zone)
        text = lines(
            fmt("**Reminder:** {} starts in {}.", bold(event.title), ahead(minutes)),
            fmt("When: {}", shown(starts, zone)),
            fmt("Where: {}", where(event)),
            fmt(
                "You said yes or maybe to event #{}; {} if you cannot come.",
                event.id,
                code(f"event rsvp {event.id} no"),
            ),
        )
        members = await self.store.events.members(event.id, ("yes", "maybe"))
        await self._send(occurrence_key(row.id, due), place_of(event), members, text)
        return Silent()

    async def render_change(self, row: ScheduleRow, due: datetime) -> Action:
        head, _, text = row.payload.partition("\n")
        event = await self.store.events.get(row.community_id, int(head))
        if event is None:
            return Silent()
        members = await self.store.events.members(event.id, ("yes",))
        await self._send(occurrence_key(row.id, due), place_of(event), members, stored(text))
        return Silent()

    async def _send(self, key: str, place: Place, members: list[str], text: Md) -> None:
        """Store one notice per member for this occurrence (once), then deliver the ones
        not delivered yet."""
        known = await self.store.events.notices_for(key)
        fresh = [member for member in members if member not in known]
        if fresh:
            async with self.store.unit_of_work() as uow:
                for member in fresh:
                    notice_id = await self.notices.keep(uow, place, member, text)
                    await uow.events.remember_notice(key, member, notice_id)
        # One after another: a notice is marked delivered before the next is tried, so a
        # process killed part-way resends only those after it (under the same keys).
        for member, notice_id, body in await self.store.events.undelivered(key):
            await self.notices.deliver(notice_id, place, member, stored(body))
