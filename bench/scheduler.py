"""The scheduler with many communities, each with a daily reflection at its own time.

Run: .venv/bin/python bench/scheduler.py [--communities 10000] [--burst 500]
Prints: time to load everything at start, lateness of posts against the real clock (p50 and
p99, ms) over a window in which a burst falls due together, CPU used while nothing is due,
and peak RSS. One process on SQLite, posting to a port that costs nothing.
Targets (issue 4): load < 2 s, p99 < 250 ms, no measurable idle CPU, < 120 MB.

Run: .venv/bin/python bench/scheduler.py --store postgresql [--communities 100000]
     [--burst 5000] [--post-ms 20] [--in-flight 16] [--url URL --url URL]
Runs three configurations one after the other, each on a freshly loaded store: SQLite with
1 process (``sqlite1``), PostgreSQL with 1 process (``pg1``) and with 3 processes on the same
database (``pg3``). PostgreSQL is a throwaway server started in a temp dir from Debian's
package, unless two empty databases are given with ``--url`` (one per PostgreSQL run).
Each process is bench/scheduler_worker.py, a real app and scheduler loop; the schedules are
loaded by this script first (``load_s``: the same rows ``scheduler.add`` writes, in batches).
A burst of ``--burst`` falls due at one instant 3 s after the processes are told to start;
the other schedules are spread over the day outside that window.
Prints, per configuration: ``load_s``; per process ``start_s`` (build the app +
scheduler.start until its loop first waits), ``peak_rss_mb``, ``cpu_s`` (CPU seconds from
the start signal until stopped), ``claim_s`` (wall seconds in claim transactions, planning
each row's next run included) and its share of the burst (``burst_posts``);
across processes ``lateness_p50_ms``/``lateness_p99_ms`` (due until the platform has the
post), ``handed_p50_ms``/``handed_p99_ms`` (due until the scheduler hands the post to the
port: its own lateness), ``posts_per_s`` (burst posts / seconds from the due time to the
last delivery), ``sending_posts_per_s`` (the same from the first hand-off instead: the
port's share, without the claim before it) and ``exactly_once`` (1 when every burst post
was delivered once across the processes; a duplicate or a missing one prints 0 and a loud
line on stderr).

The port is the bottleneck, not the claim: each process's port sends like a chat server's
HTTP API, at most ``--in-flight`` requests at once (16: a modest connection pool), each an
awaited round trip of ``--post-ms`` (20 ms: a REST call within the same region), so one
process posts at most 800/s and more processes add throughput as long as claiming keeps
up. Platform-wide limits are not modelled: Discord's global 50 requests/s belongs to the
bot token, shared by all its shards, and a homeserver limits per account; under those,
more processes add no posts per second at all. The burst therefore reaches the platform
no sooner than burst / (processes x 800/s): about 2 s for 5,000 on 3 processes, so the
250 ms target can only be met by the hand-off (``handed_p99_ms``), which is what issue 4's
zero-cost bench measures too; the delivered p99 is printed beside it.
Targets (issue 14), printed as ratios, not asserted: pg3 p99 lateness < 250 ms
(``*_vs_target_250ms`` < 1) and pg3 >= 2x the posts per second of pg1
(``pg3_vs_pg1_posts_per_s`` >= 2). The machine's CPU count limits what 3 processes can
show: each process and the PostgreSQL server compete for the same cores (``cpus``; the
1-minute ``load_average_1m`` at the start says how busy the machine was with other work).
What bounds the hand-off (measured here with one process, 5,000 due): a claim costs about
0.2 s per batch of 500 rows, half of it planning each row's next run in Python (dateutil),
half SQL on the server; rendering costs 0.1-0.15 ms a post. Claims are CPU work shared by
the processes and the server, so on 2 cores 3 processes can at best halve it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scheduler_worker import (  # noqa: E402
    PLATFORM,
    OffsetClock,
    PacedPort,
    burst_community,
    cpu_seconds,
    load,
    peak_rss_mb,
    settings_for,
)
from companion.app import build  # noqa: E402

WORKER = ROOT / "bench" / "scheduler_worker.py"
LEAD = timedelta(seconds=3)  # from "go" until the burst is due
QUIET = 1.0  # seconds to keep listening after the last expected post, for duplicates


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def next_boundary() -> datetime:
    """A minute boundary two minutes ahead: the burst's (shifted) due time."""
    return (datetime.now(UTC) + timedelta(minutes=2)).replace(second=0, microsecond=0)


def before(due: datetime) -> OffsetClock:
    """A clock a minute before ``due``: nothing is due while loading."""
    return OffsetClock(due - timedelta(seconds=60) - datetime.now(UTC))


# --- one process on SQLite, in this process (issue 4) -----------------------------------


