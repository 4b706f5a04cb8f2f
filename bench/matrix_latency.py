"""How fast the Matrix bot answers, next to the homeserver's own floor, in one run.

Starts a real Synapse on 127.0.0.1 (the test harness), then the bot as it runs in
production (``python -m companion run --config FILE`` with the token in the environment),
and a minimal echo client (a bare matrix-nio client that sends each message straight back,
also in its own process). One user, with a long-polling sync, sends ``!define allyship`` to
the bot and a line to the echo client, alternately, and times each send until the answer
arrives in its sync.

Prints one figure per line:
  matrix.define.p50_ms / p95_ms    user's command -> the bot's reply seen by the user
  matrix.floor.p50_ms / p95_ms     user's line -> the echo seen by the user (same Synapse)
  matrix.ratio_p50 / ratio_p95     bot / floor
  matrix.floor_same_size.*         the echo answering with as many bytes as the bot's reply
  matrix.idle_rss_mb               the bot process, idle after the run
  matrix.echo_idle_rss_mb          the bare echo client, for comparison
  matrix.first_hello_s             first start ever: process start -> its hello after an invite
  matrix.first_reply_s             a restart: process start -> its reply to a command sent then

With ``--encrypted`` the user's client encrypts (its own crypto store, as Element) and the
same bot is also in an end-to-end encrypted room, measured in the same interleaved loop:
  matrix.encrypted.p50_ms / p95_ms / p99_ms   the same command in the encrypted room
  matrix.encrypted_ratio_p50                  encrypted / unencrypted room (target <= 1.15)
  matrix.encrypted.first_reply_s              a restart: its reply in the encrypted room

The bot runs from compiled bytecode, as an installed package does (see ``bot_env``).

Usage: python bench/matrix_latency.py [--samples 100] [--encrypted]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from nio import AsyncClient, AsyncClientConfig, RoomSendResponse, SyncResponse  # noqa: E402

from tests.matrix_server.synapse import RegisteredUser, SynapseServer  # noqa: E402

TOKEN_ENV = "COMPANION_MATRIX_ACCESS_TOKEN"
USER_FILTER = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {
        "timeline": {"types": ["m.room.message"], "limit": 20},
        "state": {"types": []},
        "ephemeral": {"not_types": ["*"]},
    },
}


# An encrypting client must see the rooms' encryption and members, and encrypted events.
ENCRYPTED_USER_FILTER = {
    **USER_FILTER,
    "room": {
        "timeline": {"types": ["m.room.message", "m.room.encrypted", "m.room.member"]},
        "state": {"types": ["m.room.encryption", "m.room.member"]},
        "ephemeral": {"not_types": ["*"]},
    },
}
ENCRYPTION = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


def client_for(server_url: str, user: RegisteredUser, store: Path | None = None) -> AsyncClient:
    if store is None:
        client = AsyncClient(server_url, user.user_id)
    else:
        store.mkdir()
        client = AsyncClient(
            server_url,
            user.user_id,
            device_id=user.device_id,
            store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=True),
        )
    client.restore_login(user.user_id, user.device_id, user.access_token)
    return client


async def keep_up(client: AsyncClient) -> None:
    """What an encrypting client does around each sync: its keys, the others' devices."""
    if client.olm is None:
        return
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.outgoing_to_device_messages:
        await client.send_to_device_messages()


class Watcher:
    """The user's long-poll sync, noting when each answer (by the event it replies to) and
    each first notice from a sender arrive."""

    def __init__(self, client: AsyncClient, sync_filter: dict[str, Any]) -> None:
        self.client = client
        self.sync_filter = sync_filter
        self.answered: dict[str, float] = {}
        self.answers: dict[str, dict[str, Any]] = {}  # the content of each answer
        self.first_notice: dict[str, float] = {}
        self._changed = asyncio.Event()

    async def run(self) -> None:
        while True:
            response = await self.client.sync(timeout=30_000, sync_filter=self.sync_filter)
            now = time.perf_counter()
            await keep_up(self.client)
            if not isinstance(response, SyncResponse):
                await asyncio.sleep(0.1)
                continue
            for info in response.rooms.join.values():
                for event in info.timeline.events:
                    content = event.source.get("content", {})
                    if content.get("msgtype") != "m.notice":
                        continue
                    self.first_notice.setdefault(event.source["sender"], now)
                    relates = content.get("m.relates_to", {}).get("m.in_reply_to", {})
                    if "event_id" in relates:
                        self.answered.setdefault(relates["event_id"], now)
                        self.answers.setdefault(relates["event_id"], content)
            self._changed.set()

    async def until(self, ready: Any, within: float = 20.0) -> float:
        deadline = time.monotonic() + within
        while (value := ready()) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no answer in time")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass
        return float(value)


