"""Three Companion processes on one PostgreSQL: 1,000 posts due in the same minute, one
process SIGKILLed mid-burst; every post is sent, none twice but the dead one's resends with
the same key (which the platform drops), and the dead one's claims are taken over."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

from companion.app import build
from companion.config import Settings
from companion.events import Place
from companion.recurrence import Recurrence
from tests.conftest import START

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "tests" / "core" / "fleet_worker.py"
POSTS = 1000
SPEED = 60.0  # one simulated minute a real second


def started(
    url: str, log: Path, name: str, go: Path, skew: float, sim_start: datetime, stall: int | None
):
    args = [sys.executable, str(WORKER), url, str(log), name, str(go), str(skew)]
    args += [sim_start.isoformat()]
    args += [datetime(2026, 3, 2, 13, 15, tzinfo=UTC).isoformat(), str(SPEED)]
    args += [str(stall)] if stall is not None else []
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def lines(log: Path) -> list[tuple[str, str]]:
    if not log.exists():
        return []
    return [tuple(line.split()) for line in log.read_text().splitlines() if line]  # type: ignore[misc]


def kill_b_mid_burst(workers: dict[str, subprocess.Popen[str]], logs: dict[str, Path], go: Path):
    """Start the shared clock once all are up, SIGKILL b after its 25th post, wait for a, c."""
    try:
        deadline = time.time() + 60
        while not all(Path(f"{log}.ready").exists() for log in logs.values()):
            assert time.time() < deadline and all(p.poll() is None for p in workers.values())
            time.sleep(0.02)
        go.write_text(str(time.time()))  # simulated 12:59:58 now, in every process
        while len(lines(logs["b"])) < 25 and time.time() < deadline:
            time.sleep(0.02)
        if len(lines(logs["b"])) != 25:
            workers["b"].kill()
            raise AssertionError(f"b never got into the burst: {workers['b'].communicate()[1]}")
        workers["b"].send_signal(signal.SIGKILL)  # mid-burst: its other claims are in flight
        for name in ("a", "c"):
            _, err = workers[name].communicate(timeout=60)
            assert workers[name].returncode == 0, err
    finally:
        for proc in workers.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert workers["b"].wait() == -signal.SIGKILL


async def test_three_processes_post_a_burst_once_though_one_is_killed(
    postgres, tmp_path, clock, small
):
    url = postgres.fresh_database()
    app = await build(
        Settings(db_path=tmp_path / "setup.db", database_url=url), clock=clock, content=small
    )
    once = Recurrence("once", clock_time(13, 0), ZoneInfo("UTC"), date(2026, 3, 2))
    async with app.store.unit_of_work() as uow:
        for n in range(POSTS):
            await app.scheduler.add(
                Place("test", f"c:{n}", "r:main"), "reflection", once, "", "u:mod", repos=uow
            )
    await app.close()

    sim_start = datetime(2026, 3, 2, 12, 59, 58, tzinfo=UTC)
    assert START < sim_start
    go = tmp_path / "go"
    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b", "c")}
    # b's clock runs 15 simulated seconds ahead (clocks differ across machines), so b claims
    # the burst first and is killed holding most of it; a and c must take it over.
    workers = {
        name: started(
            url,
            logs[name],
            name,
            go,
            0.25 if name == "b" else 0.0,
            sim_start,
            25 if name == "b" else None,
        )
        for name in logs
    }
    await asyncio.to_thread(kill_b_mid_burst, workers, logs, go)

    sent = [entry for log in logs.values() for entry in lines(log)]
    keys = Counter(key for key, _ in sent)
    assert len(keys) == POSTS  # none lost
    twice = {key for key, count in keys.items() if count > 1}
    killed = {key for key, name in sent if name == "b"}
    assert all(count <= 2 for count in keys.values())
    assert twice <= killed  # only the dead process's posts were sent again, with their keys

    check = await build(
        Settings(db_path=tmp_path / "check.db", database_url=url), clock=clock, content=small
    )
    rows = await check.store.db.fetchall(
        "SELECT state, claimed_by, attempts, COUNT(*) FROM occurrence GROUP BY 1, 2, 3"
    )
    await check.close()
    by = {(state, holder, attempts): count for state, holder, attempts, count in rows}
    assert sum(by.values()) == POSTS and all(state == "sent" for state, _, _ in by)
    taken_over = sum(c for (_, holder, attempts), c in by.items() if attempts == 2)
    assert taken_over >= 1 and all(h in ("a", "c") for (_, h, a) in by if a == 2)
    assert not any(h == "b" for (_, h, _) in by)  # b's every claim went to a or c
