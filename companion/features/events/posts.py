"""What the scheduler sends for events: the announcement (a thread where the platform opens
threads), the reminders before each occurrence and the notice of a change, both private.

Every one of them is a scheduled occurrence, claimed before it is sent, so it goes out once
across restarts and processes. A reminder or change notice writes one stored notice per
member, remembered under the occurrence's key in the same transaction: an occurrence resent
after a crash finds the notices it already wrote and delivers only those not yet delivered,
each under its own idempotency key.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from companion.delivery import Action, PostKind, Silent, Thread
from companion.events import Kind, MessageRef, Place
from companion.features.events.timing import ahead, next_at, recurrence, reminded, shifted
from companion.fmt import Md, bold, code, fmt, lines, stored
from companion.notices import Notices
from companion.ports import Announcements, PostError, ScheduledEvents, capability
from companion.recurrence import shown
from companion.scheduler import Scheduler, occurrence_key
from companion.store import Repositories, Store
from companion.store.events import Counts, EventRow
from companion.store.schedules import ScheduleRow

ANNOUNCE, REMINDER, CHANGE = "event-announce", "event-reminder", "event-change"
NEXT = "event-next"  # at each meeting's end: the platform's own event for the next one
MAX_GRACE = timedelta(hours=6)

log = logging.getLogger(__name__)


def place_of(event: EventRow) -> Place:
    return Place(event.platform, event.community_id, event.room_id)


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

    def post_kinds(self) -> list[PostKind]:
        return [
            PostKind(ANNOUNCE, self.render_announcement),
            PostKind(REMINDER, self.render_reminder),
            PostKind(CHANGE, self.render_change),
            PostKind(NEXT, self.render_next),
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
        await self._create_native_event(event, due, occurrence_key(row.id, due))
        native = self._announcements(row.platform)
        if native is not None:  # members answer by reacting to it; it shows the counts
            text = self.announcement(event, counts, due, reactions=True)
            text = self.scheduler.ports.render(row.platform, text)
            key = occurrence_key(row.id, due)
            ref = await native.announce(place_of(event), event.title, text, key=key)
            await self.store.events.set_native(event.community_id, event.id, ref=ref.message_id)
            return Silent()
        return Thread(event.title, self.announcement(event, counts, due), kind=Kind.DISCUSSION)

    def _scheduled_events(self, platform: str) -> ScheduledEvents | None:
        port = self.scheduler.ports.get(platform)
        return capability(port, ScheduledEvents) if port is not None else None

    def _native_details(self, event: EventRow, now: datetime) -> tuple[str, datetime] | None:
        """The description and start of the platform's own event: the next meeting."""
        start = next_at(event, now)
        if start is None:
            return None
        text = (
            f"Event #{event.id}. Press Interested, or answer with `event rsvp {event.id} yes` "
            "(or maybe, no): those who say yes or maybe get a private reminder before."
        )
        text = self.scheduler.ports.render(event.platform, text)
        return text, start

    async def render_next(self, row: ScheduleRow, due: datetime) -> Action:
        """A recurring event's meeting has ended: the platform's own event for the next."""
        event = await self.store.events.get(row.community_id, int(row.payload))
        if event is not None and event.status == "planned":
            await self._create_native_event(event, due, occurrence_key(row.id, due), again=True)
        return Silent()

    async def _create_native_event(
        self, event: EventRow, now: datetime, key: str, *, again: bool = False
    ) -> None:
        """The platform's own event for the next meeting, once (a retried announcement
        finds it made; ``again``: the next meeting's, when one has ended); without the
        permission the announcement goes out alone."""
        native = self._scheduled_events(event.platform)
        details = self._native_details(event, now)
        if native is None or details is None or (event.native_event is not None and not again):
            return
        text, start = details
        try:
            ref = await native.create_event(
                place_of(event),
                event.title,
                text,
                location=event.location,
                start=start,
                end=start + timedelta(minutes=event.minutes),
                key=key,
            )
        except PostError as error:
            log.warning("event %d: no scheduled event on %s: %s", event.id, event.platform, error)
            return
        await self.store.events.set_native(event.community_id, event.id, event=ref)

    async def sync_native_event(self, event_id: int, community_id: str, now: datetime) -> None:
        """Carry a change or a cancellation over to the platform's own event."""
        event = await self.store.events.get(community_id, event_id)
        if event is None or event.native_event is None:
            return
        native = self._scheduled_events(event.platform)
        if native is None:
            return
        details = self._native_details(event, now)
        try:
            if event.status != "planned" or details is None:
                await native.cancel_event(place_of(event), event.native_event)
                return
            text, start = details
            await native.edit_event(
                place_of(event),
                event.native_event,
                event.title,
                text,
                location=event.location,
                start=start,
                end=start + timedelta(minutes=event.minutes),
            )
        except PostError as error:
            log.warning("event %d: its scheduled event was not changed: %s", event.id, error)

    async def refresh(self, event_id: int, community_id: str, now: datetime) -> None:
        """Show the current counts (or the change) in the event's announcement, where the
        platform lets the bot edit it; a failure costs only the refresh."""
        event = await self.store.events.get(community_id, event_id)
        if event is None or event.native_ref is None:
            return
        native = self._announcements(event.platform)
        if native is None:
            return
        counts = (await self.store.events.counts([event.id]))[event.id]
        text = self.scheduler.ports.render(
            event.platform, self.announcement(event, counts, now, reactions=True)
        )
        # Every refresh is a new edit (the same counts can come round again), and a key
        # from a per-process counter and the second could repeat after a restart, where the
        # platform would take the edit for one it has and drop it.
        key = f"u{event.id}.{secrets.token_hex(8)}"
        try:
            await native.update(MessageRef(place_of(event), event.native_ref), text, key=key)
        except PostError as error:
            log.warning("event %d: could not update its announcement: %s", event.id, error)

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
