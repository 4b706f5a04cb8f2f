"""One timer for the whole process: posts each due occurrence exactly once, in local time.

- ``next_run`` is persisted; the loop sleeps until the earliest one (no polling) and any
  change to the schedules wakes it.
- Each occurrence is claimed in a transaction before it is sent and marked sent after; its
  key (at most 25 characters) goes to the adapter as the idempotency key, so a retry after a
  crash cannot post twice on platforms that honour it.
- An occurrence missed while the bot was down is posted late within the grace window, and
  otherwise recorded as skipped and logged. Failed posts are retried with backoff, then the
  schedule is paused with the reason, which ``schedule list`` shows moderators.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from companion import liveness
from companion.commands import UserError
from companion.delivery import (
    BACKOFF,
    Delivery,
    Job,
    PostKind,
)
from companion.events import Place
from companion.metrics import Metrics
from companion.ports import Clock, Ports
from companion.recurrence import Recurrence
from companion.store import Repositories, Store, StoreUnavailable
from companion.store.schedules import Claim, Lease, NewSchedule, ScheduleRow, Skip, iso

log = logging.getLogger(__name__)

IDLE_WAKE = timedelta(hours=6)  # a sanity wake-up when nothing is planned at all
BATCH = 500
LEASE = timedelta(seconds=60)  # how long a claim is this process's before another may take it
PASSED = "That time has already passed; pick a time in the future."
STORE_WAIT = (timedelta(seconds=1), timedelta(seconds=15))  # the database away: first, most


def default_holder() -> str:
    """This process's name on its claims: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def occurrence_key(schedule_id: int, due: datetime) -> str:
    """Stable per occurrence and at most 25 characters (Discord's nonce limit)."""
    return f"cmp{_b36(schedule_id)}-{_b36(int(due.timestamp()) // 60)}"


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


def recurrence_of(row: ScheduleRow) -> Recurrence:
    return Recurrence.stored(row)


