"""Drive the scheduler through time exactly as its loop would, without waiting."""

from __future__ import annotations

from datetime import datetime

from companion.app import App
from tests.fakes import FakeClock


async def run_until(app: App, clock: FakeClock, until: datetime) -> None:
    """Jump to each earliest wake-up the scheduler asks for and run what is due then."""
    platforms = app.ports.platforms()
    for _ in range(10_000):
        earliest = await app.store.schedules.earliest_wake(platforms)
        if earliest is None or datetime.fromisoformat(earliest) > until:
            break
        clock.set(max(clock.now(), datetime.fromisoformat(earliest)))
        await app.scheduler.run_due()
    clock.set(max(clock.now(), until))
    await app.scheduler.run_due()
