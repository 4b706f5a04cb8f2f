"""A Guild Scheduled Event survives a crash: `companion run` is killed (SIGKILL) after
Discord made the event and before the bot stored its id, then started again, as a
supervisor would. Discord takes no nonce for scheduled events, so the restarted process
must find the one it made (the loopback double lists them as Discord does) instead of
making a second; "Interested" on it then counts as a yes.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from companion.app import build
from companion.config import Settings
from tests.discord_double import DiscordDouble, Perm

pytestmark = pytest.mark.discord

ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT = 120  # importing discord.py and loading content, cold, on a busy machine


def write_config(home: Path, double: DiscordDouble) -> Path:
    home.mkdir(exist_ok=True)
    config = home / "companion.toml"
    config.write_text(
        "\n".join(
            [
                "[storage]",
                'path = "companion.db"',
                "",
                "[discord]",
                f'api_base = "{double.api_base}"',
                f'gateway_url = "{double.gateway_url}"',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return config


def started(config: Path, env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
    with (config.parent / log).open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "companion", "run", "--config", str(config)],
            cwd=config.parent, env=env, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip


async def identified(double: DiscordDouble, process: subprocess.Popen[bytes], count: int) -> None:
    await double.wait_until(
        lambda: double.identify_count >= count or process.poll() is not None,
        START_TIMEOUT,
        "the process to identify",
    )
    assert process.poll() is None, "the process stopped early"


async def test_a_scheduled_event_made_before_a_kill_is_adopted_not_made_twice(
    tmp_path: Path,
) -> None:
    async with DiscordDouble() as double:
        guild = double.add_default_guild("Crash")
        guild.bot_role.permissions |= Perm.CREATE_EVENTS
        config = write_config(tmp_path / "home", double)
        env = {**os.environ, "COMPANION_DISCORD_TOKEN": double.token, "PYTHONPATH": str(ROOT)}
        day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
        double.hold_event_answer = held = asyncio.Event()
        process = await asyncio.to_thread(started, config, env, "err1")
        try:
            await identified(double, process, 1)
            record = await double.slash(
                "event plan",
                {"rule": "once", "details": f"{day} 18:30 Reading circle | here"},
                guild=guild.guild,
                channel=guild.text,
                user=guild.moderator,
            )
            await double.wait_for_response(record, 30)
            assert "Planned event #1" in record.original.content, record.original.content
            await double.wait_until(lambda: bool(double.scheduled_events), 30, "the event")
            process.kill()  # SIGKILL: Discord made it, the bot never heard its id
            assert await asyncio.to_thread(process.wait, 20) == -9
            double.hold_event_answer = None
            held.set()  # the held answer goes to a closed connection

            process = await asyncio.to_thread(started, config, env, "err2")
            await identified(double, process, 2)
            await double.wait_until(lambda: len(double.threads) == 1, 60, "the announcement")
            assert len(double.scheduled_events) == 1, double.scheduled_events
            [(event_id, event)] = double.scheduled_events.items()
            assert event["name"] == "Reading circle"
            assert event["scheduled_start_time"].startswith(f"{day}T18:30:00")
            assert await double.interested(guild.member.user, event_id)
            await asyncio.sleep(0.5)  # the gateway event reaches the process
        finally:
            if process.poll() is None:
                process.terminate()
            try:
                await asyncio.to_thread(process.wait, 20)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        err = (config.parent / "err2").read_text(errors="replace")
        assert process.returncode in (0, -15), err[-2000:]

    app = await build(Settings(db_path=config.parent / "companion.db"))
    try:
        stored = await app.store.events.get(str(guild.guild.id), 1)
        assert stored is not None and stored.native_event == str(event_id)
        assert (await app.store.events.counts([1]))[1].yes == 1  # Interested, counted
    finally:
        await app.close()
