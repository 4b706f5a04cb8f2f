"""Sending what the scheduler claimed: render, post through the platform's port, mark sent.

The scheduler (companion.scheduler) decides what is due and claims it; :class:`Delivery`
sends a claimed batch: each kind's batch preparation, one render and one port call per post,
one mark of those sent, each kind's bookkeeping after. What a failed post does depends on
its kind of failure (below); one post's failure never costs the others their "sent" mark.
What a post is (``Post``, ``Thread``, ``Silent``) and how features declare their kinds of
post (``PostKind``, ``Posting``) are declared here too.

What a failure does depends on its kind (companion.ports):

- :class:`TransientFailure` (the network, a 5xx, a rate limit, a room not synced yet, the
  platform's port detached between the claim and the send) and
  :class:`StoreUnavailable` (the database away): retried with backoff (after the platform's
  ``retry_after`` when it gave one) for as long as the occurrence is within its grace;
  the schedule is never paused for it. Past grace the occurrence is skipped, logged.
- :class:`PermanentFailure` (the platform refused: forbidden, removed, unknown channel):
  the schedule is paused with the reason, and the moderators are told once: a notice in
  the room when the platform still takes one there, else a line in the audit log (the
  ``audit`` command, the dashboard). A command's one-off post (the outbox: no schedule a
  moderator can resume) tells them to run the command again instead.
- Anything else (a bare PostError, a bug): retried along ``backoff``, then paused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol, runtime_checkable

from companion.events import Kind as MessageKind
from companion.events import Place
from companion.fmt import Md, as_md, code, fmt
from companion.metrics import Metrics
from companion.ports import (
    Clock,
    PermanentFailure,
    Ports,
    PostError,
    Threads,
    TransientFailure,
    capability,
    wait,
)
from companion.store import Store, StoreUnavailable
from companion.store.schedules import ScheduleRow, iso

log = logging.getLogger(__name__)

BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10))
GRACE = timedelta(hours=6)  # the scheduler's default: how late a post may still go out
STORE_WAIT = 1.0  # seconds between tries to mark posts sent while the database is away
STORE_TRIES = 20  # ... well within a claim's lease, so no other process resends them


@dataclass(frozen=True, slots=True)
class Post:
    """A message to post: ``text`` is Markdown built with companion.fmt (a plain ``str`` is
    escaped); ``kind`` lets an adapter present it its own way."""

    text: str
    meta: str = ""  # what the renderer wants to know again after sending
    kind: MessageKind = MessageKind.ANSWER

    def __post_init__(self) -> None:
        if not isinstance(self.text, Md):
            object.__setattr__(self, "text", as_md(self.text))


@dataclass(frozen=True, slots=True)
class Thread:
    """A thread to open: ``title`` is plain text (never markup), ``text`` its first message.
    The text opens with its own heading, so where a platform has no threads it is posted
    alone (companion.ports.Threads)."""

    title: str
    text: str
    meta: str = ""
    kind: MessageKind = MessageKind.DISCUSSION

    def __post_init__(self) -> None:
        if not isinstance(self.text, Md):
            object.__setattr__(self, "text", as_md(self.text))


class Silent(NamedTuple):
    """Nothing to post in the room: the occurrence is its kind's ``after_sent`` alone (a
    round of private messages), claimed, keyed and marked like any post."""

    meta: str = ""


Action = Post | Thread | Silent
Render = Callable[[ScheduleRow, datetime], Awaitable[Action]]
AfterSent = Callable[[ScheduleRow, datetime, Action], Awaitable[None]]


def place_of(row: ScheduleRow) -> Place:
    return Place(row.platform, row.community_id, row.room_id, row.thread_id)


Prepare = Callable[[list[tuple[ScheduleRow, datetime]]], Awaitable[None]]


class PostKind(NamedTuple):
    """A kind of scheduled post (``ScheduleRow.kind``): how it is rendered when due."""

    name: str
    render: Render
    after_sent: AfterSent | None = None
    prepare: Prepare | None = None  # batch-load what render() needs for many posts at once


@runtime_checkable
class Posting(Protocol):
    """A feature that schedules posts declares their kinds beside its commands
    (companion.commands.Feature); the app registers them with the scheduler."""

    def post_kinds(self) -> list[PostKind]: ...


class Job(NamedTuple):
    key: str
    row: ScheduleRow
    due: datetime
    attempts: int


@dataclass(slots=True)
class Delivery:
    store: Store
    ports: Ports
    clock: Clock
    metrics: Metrics
    backoff: tuple[timedelta, ...] = BACKOFF
    kinds: dict[str, PostKind] = field(default_factory=dict)
    grace: timedelta = GRACE

    async def deliver(self, jobs: list[Job]) -> None:
        """Send one claimed batch, mark what was sent, then do each kind's bookkeeping."""
        await self._prepare(jobs)
        # One job's unexpected failure must not cost the others their "sent" mark:
        # unmarked, they would be sent again after a restart.
        results = await asyncio.gather(*(self._send(job) for job in jobs), return_exceptions=True)
        sent: list[tuple[Job, Action]] = []
        for job, result in zip(jobs, results, strict=True):
            if isinstance(result, BaseException):
                await self._unexpected(job, result)
            elif result is not None:
                sent.append((job, result))
        await self._mark_sent([job.key for job, _ in sent])
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result  # a cancellation, after the marks are safe
        for job, action in sent:
            after = self.kinds[job.row.kind].after_sent
            if after is not None and action is not None:
                try:
                    await after(job.row, job.due, action)
                except Exception:
                    log.exception("schedule %d: bookkeeping after a post failed", job.row.id)

    async def _mark_sent(self, keys: list[str]) -> None:
        """Mark posts sent, waiting out a short database outage: unmarked, they would be
        sent again once their claim ran out (the platform would drop most, not all)."""
        for attempt in range(1, STORE_TRIES + 1):
            try:
                await self.store.schedules.mark_sent(keys, self.clock.now())
                return
            except StoreUnavailable as error:
                if attempt == STORE_TRIES:
                    raise
                if attempt == 1:
                    log.warning("cannot mark %d post(s) sent yet (%s); waiting", len(keys), error)
                await wait(self.clock, STORE_WAIT)  # the app's clock: tests move it

    async def _prepare(self, jobs: list[Job]) -> None:
        """Let each kind load what its posts need in one go (a failure only costs speed)."""
        by_kind: dict[str, list[Job]] = {}
        for job in jobs:
            by_kind.setdefault(job.row.kind, []).append(job)
        for name, group in by_kind.items():
            kind = self.kinds.get(name)
            if kind is not None and kind.prepare is not None:
                try:
                    await kind.prepare([(job.row, job.due) for job in group])
                except Exception:
                    log.exception("preparing %d %r post(s) failed", len(group), name)

    async def _send(self, job: Job) -> Action | None:
        """Render and send one occurrence; on failure schedule a retry (or give up)."""
        row = job.row
        kind = self.kinds.get(row.kind)
        port = self.ports.get(row.platform)
        if kind is None:
            detail = f"no handler for {row.kind!r} on {row.platform!r}"
            await self.store.schedules.give_up(
                job.key, "failed", detail, self.clock.now(), pause=row.id
            )
            self.metrics.post(row.kind, "failed")
            return None
        if port is None:  # claimed while connected, detached since: away for now
            away = TransientFailure(f"{row.platform} is not connected")
            await self._transient(job, away, str(away), self.clock.now())
            return None
        try:
            action = await kind.render(row, job.due)
            place = place_of(row)
            threads = capability(port, Threads)
            if isinstance(action, Thread) and threads is not None:
                text = self.ports.render(row.platform, action.text)
                await threads.open_thread(place, action.title, text, key=job.key, kind=action.kind)
            elif not isinstance(action, Silent):  # a post, or a thread where there are none
                text = self.ports.render(row.platform, action.text)
                await port.post(place, text, key=job.key, kind=action.kind)
        except Exception as error:  # an adapter's failure must not stop the loop
            await self._failed(job, error)
            return None
        self.metrics.post_sent(row.kind, (self.clock.now() - job.due).total_seconds())
        return action

    async def _unexpected(self, job: Job, error: BaseException) -> None:
        """A send that failed outside its own error handling: retry it after the first
        backoff; if even that cannot be written, it stays claimed and a restart retries it
        (or this process, once the database it lost is back: the scheduler's loop)."""
        if isinstance(error, StoreUnavailable):  # no bug: the retry could not be written
            log.warning("schedule %d: post left claimed, the database is away", job.row.id)
            return
        log.error("schedule %d: sending failed unexpectedly", job.row.id, exc_info=error)
        if not isinstance(error, Exception):
            return
        now = self.clock.now()
        try:
            await self.store.schedules.retry_later(
                job.key, now + (self.backoff or BACKOFF)[0], type(error).__name__, now
            )
        except Exception:
            log.exception("schedule %d: could not plan the retry", job.row.id)

    async def _failed(self, job: Job, error: Exception) -> None:
        key, row, attempts = job.key, job.row, job.attempts
        now = self.clock.now()
        reason = str(error) or type(error).__name__
        if isinstance(error, TransientFailure | StoreUnavailable):
            await self._transient(job, error, reason, now)
            return
        permanent = isinstance(error, PermanentFailure)
        if not isinstance(error, PostError):
            log.exception("schedule %d: post failed", row.id, exc_info=error)
        if permanent or attempts > len(self.backoff):
            detail = f"posting failed {attempts} time(s): {reason}"
            log.warning("schedule %d paused: %s", row.id, detail)
            self.metrics.post(row.kind, "failed")
            await self.store.schedules.give_up(key, "failed", detail, now, pause=row.id)
            if permanent:
                await self._tell_moderators(job, reason)
            return
        retry_at = now + self.backoff[attempts - 1]
        log.warning("schedule %d: post failed (%s); retrying at %s", row.id, reason, iso(retry_at))
        await self.store.schedules.retry_later(key, retry_at, reason, now)
        self.metrics.post(row.kind, "retried")

    async def _transient(self, job: Job, error: Exception, reason: str, now: datetime) -> None:
        """Try again later, never pausing the schedule; past grace, skip this occurrence."""
        row = job.row
        grace = timedelta(seconds=row.grace_seconds) if row.grace_seconds is not None else None
        steps = self.backoff or BACKOFF
        wait = steps[min(job.attempts, len(steps)) - 1]
        after = getattr(error, "retry_after", None)
        if after:
            wait = max(wait, timedelta(seconds=after))
        retry_at = now + wait
        if retry_at - job.due > (grace if grace is not None else self.grace):
            detail = f"missed: could not post within the grace window ({reason})"
            log.warning("schedule %d: skipped the post due %s (%s)", row.id, iso(job.due), detail)
            self.metrics.post(row.kind, "skipped")
            await self.store.schedules.give_up(job.key, "skipped", detail, now)
            return
        log.warning(
            "schedule %d: post failed for now (%s); retrying at %s", row.id, reason, iso(retry_at)
        )
        await self.store.schedules.retry_later(job.key, retry_at, reason, now)
        self.metrics.post(row.kind, "retried")

    async def _tell_moderators(self, job: Job, reason: str) -> None:
        """Once, where the moderators will see it: a notice in the room (in the room itself,
        not the thread); if the platform takes none there, a line in the audit log."""
        row = job.row
        if row.outbox:  # a post a command made: no schedule `schedule resume` reaches
            text = fmt(
                "I could not post here what a command asked for: {}. Once that is fixed, "
                "run the command again.",
                reason,
            )
            action, target = "could not post", "what a command asked for"
        else:
            text = fmt(
                "I could not post schedule #{} here and paused it: {}. Once that is fixed, {} "
                "starts it again.",
                row.id,
                reason,
                code(f"schedule resume {row.id}"),
            )
            action, target = "paused", f"schedule #{row.id}"
        port = self.ports.get(row.platform)
        place = Place(row.platform, row.community_id, row.room_id)
        if port is not None:
            try:
                text = self.ports.render(row.platform, text)
                await port.post(place, text, key=f"{job.key}p"[:25], kind=MessageKind.ERROR)
                return
            except Exception as error:
                log.info("schedule %d: no notice in its room either (%s)", row.id, error)
        try:
            await self.store.contributions.note(
                row.community_id, "Companion", action, target, reason, self.clock.now()
            )
        except Exception:
            log.exception("schedule %d: could not note the pause in the audit log", row.id)