class Scheduler:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        grace: timedelta = timedelta(hours=6),
        backoff: tuple[timedelta, ...] = BACKOFF,
        metrics: Metrics | None = None,
        holder: str | None = None,
        lease: timedelta = LEASE,
        ports: Ports | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.grace = grace
        self.holder = holder or default_holder()
        self.lease = lease
        self.ports = ports if ports is not None else Ports()  # the app's; it wakes us on changes
        self.ports.on_change(self.wake)
        self.delivery = Delivery(store, self.ports, clock, self.metrics, backoff, grace=grace)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._run_lock = asyncio.Lock()
        self._start_lock = asyncio.Lock()  # two starts at once (two ports attaching): one loop

    # --- wiring -------------------------------------------------------------------------

    def add_kind(self, kind: PostKind) -> None:
        """Know how to render posts of ``kind`` (features declare theirs: ``post_kinds``)."""
        self.delivery.kinds[kind.name] = kind

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        """Start the one loop (again after a reconnect, or from two ports attaching at once,
        is fine: it never starts a second)."""
        async with self._start_lock:
            if self.running:
                return
            await self.recover()
            self._task = asyncio.create_task(self._loop(), name="companion-scheduler")

    async def recover(self) -> int:
        """Occurrences claimed by a process that stopped before marking them: send again
        with the same key (the platform drops a duplicate), or skip them past grace."""
        dead = [h for h in await self.store.schedules.claim_holders() if liveness.dead_here(h)]
        recovered = await self.store.schedules.recover_claimed(self.clock.now(), self.holder, dead)
        if recovered:
            log.warning("%d scheduled post(s) were claimed before a stop; retrying", recovered)
        return recovered

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping = True  # the loop ends even if a clock swallows the cancellation
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # --- planning -----------------------------------------------------------------------

    async def add(
        self,
        place: Place,
        kind: str,
        recurrence: Recurrence,
        payload: str,
        created_by: str,
        *,
        grace: timedelta | None = None,
        repos: Repositories | None = None,
    ) -> ScheduleRow:
        """Plan a schedule; pass a unit of work as ``repos`` to make it part of that unit.
        A recurrence with no occurrence after now is refused with a UserError (``PASSED``)."""
        repos = repos or self.store
        now = self.clock.now()
        first = recurrence.next_after(now)
        if first is None:  # the one check, for every feature that plans a post
            raise UserError(PASSED)
        new = _new_schedule(place, kind, recurrence, payload, created_by, now, first, grace)
        schedule_id = await repos.schedules.add(new)
        self.wake()
        row = await repos.schedules.get(schedule_id)
        assert row is not None
        return row

    async def add_now(
        self,
        place: Place,
        kind: str,
        payload: str,
        created_by: str,
        *,
        repos: Repositories,
        due: datetime | None = None,
        grace: timedelta | None = None,
    ) -> int:
        """A one-off post due now (or at ``due``, if later), written in the caller's unit of
        work: an outbox, so what a command decides and the post it makes are committed
        together, and the post then goes out once (claimed, keyed, retried) like any
        scheduled one."""
        now = self.clock.now()
        when = max(now, due) if due is not None else now
        utc = when.astimezone(UTC)
        once = Recurrence(rule="once", at=utc.time(), zone=ZoneInfo("UTC"), start=utc.date())
        row = _new_schedule(place, kind, once, payload, created_by, now, when, grace)
        new = row._replace(outbox=True)
        schedule_id = await repos.schedules.add(new)
        self.wake()
        return schedule_id

    async def set_status(
        self, row: ScheduleRow, status: str, *, repos: Repositories | None = None
    ) -> ScheduleRow:
        """Pause, resume (from now on: nothing missed while paused is posted) or cancel."""
        repos = repos or self.store
        next_run = row.next_run
        if status == "active":
            upcoming = recurrence_of(row).next_after(self.clock.now())
            next_run = iso(upcoming) if upcoming else None
            if next_run is None:
                status = "done"
        await repos.schedules.set_status(row.id, status, reason=None, next_run=next_run)
        self.wake()
        updated = await repos.schedules.get(row.id)
        assert updated is not None
        return updated

    # --- running ------------------------------------------------------------------------

    async def run_due(self) -> int:
        """Send everything due now. Returns how many sends were attempted.

        Claims are taken in batches of ``BATCH`` rows, and each claimed batch is sent (in a
        task of its own) while the next one is claimed: with thousands due together, the
        first posts go out after one claim, not after all of them. Each batch costs a
        handful of database calls however many posts it holds: one claim transaction, one
        preparation per kind, one mark of those sent.
        """
        async with self._run_lock:
            if not self.ports:
                return 0
            platforms = self.ports.platforms()
            now = self.clock.now()
            lease = self._lease(now)
            batches: list[asyncio.Task[None]] = []
            attempted = 0

            def deliver(jobs: list[Job]) -> None:
                nonlocal attempted
                if jobs:
                    attempted += len(jobs)
                    batches.append(asyncio.create_task(self.delivery.deliver(jobs)))

            try:
                taken = await self.store.schedules.take_over(now, platforms, lease)
                deliver(
                    [Job(o.key, r, datetime.fromisoformat(o.due_at), o.attempts) for o, r in taken]
                )
                while True:
                    count, won = await self.store.schedules.claim_due(
                        now, platforms, BATCH, lambda row: self._plan(row, now), lease
                    )
                    jobs = []
                    for row, claim in won:
                        self.metrics.post(row.kind, "skipped", len(claim.skipped))
                        if claim.key and claim.due_at:
                            due = datetime.fromisoformat(claim.due_at)
                            jobs.append(Job(claim.key, row, due, 1))
                    deliver(jobs)
                    if count < BATCH:
                        break
            except BaseException as error:
                if not isinstance(error, Exception):  # stopping: claimed, unsent is resent later
                    for batch in batches:
                        batch.cancel()
                raise
            finally:
                # Claimed batches are delivered and marked, even when claiming more failed.
                results = await asyncio.gather(*batches, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
            return attempted

    def _lease(self, now: datetime) -> Lease:
        shards = tuple(
            (platform, part.count, tuple(sorted(part.ids)))
            for platform, part in sorted(self.ports.shards().items())
        )
        return Lease(self.holder, now + self.lease, shards)

    def _plan(self, row: ScheduleRow, now: datetime) -> Claim:
        """Every occurrence up to now: the newest one within grace is sent, older ones skipped."""
        assert row.next_run is not None
        recurrence = recurrence_of(row)
        grace = (
            timedelta(seconds=row.grace_seconds) if row.grace_seconds is not None else self.grace
        )
        pending: list[datetime] = []
        upcoming: datetime | None = datetime.fromisoformat(row.next_run)
        while upcoming is not None and upcoming <= now:
            pending.append(upcoming)
            upcoming = recurrence.next_after(upcoming)
        skipped = [
            Skip(occurrence_key(row.id, m), iso(m), "a later one was due") for m in pending[:-1]
        ]
        last = pending[-1]
        send: datetime | None = last
        if now - last > grace:
            skipped.append(
                Skip(occurrence_key(row.id, last), iso(last), "missed: past the grace window")
            )
            send = None
        for skip in skipped:
            log.warning(
                "schedule %d: skipped the post due %s (%s)", row.id, skip.due_at, skip.detail
            )
        return Claim(
            schedule_id=row.id,
            expected_next=row.next_run,
            next_run=iso(upcoming) if upcoming else None,
            key=occurrence_key(row.id, send) if send else None,
            due_at=iso(send) if send else None,
            skipped=tuple(skipped),
        )

    async def _loop(self) -> None:
        self._stopping = False
        away = timedelta(0)  # how long to wait for a database that is away, doubling
        while not self._stopping:
            self._wake.clear()
            try:
                if away:
                    # Back after an outage: what this process claimed and could not send or
                    # mark then goes out now, with its keys, not once its claims run out.
                    await self.recover()
                await self.run_due()
                earliest = await self.store.schedules.earliest_wake(
                    self.ports.platforms(), self._lease(self.clock.now())
                )
                away = timedelta(0)
            except StoreUnavailable as error:
                # Wait and resume (issue 22): what was claimed is marked or resent with its
                # key once the database is back; nothing due meanwhile is lost.
                away = min(max(away * 2, STORE_WAIT[0]), STORE_WAIT[1])
                log.warning("the database is away (%s); trying again in %s", error, away)
                earliest = iso(self.clock.now() + away)
            except Exception:
                log.exception("scheduler pass failed; trying again in a minute")
                earliest = iso(self.clock.now() + timedelta(minutes=1))
            if earliest:
                wake_at = datetime.fromisoformat(earliest)
            else:
                wake_at = self.clock.now() + IDLE_WAKE
            await self.clock.sleep_until(wake_at, self._wake)


def _new_schedule(
    place: Place,
    kind: str,
    recurrence: Recurrence,
    payload: str,
    created_by: str,
    now: datetime,
    first: datetime,
    grace: timedelta | None = None,
) -> NewSchedule:
    """The row for a schedule of ``recurrence`` whose first occurrence is ``first``."""
    return NewSchedule(
        community_id=place.community_id,
        platform=place.platform,
        room_id=place.room_id,
        thread_id=place.thread_id,
        kind=kind,
        rule=recurrence.rule,
        days=",".join(str(d) for d in recurrence.days),
        start_date=recurrence.start.isoformat(),
        at_time=recurrence.at.strftime("%H:%M"),
        timezone=recurrence.zone.key,
        payload=payload,
        next_run=iso(first),
        created_by=created_by,
        created_at=iso(now),
        grace_seconds=int(grace.total_seconds()) if grace is not None else None,
    )


def describe(row: ScheduleRow) -> str:
    return recurrence_of(row).describe()
