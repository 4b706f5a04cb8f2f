"""A test double for a `companion` subprocess: put this directory on PYTHONPATH and the
process's clock (companion.ports.SystemClock) starts at 12:00 UTC on 2 March 2026 and skips
ahead, instead of sleeping, to anything due within two hours: a post scheduled for 13:00 is
sent at once. Waits longer than that (the scheduler's idle wake-up) are real.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from companion import ports

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SKIP = timedelta(hours=2)


class SkippingClock(ports.SystemClock):
    offset = START - datetime.now(UTC)  # shared by every instance in the process

    def now(self) -> datetime:
        return datetime.now(UTC) + SkippingClock.offset

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        ahead = when - self.now()
        if ahead <= SKIP:
            SkippingClock.offset += max(ahead, timedelta(0))
            await asyncio.sleep(0)
            return
        await super().sleep_until(when, wake)


ports.SystemClock = SkippingClock  # type: ignore[misc]