async def single(communities: int, burst: int) -> None:
    due = next_boundary()
    clock = before(due)
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(str(Path(tmp) / "bench.db"), Path(tmp))
        setup = await build(settings, clock=clock)
        await load(setup, communities, burst, due)
        await setup.close()

        # Now move the clock so the burst falls due 3 s after the scheduler starts.
        clock.offset = due - LEAD - datetime.now(UTC)
        started = time.perf_counter()
        app = await build(settings, clock=clock)
        port = PacedPort(clock, due)
        port.expected = burst
        app.ports.attach(PLATFORM, port)
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
        lateness = port.handed_ms
        print(f"scheduler.burst_posts {len(lateness)}")
        if lateness:
            print(f"scheduler.lateness_p50_ms {statistics.median(lateness):.1f}")
            print(f"scheduler.lateness_p99_ms {percentile(lateness, 0.99):.1f}")
        print(f"scheduler.peak_rss_mb {peak_rss_mb():.0f}")
        await app.close()


# --- 1 and 3 worker processes, SQLite beside PostgreSQL (issue 14) ----------------------


@dataclass
class Worker:
    name: str
    proc: asyncio.subprocess.Process
    errors: IO[bytes]
    start_s: float = 0.0
    peak_rss_mb: float = 0.0
    cpu_s: float = 0.0
    claim_s: float = 0.0
    posts: list[tuple[str, str, float, float]] = field(default_factory=list)

    async def line(self, word: str, within: float) -> list[str]:
        """The next line, which must start with ``word``."""
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), within)
        words = raw.decode().split()
        if words[:1] != [word]:
            self.errors.seek(0)
            tail = self.errors.read().decode(errors="replace")[-3000:]
            raise RuntimeError(f"worker {self.name} said {raw!r}, not {word!r}:\n{tail}")
        return words

    def tell(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")

    async def listen(self) -> None:
        """Collect post lines until the worker says it is done."""
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            words = raw.decode().split()
            if words[:1] == ["post"]:
                self.posts.append((words[1], words[2], float(words[3]), float(words[4])))
            elif words[:1] == ["done"]:
                self.peak_rss_mb, self.cpu_s, self.claim_s = map(float, words[1:4])
                return


@dataclass(frozen=True)
class Options:
    communities: int
    burst: int
    post_ms: float
    in_flight: int

    @property
    def port_rate(self) -> float:
        """The most posts per second one process's port sends."""
        return self.in_flight * 1000 / self.post_ms if self.post_ms > 0 else float("inf")


async def spawn(name: str, store: str, due: datetime, opts: Options, tmp: Path) -> Worker:
    errors = (tmp / f"{name}.stderr").open("w+b")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER),
        store,
        name,
        due.isoformat(),
        str(opts.post_ms),
        str(opts.in_flight),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=errors,
        limit=1 << 20,
    )
    return Worker(name, proc, errors)


async def configuration(label: str, store: str, processes: int, opts: Options) -> dict[str, float]:
    """Load, run ``processes`` workers through the burst, print (and return) the figures."""
    due = next_boundary()
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        setup = await build(settings_for(store, Path(tmp)), clock=before(due))
        await load(setup, opts.communities, opts.burst, due)
        await setup.close()
        print(f"scheduler.{label}.load_s {time.perf_counter() - began:.2f}")

        workers: list[Worker] = []
        try:
            for n in range(processes):
                workers.append(await spawn(f"p{n + 1}", store, due, opts, Path(tmp)))
            for worker in workers:
                await worker.line("ready", within=120)
            offset = due - LEAD - datetime.now(UTC)
            for worker in workers:
                worker.tell(f"go {offset.total_seconds():.6f}")
            for worker in workers:
                worker.start_s = float((await worker.line("started", within=60))[1])
            listening = [asyncio.create_task(worker.listen()) for worker in workers]
            deadline = time.monotonic() + 30 + 3 * opts.burst / (processes * opts.port_rate)
            while time.monotonic() < deadline:
                if sum(len(w.posts) for w in workers) >= opts.burst:
                    await asyncio.sleep(QUIET)  # a duplicate would arrive now
                    break
                await asyncio.sleep(0.05)
            for worker in workers:
                worker.tell("stop")
            await asyncio.wait_for(asyncio.gather(*listening), timeout=60)
            for worker in workers:
                await worker.proc.wait()
        finally:
            for worker in workers:
                if worker.proc.returncode is None:
                    worker.proc.kill()
                    await worker.proc.wait()
                elif worker.proc.returncode != 0:
                    worker.errors.seek(0)
                    tail = worker.errors.read().decode(errors="replace")[-3000:]
                    print(f"!!! {label} {worker.name} failed:\n{tail}", file=sys.stderr)
                worker.errors.close()
    return report(label, workers, opts)