async def timed_send(user: AsyncClient, watcher: Watcher, room_id: str, body: str) -> float:
    started = time.perf_counter()
    sent = await send(user, room_id, body)
    assert isinstance(sent, RoomSendResponse), sent
    arrived = await watcher.until(lambda: watcher.answered.get(sent.event_id))
    return (arrived - started) * 1000


async def send(user: AsyncClient, room_id: str, body: str) -> Any:
    content = {"msgtype": "m.text", "body": body}
    return await user.room_send(room_id, "m.room.message", content, ignore_unverified_devices=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bot_env(work: Path) -> dict[str, str]:
    """Run the bot as an installed package runs: from compiled bytecode (kept in a temporary
    cache, so the checkout stays clean), even where PYTHONDONTWRITEBYTECODE is set."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


def compile_bot(work: Path) -> None:
    imports = "import companion.cli, companion.app, companion_adapters.matrix.adapter"
    subprocess.run([sys.executable, "-c", imports], env=bot_env(work), check=True)


def start_bot(config: Path, token: str, log: Path) -> tuple[subprocess.Popen[bytes], float]:
    env = {**bot_env(config.parent), TOKEN_ENV: token}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "companion", "run", "--config", str(config)],
        env=env,
        cwd=config.parent,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )
    return process, started


def start_echo(base_url: str, echo: RegisteredUser, room_id: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, __file__, "--echo", base_url, echo.user_id, echo.device_id, room_id],
        env={**os.environ, "BENCH_ECHO_TOKEN": echo.access_token},
        stdin=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def bench(samples: int, encrypted: bool) -> None:
    with SynapseServer() as server, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bot = server.register("bench_bot")
        echo = server.register("bench_echo")
        person = server.register("bench_user")
        config = work / "companion.toml"
        config.write_text(
            '[storage]\npath = "bot.db"\n\n'
            f'[matrix]\nhomeserver = "{server.base_url}"\nuser_id = "{bot.user_id}"\n'
        )
        user_filter = ENCRYPTED_USER_FILTER if encrypted else USER_FILTER
        user = client_for(server.base_url, person, work / "user-keys" if encrypted else None)
        await user.sync(timeout=0, sync_filter=user_filter)
        await keep_up(user)
        watcher = Watcher(user, user_filter)
        watching = asyncio.create_task(watcher.run())
        bot_room = (await user.room_create(name="bench bot", invite=[bot.user_id])).room_id
        secret_room = ""
        if encrypted:
            made = await user.room_create(
                name="bench secret", invite=[bot.user_id], initial_state=[ENCRYPTION]
            )
            secret_room = made.room_id
        echo_room = (await user.room_create(name="bench floor", invite=[echo.user_id])).room_id
        processes: list[subprocess.Popen[bytes]] = []
        compile_bot(work)
        try:
            # First start ever: an invite is waiting; the bot joins and says hello.
            process, started = start_bot(config, bot.access_token, work / "bot.log")
            processes.append(process)
            hello = await watcher.until(lambda: watcher.first_notice.get(bot.user_id))
            first_hello = hello - started
            stop(process)

            # A restart: a command sent as the process starts is answered from the saved token.
            process, started = start_bot(config, bot.access_token, work / "bot.log")
            processes.append(process)
            command = await send(user, bot_room, "!define allyship")
            assert isinstance(command, RoomSendResponse), command
            first_reply = await watcher.until(lambda: watcher.answered.get(command.event_id))
            first_reply -= started
            first_secret = 0.0
            if encrypted:
                stop(process)
                process, started = start_bot(config, bot.access_token, work / "bot.log")
                processes.append(process)
                secret = await send(user, secret_room, "!define allyship")
                assert isinstance(secret, RoomSendResponse), secret
                first_secret = await watcher.until(lambda: watcher.answered.get(secret.event_id))
                first_secret -= started

            echo_process = start_echo(server.base_url, echo, echo_room)
            processes.append(echo_process)
            await watcher.until(lambda: watcher.first_notice.get(echo.user_id))

            # The echo can also answer with a reply as big as the bot's (body and HTML).
            answer = watcher.answers[command.event_id]
            big = f"big {len(answer['body'])} {len(answer.get('formatted_body', ''))}"
            for _ in range(5):  # warm up every path
                await timed_send(user, watcher, bot_room, "!define allyship")
                await timed_send(user, watcher, echo_room, "echo warm-up")
                await timed_send(user, watcher, echo_room, big)
                if encrypted:
                    await timed_send(user, watcher, secret_room, "!define allyship")
            bot_ms: list[float] = []
            secret_ms: list[float] = []
            floor_ms: list[float] = []
            sized_ms: list[float] = []
            for i in range(samples):  # interleaved, so drift hits all alike
                bot_ms.append(await timed_send(user, watcher, bot_room, "!define allyship"))
                floor_ms.append(await timed_send(user, watcher, echo_room, f"echo {i}"))
                sized_ms.append(await timed_send(user, watcher, echo_room, big))
                if encrypted:
                    secret_ms.append(
                        await timed_send(user, watcher, secret_room, "!define allyship")
                    )

            await asyncio.sleep(2.0)  # idle
            bot_rss = psutil.Process(process.pid).memory_info().rss / 2**20
            echo_rss = psutil.Process(echo_process.pid).memory_info().rss / 2**20
        finally:
            for running in processes:
                stop(running)
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
            await user.close()

    p50, p95 = statistics.median(bot_ms), percentile(bot_ms, 0.95)
    f50, f95 = statistics.median(floor_ms), percentile(floor_ms, 0.95)
    print(f"matrix.samples {samples}")
    print(f"matrix.define.p50_ms {p50:.1f}")
    print(f"matrix.define.p95_ms {p95:.1f}")
    print(f"matrix.define.p99_ms {percentile(bot_ms, 0.99):.1f}")
    print(f"matrix.floor.p50_ms {f50:.1f}")
    print(f"matrix.floor.p95_ms {f95:.1f}")
    print(f"matrix.ratio_p50 {p50 / f50:.2f}")
    print(f"matrix.ratio_p95 {p95 / f95:.2f}")
    s50, s95 = statistics.median(sized_ms), percentile(sized_ms, 0.95)
    print(f"matrix.floor_same_size.p50_ms {s50:.1f}")
    print(f"matrix.floor_same_size.p95_ms {s95:.1f}")
    print(f"matrix.ratio_same_size_p50 {p50 / s50:.2f}")
    print(f"matrix.idle_rss_mb {bot_rss:.1f}")
    print(f"matrix.echo_idle_rss_mb {echo_rss:.1f}")
    print(f"matrix.first_hello_s {first_hello:.2f}")
    print(f"matrix.first_reply_s {first_reply:.2f}")
    if encrypted:
        e50 = statistics.median(secret_ms)
        print(f"matrix.encrypted.p50_ms {e50:.1f}")
        print(f"matrix.encrypted.p95_ms {percentile(secret_ms, 0.95):.1f}")
        print(f"matrix.encrypted.p99_ms {percentile(secret_ms, 0.99):.1f}")
        print(f"matrix.encrypted_ratio_p50 {e50 / p50:.2f}")
        print(f"matrix.encrypted.ratio_floor_p50 {e50 / f50:.2f}")
        print(f"matrix.encrypted.first_reply_s {first_secret:.2f}")


async def echo_main(base_url: str, user_id: str, device_id: str, room_id: str) -> None:
    """The floor: a bare nio client that sends every text message straight back."""
    client = AsyncClient(base_url, user_id)
    client.restore_login(user_id, device_id, os.environ["BENCH_ECHO_TOKEN"])
    try:
        await client.join(room_id)
        first = await client.sync(timeout=0, full_state=True)
        assert isinstance(first, SyncResponse), first
        since = first.next_batch
        await client.room_send(room_id, "m.room.message", {"msgtype": "m.notice", "body": "ready"})
        while True:
            response = await client.sync(timeout=30_000, since=since)
            if not isinstance(response, SyncResponse):
                continue
            since = response.next_batch
            for room, info in response.rooms.join.items():
                for event in info.timeline.events:
                    content = event.source.get("content", {})
                    if event.source.get("sender") == user_id or content.get("msgtype") != "m.text":
                        continue
                    echoed: dict[str, Any] = {"msgtype": "m.notice", "body": content["body"]}
                    if content["body"].startswith("big "):
                        body, html = (int(n) for n in content["body"].split()[1:3])
                        echoed = {
                            "msgtype": "m.notice",
                            "body": "x" * body,
                            "format": "org.matrix.custom.html",
                            "formatted_body": "x" * html,
                            "m.mentions": {},
                        }
                    echoed["m.relates_to"] = {"m.in_reply_to": {"event_id": event.event_id}}
                    await client.room_send(room, "m.room.message", echoed)
    finally:
        await client.close()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--echo":
        try:
            asyncio.run(echo_main(*sys.argv[2:6]))
        except KeyboardInterrupt:
            pass
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument(
        "--encrypted", action="store_true", help="also an end-to-end encrypted room"
    )
    args = parser.parse_args()
    asyncio.run(bench(args.samples, args.encrypted))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    main()
