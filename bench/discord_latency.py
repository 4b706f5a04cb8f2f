"""Discord adapter latency through the loopback double, next to a bare websocket echo.

Run: .venv/bin/python bench/discord_latency.py [--count 300] [--rounds 5]
Measures, over ``--count`` ``/define`` interactions, the time from the double starting to send
INTERACTION_CREATE (its gateway dispatch: JSON, zlib-stream, websocket frame) to the bot's
``POST /interactions/{id}/{token}/callback`` reaching the double's handler. The same double
then serves a minimal discord.py bot (a ``discord.Client`` with one ``/define`` app command
that answers at once: the peer, issue 24's target is define p50 at most its p50), and a bare
client (aiohttp websocket, HELLO/IDENTIFY/heartbeat, zlib-stream like discord.py) that
answers each INTERACTION_CREATE with an immediate callback POST, timed the same way.
Everything runs in one event loop, one interaction at a time.
Prints one figure per line, in milliseconds. Target (issue 6): define p50 under 1 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from aiohttp import web

from companion.app import build
from companion.config import Settings
from companion_adapters.discord import DiscordAdapter, DiscordConfig
from tests.discord_double import DiscordDouble
from tests.fakes import FakeClock

TERMS = ["allyship", "privilege", "ally theater", "equity", "alyship", "tone policing"]
WARMUP = 30


class TimedDouble(DiscordDouble):
    """The double, noting when each INTERACTION_CREATE starts out and its callback arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: dict[str, float] = {}
        self.arrived: dict[str, float] = {}
        self.answered = asyncio.Event()
        dispatch = self.gateway.dispatch

        async def timed_dispatch(event: str, data: dict[str, Any]) -> int:
            if event == "INTERACTION_CREATE":
                self.sent[data["id"]] = time.perf_counter()
            return await dispatch(event, data)

        self.gateway.dispatch = timed_dispatch  # type: ignore[method-assign]

    async def _callback(self, request: web.Request) -> web.StreamResponse:
        self.arrived[request.match_info["id"]] = time.perf_counter()
        try:
            return await super()._callback(request)
        finally:
            self.answered.set()


async def measure(
    double: TimedDouble, count: int, interact: Callable[[int], Awaitable[Any]]
) -> list[float]:
    """Milliseconds from send to callback arrival, one interaction at a time."""
    latencies: list[float] = []
    for i in range(WARMUP + count):
        double.answered.clear()
        record = await interact(i)
        await asyncio.wait_for(double.answered.wait(), 5)
        await asyncio.sleep(0.001)  # let the bot finish with the response before the next one
        key = str(record.id)
        if i >= WARMUP:
            latencies.append((double.arrived[key] - double.sent[key]) * 1000)
    return latencies


async def bot_phase(double: TimedDouble, count: int, db: Path) -> list[float]:
    clock = FakeClock(datetime(2026, 3, 2, 12, tzinfo=UTC))
    # One member sends every command: without this, the flood limit answers from the 11th on.
    settings = Settings(db_path=db, commands_per_window=10**9)
    app = await build(settings, clock=clock)
    guild = double.add_default_guild()
    config = DiscordConfig(api_base=double.api_base, gateway_url=double.gateway_url)
    adapter = DiscordAdapter(app.gateway, config, guild_ready_timeout=0.01)
    task = asyncio.create_task(adapter.serve(double.token))
    try:
        await double.wait_ready(timeout=5)

        async def define(i: int) -> Any:
            return await double.slash("define", {"term": TERMS[i % len(TERMS)]}, user=guild.member)

        latencies = await measure(double, count, define)
        assert not double.errors, double.errors
        answers = [c.data.get("content", "") for c in double.callbacks]
        assert len(answers) == WARMUP + count and all(a.startswith("**") for a in answers)
        return latencies
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await app.close()