def report(label: str, workers: list[Worker], opts: Options) -> dict[str, float]:
    prefix = f"scheduler.{label}"
    print(f"{prefix}.processes {len(workers)}")
    for worker in workers:
        print(f"{prefix}.{worker.name}.start_s {worker.start_s:.3f}")
        print(f"{prefix}.{worker.name}.peak_rss_mb {worker.peak_rss_mb:.0f}")
        print(f"{prefix}.{worker.name}.cpu_s {worker.cpu_s:.2f}")
        print(f"{prefix}.{worker.name}.claim_s {worker.claim_s:.2f}")
        print(f"{prefix}.{worker.name}.burst_posts {len(worker.posts)}")
    posts = [post for worker in workers for post in worker.posts]
    print(f"{prefix}.burst_posts {len(posts)}")
    by_community = Counter(community for community, _, _, _ in posts)
    by_key = Counter(key for _, key, _, _ in posts)
    expected = {burst_community(n) for n in range(opts.burst)}
    missing = len(expected - set(by_community))
    twice = sum(count - 1 for count in by_community.values() if count > 1)
    stray = sum(count for community, count in by_community.items() if community not in expected)
    once = not missing and not twice and not stray and len(by_key) == len(posts)
    print(f"{prefix}.exactly_once {1 if once else 0}")
    if not once:
        print(
            f"!!! {label}: {missing} burst post(s) MISSING, {twice} DUPLICATE(S), "
            f"{stray} post(s) not due, {len(posts) - len(by_key)} repeated key(s)",
            file=sys.stderr,
        )
        print(f"{prefix}.burst_missing {missing}")
        print(f"{prefix}.burst_duplicates {twice}")
    if not posts:
        return {}
    handed = [h for _, _, h, _ in posts]
    delivered = [d for _, _, _, d in posts]
    figures = {
        "handed_p50_ms": statistics.median(handed),
        "handed_p99_ms": percentile(handed, 0.99),
        "lateness_p50_ms": statistics.median(delivered),
        "lateness_p99_ms": percentile(delivered, 0.99),
        "posts_per_s": len(posts) / max(max(delivered) / 1000, 1e-3),
        "sending_posts_per_s": len(posts) / max((max(delivered) - min(handed)) / 1000, 1e-3),
    }
    for name, value in figures.items():
        print(f"{prefix}.{name} {value:.{0 if name.endswith('per_s') else 1}f}")
    return figures


async def fleet(urls: list[str], opts: Options) -> None:
    print(f"scheduler.communities {opts.communities}")
    print(f"scheduler.burst {opts.burst}")
    print(f"scheduler.post_ms {opts.post_ms:g}")
    print(f"scheduler.in_flight {opts.in_flight}")
    print(f"scheduler.port_max_posts_per_s_per_process {opts.port_rate:.0f}")
    print(f"scheduler.cpus {os.cpu_count()}")
    print(f"scheduler.load_average_1m {os.getloadavg()[0]:.2f}")  # others' work beside it
    with tempfile.TemporaryDirectory() as tmp:
        sqlite1 = await configuration("sqlite1", str(Path(tmp) / "bench.db"), 1, opts)
    pg1 = await configuration("pg1", urls[0], 1, opts)
    pg3 = await configuration("pg3", urls[1], 3, opts)
    if pg3:
        for name in ("handed_p99_ms", "lateness_p99_ms"):
            print(f"scheduler.pg3.{name}_vs_target_250ms {pg3[name] / 250:.2f}")
    rate = "posts_per_s"
    if sqlite1 and pg1:
        print(f"scheduler.pg1_vs_sqlite1_posts_per_s {pg1[rate] / sqlite1[rate]:.2f}")
    if pg1 and pg3:
        print(f"scheduler.pg3_vs_pg1_posts_per_s {pg3[rate] / pg1[rate]:.2f}")
        sending = "sending_posts_per_s"
        print(f"scheduler.pg3_vs_pg1_sending_posts_per_s {pg3[sending] / pg1[sending]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--communities", type=int, help="10,000; 100,000 with postgresql")
    parser.add_argument("--burst", type=int, help="500; 5,000 with postgresql")
    parser.add_argument("--post-ms", type=float, default=20.0, help="a post's round trip")
    parser.add_argument("--in-flight", type=int, default=16, help="posts at once per process")
    parser.add_argument(
        "--url", action="append", default=[], help="an empty PostgreSQL database (give two)"
    )
    args = parser.parse_args()
    if args.store == "sqlite":
        asyncio.run(single(args.communities or 10_000, args.burst or 500))
        return
    opts = Options(args.communities or 100_000, args.burst or 5_000, args.post_ms, args.in_flight)
    if opts.burst > opts.communities or opts.in_flight < 1 or opts.post_ms < 0:
        parser.error("need burst <= communities, --in-flight >= 1 and --post-ms >= 0")
    if args.url:
        if len(args.url) != 2:
            parser.error("give --url twice: an empty database for 1 process, one for 3")
        asyncio.run(fleet(args.url, opts))
        return
    from tests.pg_server.server import PostgresServer

    with PostgresServer() as server:
        asyncio.run(fleet([server.fresh_database(), server.fresh_database()], opts))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # the workers were killed and the server stopped on the way
        sys.exit("interrupted")
