"""One Companion process of a fleet sharing a PostgreSQL store, on an accelerated clock.

Usage: fleet_worker.py URL LOG NAME GO_FILE SKEW START_ISO END_ISO SPEED [STALL_AFTER]

Once started, the process touches LOG.ready and waits for GO_FILE, which holds the wall time
ANCHOR at which simulated time is START; from then on it is START + (wall time - ANCHOR +
SKEW) * SPEED, the same in every process but for its SKEW (clocks differ a little).
The port appends "key name" per post to LOG (one file per process, as a platform's record
of what it received). With STALL_AFTER, the port stops answering after that
many posts, holding the rest of its claims in flight until the test SIGKILLs the process.
The process runs the real scheduler loop until nothing is left to post (or END), then stops
cleanly. Claims are leased for three simulated minutes: three real seconds at 60x, longer
than any pass of the burst takes here.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from companion import content
from companion.app import build
from companion.config import Settings
from companion.events import MessageRef, Place
from tests.conftest import FIXTURE_CONTENT


class AcceleratedClock:
    def __init__(self, anchor: float, start: datetime, speed: float) -> None:
        self.anchor, self.start, self.speed = anchor, start, speed

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.anchor) * self.speed)

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        real = max(0.0, (when - self.now()).total_seconds() / self.speed)
        try:
            await asyncio.wait_for(wake.wait(), timeout=min(real, 5.0))
        except TimeoutError:
            pass


class FilePort:
    def __init__(self, log: Path, name: str, stall_after: int | None) -> None:
        self.log, self.name, self.stall_after = log, name, stall_after
        self.posts = 0

    async def post(self, place: Place, text: str, *, key: str, kind: object = None) -> MessageRef:
        self.posts += 1
        if self.stall_after is not None and self.posts > self.stall_after:
            await asyncio.Event().wait()  # stuck mid-burst: the test kills this process
        await asyncio.sleep(0.001)  # a platform's round trip
        with self.log.open("a") as out:
            out.write(f"{key} {self.name}\n")
        return MessageRef(place, key)

    async def open_thread(
        self, place: Place, title: str, text: str, *, key: str, kind: object = None
    ) -> Place:
        await self.post(place, text, key=key)
        return place


def wait_for_go(ready: Path, go: Path) -> float:
    """Say this process is up, then wait for the shared start; returns its wall time."""
    ready.touch()
    while not go.exists() or not go.read_text().strip():
        time.sleep(0.01)
    return float(go.read_text())


async def main(argv: list[str]) -> None:
    url, log, name, go_file, skew, start, end, speed = argv[:8]
    stall = int(argv[8]) if len(argv) > 8 else None
    clock = AcceleratedClock(time.time() + 3600, datetime.fromisoformat(start), float(speed))
    settings = Settings(db_path=Path(f"{log}.db"), database_url=url)
    app = await build(settings, clock=clock, content=content.load(FIXTURE_CONTENT))
    clock.anchor = await asyncio.to_thread(wait_for_go, Path(log + ".ready"), Path(go_file))
    clock.anchor -= float(skew)
    app.scheduler.holder = name
    app.scheduler.lease = timedelta(minutes=3)
    app.ports.attach("test", FilePort(Path(log), name, stall))
    await app.scheduler.start()
    finish = datetime.fromisoformat(end)
    for _ in range(100_000):
        await asyncio.sleep(0.05)
        if clock.now() >= finish:
            break
        left = await app.store.db.fetchone(
            "SELECT (SELECT COUNT(*) FROM schedule WHERE status = 'active') "
            "+ (SELECT COUNT(*) FROM occurrence WHERE state = 'claimed')"
        )
        if left is not None and left[0] == 0:
            break
    await app.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
