"""The platform's own scheduled event for an event (Discord's Guild Scheduled Events, the
``ScheduledEvents`` capability): made for the next meeting, with the announcement (a planned
event), as each meeting of a recurring event ends (``event-next``), or a week before a book
club's meeting (``event-native``); moved and cancelled with the event (``event-sync``)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from companion.delivery import Action, PostKind, Silent
from companion.features.events.timing import next_at, place_of
from companion.ports import PostError, ScheduledEvents, TransientFailure, capability
from companion.scheduler import Scheduler, occurrence_key
from companion.store import Repositories, Store
from companion.store.events import EventRow
from companion.store.schedules import ScheduleRow

NEXT = "event-next"  # at each meeting's end: the platform's own event for the next one
NATIVE, SYNC = "event-native", "event-sync"  # an unannounced event's platform event; a change
NATIVE_LEAD = timedelta(days=7)  # how long before a club meeting its platform event appears
NATIVE_KV = "event-native:"  # event id -> the schedule id of its latest plan

log = logging.getLogger(__name__)


class NativeEvents:
    def __init__(self, store: Store, scheduler: Scheduler) -> None:
        self.store = store
        self.scheduler = scheduler

    def post_kinds(self) -> list[PostKind]:
        return [
            PostKind(NEXT, self.render_next),
            PostKind(NATIVE, self.render_native),
            PostKind(SYNC, self.render_sync),
        ]

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
        return self.scheduler.ports.render(event.platform, text), start

    async def render_next(self, row: ScheduleRow, due: datetime) -> Action:
        """A recurring event's meeting has ended: the platform's own event for the next."""
        event = await self.store.events.get(row.community_id, int(row.payload))
        if event is not None and event.status == "planned":
            await self.create(event, due, occurrence_key(row.id, due), again=True)
        return Silent()

    async def create(
        self, event: EventRow, now: datetime, key: str, *, again: bool = False, retry: bool = False
    ) -> None:
        """The platform's own event for the next meeting, once (a retried announcement
        finds it made; ``again``: the next meeting's, when one has ended); without the
        permission the announcement goes out alone. ``retry``: a transient failure is
        raised, for the scheduler to try again (the announcement does not wait for it)."""
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
            if retry and isinstance(error, TransientFailure):
                raise
            log.warning("event %d: no scheduled event on %s: %s", event.id, event.platform, error)
            return
        await self.store.events.set_native(event.community_id, event.id, event=ref)

    async def plan(self, uow: Repositories, event: EventRow, by: str) -> None:
        """The platform's own event for an event that is not announced (a book club's
        meeting): ``NATIVE_LEAD`` before it, or now if it is sooner, once (claimed, keyed:
        the port finds one it made before a crash). Planned again when the meeting moves;
        only the latest plan (remembered in the kv store) makes it."""
        now = self.scheduler.clock.now()
        start = next_at(event, now)
        if start is None:
            return
        due = max(now, start - NATIVE_LEAD)
        schedule_id = await self.scheduler.add_now(
            place_of(event), NATIVE, str(event.id), by, repos=uow, due=due, grace=NATIVE_LEAD
        )
        await uow.kv.set(f"{NATIVE_KV}{event.id}", str(schedule_id))

    async def plan_again(self, uow: Repositories, event: EventRow, by: str) -> None:
        """An event moved (`event edit ... when`): one planned by :meth:`plan` and
        not made yet is planned for its new date."""
        if event.native_event is None and await uow.kv.get(f"{NATIVE_KV}{event.id}"):
            await self.plan(uow, event, by)

    async def sync_later(self, uow: Repositories, event: EventRow, by: str) -> None:
        """Carry a change or a cancellation over to the platform's own event, after the
        caller's unit of work commits (the outbox: a crash cannot lose it)."""
        await self.scheduler.add_now(place_of(event), SYNC, str(event.id), by, repos=uow)

    async def render_native(self, row: ScheduleRow, due: datetime) -> Action:
        event = await self.store.events.get(row.community_id, int(row.payload))
        if event is None or event.status != "planned" or event.native_event is not None:
            return Silent()
        if await self.store.kv.get(f"{NATIVE_KV}{event.id}") != str(row.id):
            return Silent()  # planned again since (the meeting moved): that plan makes it
        now = self.scheduler.clock.now()
        start = next_at(event, now)
        if start is None:
            return Silent()
        if start - NATIVE_LEAD > now + timedelta(minutes=1):  # moved later meanwhile
            async with self.store.unit_of_work() as uow:
                await self.plan(uow, event, row.created_by or "companion")
            return Silent()
        if event.id in await self.store.bookclubs.paused_meetings(event.community_id):
            return Silent()  # its club is paused: planned again when it resumes
        await self.create(event, now, occurrence_key(row.id, due), retry=True)
        return Silent()

    async def render_sync(self, row: ScheduleRow, due: datetime) -> Action:
        now = self.scheduler.clock.now()
        await self.sync(int(row.payload), row.community_id, now, retry=True)
        return Silent()

    async def sync(
        self, event_id: int, community_id: str, now: datetime, *, retry: bool = False
    ) -> None:
        """Carry a change or a cancellation over to the platform's own event (``retry``: a
        transient failure is raised, for the scheduler to try again)."""
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
            if retry and isinstance(error, TransientFailure):
                raise
            log.warning("event %d: its scheduled event was not changed: %s", event.id, error)
