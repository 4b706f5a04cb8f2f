"""One scheduler process of bench/scheduler.py, and the parts both share.

bench/scheduler.py runs this file with ``sys.executable`` (PYTHONPATH at the repository root):

    scheduler_worker.py STORE NAME DUE_ISO POST_MS IN_FLIGHT

STORE is a SQLite file or a ``postgresql://`` URL already loaded by the parent; DUE_ISO is
the (shifted) moment the burst falls due. One line each way on stdin/stdout:

    -> ready BUILD_S                     the app is built (store opened, features wired)
    <- go OFFSET_S                       shift the clock by this many seconds, then start
    -> started START_S                   scheduler.start() until its loop first waits
    -> post COMMUNITY KEY HANDED_MS DELIVERED_MS    one line per post
    <- stop                              (or end of input): stop the scheduler
    -> done PEAK_RSS_MB CPU_S CLAIM_S    CPU seconds from go to stop; wall seconds claiming

Every worker gets the same offset, so all measure lateness against the same real moment.
"""

from __future__ import annotations

import asyncio
import itertools
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from companion.app import App, build
from companion.config import Settings
from companion.events import Kind, MessageRef, Place
from companion.ports import SystemClock
from companion.recurrence import Recurrence
from companion.scheduler import _new_schedule  # the row builder scheduler.add uses
from companion.store.schedules import NewSchedule

PLATFORM = "bench"
LOAD_BATCH = 2000


class OffsetClock(SystemClock):
    """The real clock, shifted so a minute boundary comes a few seconds after start.

    ``first_wait`` is set when the scheduler's loop first goes to sleep: its start-up is over.
    """

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset
        self.first_wait = asyncio.Event()

    def now(self) -> datetime:
        return super().now() + self.offset

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        self.first_wait.set()
        await super().sleep_until(when, wake)


class PacedPort:
    """Records each post's lateness against ``due``, in ms: when the scheduler handed it
    over, and when it was delivered. With ``post_ms`` it sends like a chat server's HTTP
    API: at most ``in_flight`` requests at once, each an awaited round trip of ``post_ms``
    (no CPU), so a process posts at most in_flight * 1000 / post_ms per second."""

    def __init__(
        self,
        clock: OffsetClock,
        due: datetime,
        *,
        post_ms: float = 0.0,
        in_flight: int = 1,
        on_post: Callable[[str, str, float, float], None] | None = None,
    ) -> None:
        self.clock, self.due, self.post_ms = clock, due, post_ms
        self.gate = asyncio.Semaphore(max(1, in_flight))
        self.on_post = on_post
        self.handed_ms: list[float] = []
        self.expected = 0
        self.all_in = asyncio.Event()

    def _late_ms(self) -> float:
        return (self.clock.now() - self.due).total_seconds() * 1000

    async def post(
        self, place: Place, text: str, *, key: str, kind: Kind = Kind.ANSWER
    ) -> MessageRef:
        handed = self._late_ms()
        if self.post_ms > 0:
            async with self.gate:
                await asyncio.sleep(self.post_ms / 1000)
        delivered = self._late_ms()
        self.handed_ms.append(handed)
        if self.on_post is not None:
            self.on_post(place.community_id, key, handed, delivered)
        if len(self.handed_ms) >= self.expected:
            self.all_in.set()
        return MessageRef(place, key)

    async def open_thread(
        self, place: Place, title: str, text: str, *, key: str, kind: Kind = Kind.DISCUSSION
    ) -> Place:
        raise NotImplementedError  # the bench schedules reflections only


def burst_community(n: int) -> str:
    return f"c:{n}"


def bench_rows(communities: int, burst: int, due: datetime, now: datetime) -> Iterator[NewSchedule]:
    """Daily reflections: the first ``burst`` due together at ``due``, the rest spread over
    the day from five minutes after it, never inside the measured window."""
    utc = ZoneInfo("UTC")
    for n in range(communities):
        if n < burst:
            at = due
        else:
            at = due + timedelta(minutes=5 + (n * 1439 // communities) % 1400)
        rule = Recurrence("daily", at.time(), utc, (at - timedelta(days=1)).date())
        first = rule.next_after(now)
        assert first is not None
        place = Place(PLATFORM, burst_community(n), f"r:{n}")
        yield _new_schedule(place, "reflection", rule, "", "bench", now, first)


async def load(app: App, communities: int, burst: int, due: datetime) -> None:
    """What ``scheduler.add`` would write for each, in batches inside one unit of work."""
    rows = bench_rows(communities, burst, due, app.clock.now())
    async with app.store.unit_of_work() as uow:
        while batch := list(itertools.islice(rows, LOAD_BATCH)):
            await uow.schedules.add_many(batch)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's peak RSS. Linux's VmHWM, not ru_maxrss: a child's ru_maxrss starts at
    its parent's RSS when it was forked, even across exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def settings_for(store: str, home: Path) -> Settings:
    if store.startswith("postgresql://"):
        return Settings(db_path=home / "worker.db", database_url=store)  # key file beside it
    return Settings(db_path=Path(store))


def time_claims(app: App) -> list[float]:
    """Wall seconds the scheduler spends in claim transactions (planning included), in [0]."""
    repo, spent = app.store.schedules, [0.0]
    claim_due = repo.claim_due

    async def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return await claim_due(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - began

    setattr(repo, "claim_due", timed)  # noqa: B010  (an instance's method, for this bench)
    return spent


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def run(store: str, name: str, due: datetime, post_ms: float, in_flight: int) -> None:
    loop = asyncio.get_running_loop()
    clock = OffsetClock(timedelta(0))
    clock.offset = due - timedelta(seconds=60) - clock.now()  # nothing due until "go"
    with tempfile.TemporaryDirectory() as home:
        began = time.perf_counter()
        app = await build(settings_for(store, Path(home)), clock=clock)
        build_s = time.perf_counter() - began
        say(f"ready {build_s:.3f}")
        words = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if words[:1] != ["go"]:
            await app.close()
            return
        clock.offset = timedelta(seconds=float(words[1]))
        cpu_at_go = cpu_seconds()
        app.scheduler.holder = name
        claiming = time_claims(app)
        posts: list[str] = []
        port = PacedPort(
            clock,
            due,
            post_ms=post_ms,
            in_flight=in_flight,
            on_post=lambda c, k, h, d: posts.append(f"post {c} {k} {h:.1f} {d:.1f}"),
        )
        app.ports.attach(PLATFORM, port)
        began = time.perf_counter()
        await app.scheduler.start()
        await clock.first_wait.wait()
        say(f"started {build_s + time.perf_counter() - began:.3f}")
        stop = loop.run_in_executor(None, sys.stdin.readline)
        while not stop.done():
            await asyncio.wait({stop}, timeout=0.1)
            if posts:
                sys.stdout.write("\n".join(posts) + "\n")
                sys.stdout.flush()
                posts.clear()
        await app.close()
        for line in posts:
            say(line)
        say(f"done {peak_rss_mb():.1f} {cpu_seconds() - cpu_at_go:.2f} {claiming[0]:.2f}")


if __name__ == "__main__":
    store_arg, name_arg, due_arg, post_ms_arg, in_flight_arg = sys.argv[1:6]
    due_at = datetime.fromisoformat(due_arg).astimezone(UTC)
    asyncio.run(run(store_arg, name_arg, due_at, float(post_ms_arg), int(in_flight_arg)))
