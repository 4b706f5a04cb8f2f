"""Test doubles swapped in at the composition root: a clock to travel in, a recording port."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from companion.events import Kind, MessageRef, Place
from companion.ports import PostError


class FakeClock:
    """A clock that only moves when a test moves it."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._now = start
        self._tick = asyncio.Event()
        self.sleeping = 0  # tasks waiting on this clock now (a test moves it when they are)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when
        old, self._tick = self._tick, asyncio.Event()
        old.set()

    def advance(self, delta: timedelta) -> None:
        self.set(self._now + delta)

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        self.sleeping += 1
        try:
            while self._now < when and not wake.is_set():
                tick = asyncio.ensure_future(self._tick.wait())
                woken = asyncio.ensure_future(wake.wait())
                _, pending = await asyncio.wait({tick, woken}, return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
        finally:
            self.sleeping -= 1


@dataclass(slots=True)
class Sent:
    kind: str  # "post", "thread" or "notice" (then title is the member id)
    place: Place
    text: str
    key: str
    title: str | None = None
    at: datetime | None = None
    said: Kind | None = None  # what the post is (a reflection, a prompt, ...)


@dataclass(slots=True)
class RecordingPort:
    """A ChatPort that records what it is asked to send; it can be told to fail."""

    clock: FakeClock | None = None
    sent: list[Sent] = field(default_factory=list)
    fail_with: PostError | None = None
    keys_seen: set[str] = field(default_factory=set)

    async def post(
        self, place: Place, text: str, *, key: str, kind: Kind = Kind.ANSWER
    ) -> MessageRef:
        self._check(key)
        self.sent.append(Sent("post", place, text, key, at=self._now(), said=kind))
        return MessageRef(place, f"m{len(self.sent)}")

    async def open_thread(
        self, place: Place, title: str, text: str, *, key: str, kind: Kind = Kind.DISCUSSION
    ) -> Place:
        self._check(key)
        self.sent.append(Sent("thread", place, text, key, title=title, at=self._now(), said=kind))
        return Place(place.platform, place.community_id, place.room_id, f"t{len(self.sent)}")

    async def notify(self, place: Place, member_id: str, text: str, *, key: str) -> None:
        self._check(key)
        self.sent.append(Sent("notice", place, text, key, title=member_id, at=self._now()))

    def _check(self, key: str) -> None:
        assert 0 < len(key) <= 25, f"idempotency key {key!r} must be 1-25 characters"
        if self.fail_with is not None:
            raise self.fail_with
        self.keys_seen.add(key)

    def _now(self) -> datetime | None:
        return self.clock.now() if self.clock else None
