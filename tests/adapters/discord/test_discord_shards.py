"""Two `companion run` processes split one bot's guilds with Discord's sharding.

Each process runs one of two shards against the loopback double and both share one real
PostgreSQL. The double sends every event only to the sessions of its guild's shard, as
Discord does, and refuses a second answer to an interaction: so every interaction answered
exactly once shows that the processes split the work instead of both answering. Each
guild's scheduled reflection is posted once, by the process that serves its shard.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from companion.app import build
from companion.config import Settings
from companion.events import Place
from companion.recurrence import Recurrence
from tests.discord_double import DiscordDouble
from tests.fakes import FakeClock
from tests.pg_server.server import PostgresServer

pytestmark = pytest.mark.discord

ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT = 120  # importing discord.py and loading content, cold, on a busy machine


def write_config(home: Path, url: str, double: DiscordDouble, shard_id: int) -> Path:
    home.mkdir()
    config = home / "companion.toml"
    config.write_text(
        "\n".join(
            [
                "[storage]",
                f'url = "{url}"',
                'key_path = "../shared.key"',  # one anonymity key for every process
                "",
                "[discord]",
                f'api_base = "{double.api_base}"',
                f'gateway_url = "{double.gateway_url}"',
                "shard_count = 2",
                f"shard_ids = [{shard_id}]",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return config


def started(config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`companion run` with ``config``; its stderr in ``err`` beside the config."""
    with (config.parent / "err").open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "companion", "run", "--config", str(config)],
            cwd=config.parent, env=env, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip


async def plan_reflections(url: str, places: list[Place]) -> list[int]:
    """A daily reflection per place, set an hour ago and due half an hour ago: within the
    grace period, so the process serving the place posts it as soon as it starts."""
    now = datetime.now(UTC)
    app = await build(
        Settings(database_url=url, key_path=None), clock=FakeClock(now - timedelta(hours=1))
    )
    try:
        due = now - timedelta(minutes=30)
        rule = Recurrence("daily", due.time().replace(microsecond=0), ZoneInfo("UTC"), due.date())
        rows = [await app.scheduler.add(p, "reflection", rule, "", "test") for p in places]
        return [row.id for row in rows]
    finally:
        await app.close()


async def posted_by(url: str, schedule_id: int) -> list[str | None]:
    app = await build(Settings(database_url=url, key_path=None))
    try:
        occurrences = await app.store.schedules.occurrences(schedule_id)
        return [o.claimed_by for o in occurrences if o.state == "sent"]
    finally:
        await app.close()


async def test_two_processes_each_serve_their_shard_once(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.fresh_database()
    async with DiscordDouble() as double:
        guilds = [double.add_default_guild(f"Shard {n}", shard=(n, 2)) for n in (0, 1)]
        places = [Place("discord", str(g.guild.id), str(g.text.id)) for g in guilds]
        schedules = await plan_reflections(url, places)
        env = {**os.environ, "COMPANION_DISCORD_TOKEN": double.token, "PYTHONPATH": str(ROOT)}
        # Popen, not asyncio's subprocesses: their transports, collected after the test's
        # loop has closed, raise there. The double keeps this loop; nothing here blocks it.
        configs = [write_config(tmp_path / f"p{n}", url, double, n) for n in (0, 1)]
        processes = [await asyncio.to_thread(started, c, env) for c in configs]
        try:
            await double.wait_until(
                lambda: (
                    sum(s.current is not None for s in double.gateway.sessions.values()) == 2
                    or any(p.poll() is not None for p in processes)
                ),
                START_TIMEOUT,
                "both processes to identify",
            )
            stopped = [
                c.parent.name
                for c, p in zip(configs, processes, strict=True)
                if p.poll() is not None
            ]
            logs = [(c.parent / "err").read_text(errors="replace")[-3000:] for c in configs]
            assert not stopped, f"{stopped} stopped early; their logs: {logs}"
            shards = sorted(s.shard for s in double.gateway.sessions.values())
            assert shards == [(0, 2), (1, 2)]

            # Each guild's reflection, posted once, by the process serving its shard.
            def posts_in(channel_id: int) -> list[object]:
                return [
                    m
                    for m in double.messages
                    if m.channel_id == channel_id and m.source == "channel"
                ]

            await double.wait_until(
                lambda: all(posts_in(g.text.id) for g in guilds), 30, "both reflections"
            )
            for n, schedule_id in enumerate(schedules):
                holder = f"{socket.gethostname()}:{processes[n].pid}"
                assert await posted_by(url, schedule_id) == [holder]

            # Interactions in either guild, and in a DM (Discord sends DMs to shard 0).
            records = [
                await double.slash("define", {"term": "allyship"}, guild=g.guild, user=g.member)
                for g in guilds
            ]
            records.append(
                await double.slash_dm("define", {"term": "privilege"}, user=guilds[1].member.user)
            )
            for record in records:
                await double.wait_for_response(record, 30)
            await asyncio.sleep(0.3)  # room for a second answer, which must not come
            for record in records:
                assert len([c for c in double.callbacks if c.interaction_id == record.id]) == 1
            for g in guilds:
                assert len(posts_in(g.text.id)) == 1
            assert "an active and consistent practice" in records[0].original.content
            double.assert_clean()  # no "Interaction has already been acknowledged"
        finally:
            for process in processes:
                if process.poll() is None:
                    process.terminate()
            for n, process in enumerate(processes):
                try:
                    await asyncio.to_thread(process.wait, 20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    await asyncio.to_thread(process.wait)
                err = (configs[n].parent / "err").read_text(errors="replace")
                assert process.returncode in (0, -15), err[-2000:]