async def minimal_phase(double: TimedDouble, count: int, answer: str = "") -> list[float]:
    """The least a discord.py bot does: one app command, answered with a fixed line (or
    ``answer``: as long as Companion's, to tell the reply's size from the rest)."""
    import discord
    from discord import app_commands

    from companion_adapters.discord.adapter import endpoints

    client = discord.Client(intents=discord.Intents.none())
    tree = app_commands.CommandTree(client)
    ready = asyncio.Event()

    @tree.command(name="define", description="Look up a word")
    async def define(interaction: discord.Interaction, term: str) -> None:
        await interaction.response.send_message(answer or f"**{term}**")

    @client.event
    async def on_ready() -> None:
        ready.set()

    with endpoints(double.api_base, double.gateway_url):
        await client.login(double.token)
        task = asyncio.create_task(client.connect(reconnect=False))
        try:
            await asyncio.wait_for(ready.wait(), 5)

            async def ask(i: int) -> Any:
                return await double.slash("define", {"term": TERMS[i % len(TERMS)]})

            return await measure(double, count, ask)
        finally:
            await client.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class EchoClient:
    """The least a bot can do: identify, heartbeat, answer every interaction at once."""

    def __init__(self, double: DiscordDouble) -> None:
        self.double = double
        self.session = aiohttp.ClientSession()
        self.ready = asyncio.Event()
        self.body = json.dumps({"type": 4, "data": {"content": "echo"}}).encode()
        self.headers = {"Content-Type": "application/json"}

    async def run(self) -> None:
        url = self.double.gateway_url + "?v=10&encoding=json&compress=zlib-stream"
        inflate = zlib.decompressobj()
        async with self.session.ws_connect(url, max_msg_size=0) as ws:
            heartbeat: asyncio.Task[None] | None = None
            async for msg in ws:
                payload = json.loads(inflate.decompress(msg.data))
                op = payload["op"]
                if op == 10:
                    interval = payload["d"]["heartbeat_interval"] / 1000
                    heartbeat = asyncio.create_task(self.heartbeat(ws, interval))
                    identify = {"token": self.double.token, "intents": 1, "properties": {}}
                    await ws.send_json({"op": 2, "d": identify})
                elif op == 0 and payload["t"] == "INTERACTION_CREATE":
                    data = payload["d"]
                    await self.answer(data["id"], data["token"])
                elif op == 0 and payload["t"] == "GUILD_CREATE":
                    self.ready.set()
            if heartbeat is not None:
                heartbeat.cancel()

    async def heartbeat(self, ws: aiohttp.ClientWebSocketResponse, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await ws.send_json({"op": 1, "d": None})

    async def answer(self, interaction_id: str, token: str) -> None:
        url = f"{self.double.api_base}/interactions/{interaction_id}/{token}/callback"
        async with self.session.post(url, data=self.body, headers=self.headers) as response:
            await response.read()


async def echo_phase(double: TimedDouble, count: int) -> list[float]:
    client = EchoClient(double)
    task = asyncio.create_task(client.run())
    try:
        await asyncio.wait_for(client.ready.wait(), 5)

        async def define(i: int) -> Any:
            return await double.slash("define", {"term": TERMS[i % len(TERMS)]})

        return await measure(double, count, define)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.session.close()


def report(label: str, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    print(f"{label}.p50_ms {statistics.median(ordered):.3f}")
    print(f"{label}.p95_ms {p95:.3f}")


async def main(count: int, rounds: int) -> None:
    """The four phases in turn, ``rounds`` times over (each a fresh double), so a drift of
    the machine's load hits all of them alike; each figure is over all its rounds."""
    define: list[float] = []
    minimal: list[float] = []
    minimal_sized: list[float] = []
    echo: list[float] = []
    each = max(1, count // rounds)
    sized = ""
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(rounds):
            double = TimedDouble()
            async with double:
                define += await bot_phase(double, each, Path(tmp) / f"round{n}.db")
                if not sized:
                    sized = max((c.data.get("content", "") for c in double.callbacks), key=len)
                minimal += await minimal_phase(double, each)
                minimal_sized += await minimal_phase(double, each, "x" * len(sized))
                echo += await echo_phase(double, each)
    report("discord.define", define)
    report("discord.minimal_discordpy", minimal)
    report("discord.minimal_discordpy_same_size", minimal_sized)
    report("discord.echo", echo)
    extra = statistics.median(define) - statistics.median(echo)
    print(f"discord.define_minus_echo.p50_ms {extra:.3f}")
    ratio = statistics.median(define) / statistics.median(minimal)
    print(f"discord.ratio define / minimal_discordpy p50 {ratio:.2f} (target <= 1.00)")
    ratio = statistics.median(define) / statistics.median(minimal_sized)
    print(f"discord.ratio define / minimal_discordpy_same_size p50 {ratio:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=300, help="interactions per phase")
    parser.add_argument("--rounds", type=int, default=5, help="turns of the four phases")
    args = parser.parse_args()
    asyncio.run(main(args.count, args.rounds))
