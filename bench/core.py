"""Core throughput on one store: define, reflect, and the raw driver for comparison.

Run: .venv/bin/python bench/core.py [--seconds 2] [--store sqlite|postgresql] [--url URL]
Prints one figure per line: commands per second and the ratios to the raw driver's rate
(aiosqlite on SQLite; asyncpg single-row reads on the same server for PostgreSQL, which is
started in a temp dir from Debian's package unless --url names one).
Targets (issue 2): define >= 20,000/s; reflect >= 0.5 x raw aiosqlite single-row reads.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from companion.app import build
from companion.config import Settings
from companion.events import Actor, Place
from tests.fakes import FakeClock

USER = Actor("bench:user", "bench")
PLACE = Place("bench", "c:0", "r:0")


async def rate(label: str, seconds: float, op) -> float:  # type: ignore[no-untyped-def]
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            await op(count)
            count += 1
    per_second = count / (time.perf_counter() - start)
    print(f"{label} {per_second:,.0f}")
    return per_second


async def main(seconds: float, store: str, url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clock = FakeClock(datetime(2026, 3, 2, 12, tzinfo=UTC))
        settings = Settings(
            db_path=Path(tmp) / "bench.db", database_url=url, commands_per_window=0
        )  # no flood limit: one member sends every command here
        app = await build(settings, clock=clock)
        dispatcher, at = app.dispatcher, clock.now()
        terms = ["allyship", "privilege", "ally theater", "equity", "alyship", "tone policing"]

        async def define(i: int) -> None:
            reply = await dispatcher.run_text(f"define {terms[i % len(terms)]}", USER, PLACE, at)
            assert "**" in reply.text

        communities = [PLACE._replace(community_id=f"c:{n}") for n in range(2000)]
        for place in communities:  # warm: each community's rotation history is loaded once
            await dispatcher.run_text("reflect", USER, place, clock.now())
        day = [0]

        async def reflect_new_day(i: int) -> None:
            if i % len(communities) == 0:
                day[0] += 1
                clock.set(at + timedelta(days=day[0]))
            place = communities[i % len(communities)]
            reply = await dispatcher.run_text("reflect", USER, place, clock.now())
            assert reply.text.startswith("**Today's reflection**"), reply.text

        async def reflect_same_day(i: int) -> None:
            place = communities[i % 50]
            reply = await dispatcher.run_text("reflect", USER, place, clock.now())
            assert reply.text.startswith("**Today's reflection**"), reply.text

        db = app.store.db
        await db.execute("CREATE TABLE IF NOT EXISTS bench (k INTEGER PRIMARY KEY, v TEXT)")
        await db.executemany("INSERT INTO bench VALUES (?, ?)", [(k, "x") for k in range(1000)])
        if store == "postgresql":
            pool = app.store.db.pool  # type: ignore[attr-defined]

            async def raw(i: int) -> None:
                await pool.fetchrow("SELECT v FROM bench WHERE k = $1", i % 1000)

        else:
            conn = app.store.db.conn  # type: ignore[attr-defined]

            async def raw(i: int) -> None:
                await conn.execute_fetchall("SELECT v FROM bench WHERE k = ?", (i % 1000,))

        d = await rate("core.define_per_s", seconds, define)
        r_new = await rate("core.reflect_first_of_day_per_s", seconds, reflect_new_day)
        r_same = await rate("core.reflect_same_day_per_s", seconds, reflect_same_day)
        driver = "asyncpg" if store == "postgresql" else "aiosqlite"
        raw_rate = await rate(f"core.raw_{driver}_fetch_per_s", seconds, raw)
        print(f"core.define_vs_target_20k {d / 20_000:.2f}")
        print(f"core.reflect_first_of_day_vs_raw {r_new / raw_rate:.2f}")
        print(f"core.reflect_same_day_vs_raw {r_same / raw_rate:.2f}")
        await app.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--url", default=None, help="an empty PostgreSQL database to use")
    args = parser.parse_args()
    print(f"core.store {args.store}")
    if args.store == "postgresql" and args.url is None:
        from tests.pg_server.server import PostgresServer

        with PostgresServer() as server:
            asyncio.run(main(args.seconds, args.store, server.fresh_database()))
    else:
        asyncio.run(main(args.seconds, args.store, args.url))
