"""One process syncs a Matrix account: a second Companion on the same database, configured
for the same bot, refuses to start (the account's lease) until the first stops."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest

from companion.app import App, build
from companion.config import ConfigError
from companion.content import Content
from companion_adapters.matrix import run
from companion_adapters.matrix.adapter import MatrixAdapter
from tests.matrix_server.people import Bot, matrix_settings
from tests.matrix_server.synapse import SynapseServer

pytestmark = pytest.mark.matrix


async def other_process(synapse: SynapseServer, bot: Bot, shipped: Content) -> App:
    """The same bot account and database as ``bot``, as another process would run them."""
    settings = matrix_settings(synapse, bot.user, bot.db_path)
    app = await build(settings, clock=bot.clock, content=shipped)
    app.scheduler.holder = "other-host:4242"  # another process's name on its leases
    return app


async def until_synced(app: App, task: asyncio.Task[None]) -> MatrixAdapter:
    deadline = time.monotonic() + 5
    while True:
        if task.done():
            task.result()
        port = app.ports.get("matrix")
        if isinstance(port, MatrixAdapter) and port.sync.synced.is_set():
            return port
        assert time.monotonic() < deadline, "the second process did not finish its first sync"
        await asyncio.sleep(0.01)


async def test_a_second_process_for_the_same_account_refuses_until_the_first_stops(
    start_bot: Any, synapse: SynapseServer, shipped: Content
) -> None:
    bot = await start_bot()
    holder = bot.app.scheduler.holder

    second = await other_process(synapse, bot, shipped)
    try:
        with pytest.raises(ConfigError) as refused:
            await run(second.gateway, second.settings)
        message = str(refused.value)
        assert holder in message and bot.id in message and "wait 90 s" in message
        assert "matrix" not in second.ports  # it never synced nor answered

        # the first keeps its lease while it syncs: past the first 90 s, still refused
        lease = bot.app.store.account_leases
        for _ in range(4):
            bot.clock.advance(timedelta(seconds=30))
            deadline = time.monotonic() + 2
            renewed = bot.clock.now() + timedelta(seconds=90)
            while (held := await lease.holder(f"matrix:{bot.id}")) is None or (
                held.until != renewed
            ):
                assert time.monotonic() < deadline, "the lease was not renewed"
                await asyncio.sleep(0.01)
        with pytest.raises(ConfigError, match="stop it, or wait"):
            await run(second.gateway, second.settings)

        await bot.stop()  # a clean stop releases the account at once
        task = asyncio.create_task(run(second.gateway, second.settings))
        try:
            adapter = await until_synced(second, task)
            assert adapter.me == bot.id
            held = await second.store.account_leases.holder(f"matrix:{bot.id}")
            assert held is not None and held.holder == "other-host:4242"
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        await second.close()
