"""The scheduler with 10,000 communities, each with a daily reflection at its own time.

Run: .venv/bin/python bench/scheduler.py [--communities 10000] [--burst 500]
Prints: time to load everything at start, lateness of posts against the real clock (p50 and
p99, ms) over a window in which a burst falls due together, CPU used while nothing is due,
and peak RSS. Targets (issue 4): load < 2 s, p99 < 250 ms, no measurable idle CPU, < 120 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from companion.app import build
from companion.config import Settings
from companion.events import MessageRef, Place
from companion.ports import SystemClock
from companion.recurrence import Recurrence


class OffsetClock(SystemClock):
    """The real clock, shifted so a minute boundary comes a few seconds after start."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return super().now() + self.offset


class LatenessPort:
    def __init__(self, clock: OffsetClock) -> None:
        self.clock = clock
        self.lateness_ms: list[float] = []
        self.due: dict[str, datetime] = {}
        self.expected = 0
        self.all_in = asyncio.Event()

    async def post(self, place: Place, text: str, *, key: str) -> MessageRef:
        due = self.due[place.community_id]
        self.lateness_ms.append((self.clock.now() - due).total_seconds() * 1000)
        if len(self.lateness_ms) >= self.expected:
            self.all_in.set()
        return MessageRef(place, key)

    async def open_thread(self, place: Place, title: str, text: str, *, key: str) -> Place:
        raise NotImplementedError


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def main(communities: int, burst: int) -> None:
    real = datetime.now(UTC)
    boundary = (real + timedelta(minutes=2)).replace(second=0, microsecond=0)
    clock = OffsetClock(boundary - timedelta(seconds=60) - real)  # plenty of time to set up
    utc = ZoneInfo("UTC")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        setup = await build(Settings(db_path=db), clock=clock)
        burst_due = boundary
        for n in range(communities):
            if n < burst:
                at = burst_due
            else:  # spread over the rest of the day, never inside the measured window
                at = boundary + timedelta(minutes=5 + (n * 1439 // communities) % 1400)
            place = Place("bench", f"c:{n}", f"r:{n}")
            rule = Recurrence("daily", at.time(), utc, (at - timedelta(days=1)).date())
            await setup.scheduler.add(place, "reflection", rule, "", "bench")
        await setup.close()

        # Now move the clock so the burst falls due 3 s after the scheduler starts.
        clock.offset = boundary - timedelta(seconds=3) - datetime.now(UTC)
        started = time.perf_counter()
        app = await build(Settings(db_path=db), clock=clock)
        port = LatenessPort(clock)
        port.due = {f"c:{n}": burst_due for n in range(burst)}
        port.expected = burst
        app.ports.attach("bench", port)
        await app.scheduler.start()
        await asyncio.sleep(0)
        load_s = time.perf_counter() - started
        print(f"scheduler.communities {communities}")
        print(f"scheduler.load_s {load_s:.3f}")

        await asyncio.sleep(1.0)  # settle, then measure idle CPU before the burst
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        await asyncio.sleep(1.5)
        idle = (cpu_seconds() - cpu0) / (time.perf_counter() - wall0)
        print(f"scheduler.idle_cpu_percent {idle * 100:.2f}")

        try:
            await asyncio.wait_for(port.all_in.wait(), timeout=10)
        except TimeoutError:
            print("scheduler.burst_incomplete 1")
        lateness = sorted(port.lateness_ms)
        print(f"scheduler.burst_posts {len(lateness)}")
        if lateness:
            p99 = lateness[min(len(lateness) - 1, int(len(lateness) * 0.99))]
            print(f"scheduler.lateness_p50_ms {statistics.median(lateness):.1f}")
            print(f"scheduler.lateness_p99_ms {p99:.1f}")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"scheduler.peak_rss_mb {peak_mb:.0f}")
        await app.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--communities", type=int, default=10_000)
    parser.add_argument("--burst", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(main(args.communities, args.burst))
