"""Start, memory and reply time of the Matrix bot beside its peers, in one run.

Starts a real Synapse on 127.0.0.1 (the test harness) and, each in its own process and
installed as a user installs it (in venvs the bench makes under ``--cache``, by default
~/.cache/companion-bench, with ``python -m venv`` and pip by package name):

  floor      a bare matrix-nio client that sends each line back (bench/matrix_echo.py),
             in the plain install's venv
  reminder   matrix-reminder-bot 0.4.0 from PyPI, answering ``!help`` (its own venv)
  companion  ``pip install '.[discord,matrix]'`` of this checkout, answering
             ``!define allyship``

and with ``--encrypted`` also, from ``pip install '.[discord,matrix,e2e]'``:

  e2e-floor      the same echo, encrypting, in an end-to-end encrypted room
  e2e-companion  Companion with the extra (encryption on), in an unencrypted room
  e2e-secret     the same process, in an encrypted room

One user, with a long-polling sync, sends each its command in turn (interleaved, so drift
hits all alike) and times each send until the answer arrives in its sync.

Prints one figure per line (``<bot>.<figure> <value>``), then a table:
  spawn_ms        process start -> its answer to a line sent as it starts (a restart,
                  median of ``--spawns``)
  idle_rss_mb     the process, idle after the run
  p50_ms / p95_ms the user's line -> the answer seen by the user
and the issue's ratios: Companion's spawn against matrix-reminder-bot's (target <= 0.8) and
against its floor's (<= 1.2), its idle RSS minus its floor's (<= 5 MB), its reply p50
against its floor's (<= 1.03), and against its floor answering with as many bytes as
Companion's reply (body and HTML): a bigger event costs the homeserver and the user's sync
more, so that ratio is what Companion's own path adds.

Usage: python bench/matrix_latency.py [--samples 100] [--encrypted] [--spawns 3]
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from nio import AsyncClient, AsyncClientConfig, RoomSendResponse, SyncResponse  # noqa: E402

from tests.matrix_server.synapse import RegisteredUser, SynapseServer  # noqa: E402

TOKEN_ENV = "COMPANION_MATRIX_ACCESS_TOKEN"
ECHO = ROOT / "bench" / "matrix_echo.py"
REMINDER = "matrix-reminder-bot==0.4.0"
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


# --- the venvs -------------------------------------------------------------------------------


def venv(cache: Path, name: str, requirement: str, local: bool = False) -> Path:
    """A venv under the cache with ``requirement`` installed; its python. ``local``: the
    requirement is this checkout, reinstalled each run (its dependencies once), so the
    bench measures the code as it is now."""
    where = cache / name
    python = where / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-qq", "--disable-pip-version-check"]
    if not (where / "installed").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(where)], check=True)
        subprocess.run([*pip, requirement], check=True, cwd=cache)
        (where / "installed").write_text(requirement)
    elif local:
        subprocess.run([*pip, "--no-deps", "--force-reinstall", requirement], check=True)
    return python


# --- the user's side -------------------------------------------------------------------------


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
    """The user's long-poll sync, noting when each answer (by the event it replies to)
    and each notice from each sender arrive."""

    def __init__(self, client: AsyncClient, sync_filter: dict[str, Any]) -> None:
        self.client = client
        self.sync_filter = sync_filter
        self.answered: dict[str, float] = {}
        self.answers: dict[str, dict[str, Any]] = {}  # the content of each answer
        self.notices: dict[str, list[float]] = {}  # sender -> when each notice arrived
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
                    self.notices.setdefault(event.source["sender"], []).append(now)
                    relates = content.get("m.relates_to", {}).get("m.in_reply_to", {})
                    if "event_id" in relates:
                        self.answered.setdefault(relates["event_id"], now)
                        self.answers.setdefault(relates["event_id"], content)
            self._changed.set()

    def count(self, sender: str) -> int:
        return len(self.notices.get(sender, ()))

    async def until(self, ready: Callable[[], float | None], within: float = 30.0) -> float:
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

    async def answer(self, sender: str, event_id: str, before: int, by_sender: bool) -> float:
        """When the answer to ``event_id`` arrived: the notice replying to it, or (a bot
        that does not reply to the event) ``sender``'s first notice after ``before``."""
        if by_sender:
            notices = self.notices
            return await self.until(
                lambda: notices[sender][before] if self.count(sender) > before else None
            )
        return await self.until(lambda: self.answered.get(event_id))


async def send(user: AsyncClient, room_id: str, body: str) -> RoomSendResponse:
    content = {"msgtype": "m.text", "body": body}
    sent = await user.room_send(room_id, "m.room.message", content, ignore_unverified_devices=True)
    assert isinstance(sent, RoomSendResponse), sent
    return sent


# --- the bots --------------------------------------------------------------------------------


@dataclass
class Bot:
    name: str
    account: RegisteredUser
    room: str
    command: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    by_sender: bool = False  # answers without replying to the event (matrix-reminder-bot)
    process: subprocess.Popen[bytes] | None = None
    spawn_ms: list[float] = field(default_factory=list)
    reply_ms: list[float] = field(default_factory=list)
    asked: int = 0  # lines sent to it: a bot matched by sender must answer each once

    def start(self) -> float:
        started = time.perf_counter()
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self.cwd / "log.txt").open("ab"),
        )
        return started

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def rss_mb(self) -> float:
        assert self.process is not None
        return psutil.Process(self.process.pid).memory_info().rss / 2**20


async def timed(user: AsyncClient, watcher: Watcher, bot: Bot, body: str = "") -> float:
    """Milliseconds from the user's send to the bot's answer in the user's sync."""
    before = watcher.count(bot.account.user_id)
    started = time.perf_counter()
    sent = await send(user, bot.room, body or bot.command)
    bot.asked += 1
    arrived = await watcher.answer(bot.account.user_id, sent.event_id, before, bot.by_sender)
    return (arrived - started) * 1000


async def spawn(user: AsyncClient, watcher: Watcher, bot: Bot) -> None:
    """A restart: process start -> its answer to the command sent as it starts."""
    bot.stop()
    before = watcher.count(bot.account.user_id)
    started = bot.start()
    sent = await send(user, bot.room, bot.command)
    bot.asked += 1
    arrived = await watcher.answer(bot.account.user_id, sent.event_id, before, bot.by_sender)
    bot.spawn_ms.append((arrived - started) * 1000)


def companion_config(work: Path, server: SynapseServer, account: RegisteredUser) -> Path:
    work.mkdir()
    config = work / "companion.toml"
    config.write_text(
        '[storage]\npath = "bot.db"\n\n'
        f'[matrix]\nhomeserver = "{server.base_url}"\nuser_id = "{account.user_id}"\n'
    )
    return config


def reminder_config(work: Path, server: SynapseServer, account: RegisteredUser) -> Path:
    """matrix-reminder-bot's config (its sample.config.yaml, cut to what it requires)."""
    work.mkdir()
    config = work / "config.yaml"
    config.write_text(
        f'command_prefix: "!"\n'
        f'matrix:\n  user_id: "{account.user_id}"\n  user_password: "{account.password}"\n'
        f'  homeserver_url: "{server.base_url}"\n  device_id: REMINDERBENCH\n'
        f"  device_name: reminder-bench\n"
        f'storage:\n  database: "sqlite://{work / "reminders.db"}"\n'
        f'  store_path: "{work / "store"}"\n'
        "reminders:\n  timezone: Etc/UTC\n"
        "allowlist:\n  enabled: false\n  regexes: []\n"
        "blocklist:\n  enabled: false\n  regexes: []\n"
        "logging:\n  level: WARNING\n  file_logging:\n    enabled: false\n"
        "  console_logging:\n    enabled: false\n"
    )
    return config


def log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else "(not started)"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bench(
    samples: int, spawns: int, reminder_python: Path, plain_python: Path, e2e_python: Path | None
) -> None:
    with SynapseServer() as server, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        person = server.register("bench_user")
        encrypted = e2e_python is not None
        user_filter = ENCRYPTED_USER_FILTER if encrypted else USER_FILTER
        user = client_for(server.base_url, person, work / "user-keys" if encrypted else None)
        await user.sync(timeout=0, sync_filter=user_filter)
        await keep_up(user)
        watcher = Watcher(user, user_filter)
        watching = asyncio.create_task(watcher.run())

        async def room(name: str, account: RegisteredUser, secret: bool = False) -> str:
            state = [ENCRYPTION] if secret else []
            made = await user.room_create(name=name, invite=[account.user_id], initial_state=state)
            return str(made.room_id)

        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

        def echo(name: str, python: Path, secret: bool) -> Bot:
            account = server.register(f"bench_{name.replace('-', '_')}")
            (work / name).mkdir()
            argv = [str(python), str(ECHO), server.base_url, account.user_id, account.device_id]
            argv += ["ROOM", "--since-file", str(work / name / "since")]
            if secret:
                argv += ["--encrypt", str(work / name / "store")]
            bot_env = {**env, "BENCH_ECHO_TOKEN": account.access_token}
            return Bot(name, account, "", "echo", argv, bot_env, work / name)

        def companion(name: str, python: Path) -> Bot:
            account = server.register(f"bench_{name.replace('-', '_')}")
            config = companion_config(work / name, server, account)
            argv = [str(python), "-m", "companion", "run", "--config", str(config)]
            bot_env = {**env, TOKEN_ENV: account.access_token}
            return Bot(name, account, "", "!define allyship", argv, bot_env, work / name)

        floor = echo("floor", plain_python, secret=False)
        plain = companion("companion", plain_python)
        account = server.register("bench_reminder")
        config = reminder_config(work / "reminder", server, account)
        reminder = Bot(
            "reminder",
            account,
            "",
            "!help",
            [str(reminder_python.parent / "matrix-reminder-bot"), str(config)],
            env,
            work / "reminder",
            by_sender=True,
        )
        bots = [floor, reminder, plain]
        secret: Bot | None = None
        if e2e_python is not None:
            e2e_floor = echo("e2e-floor", e2e_python, secret=True)
            e2e = companion("e2e-companion", e2e_python)
            bots += [e2e_floor, e2e]
        for bot in bots:
            secret_room = bot.name == "e2e-floor"
            bot.room = await room(f"bench {bot.name}", bot.account, secret_room)
            if bot is floor or bot.name == "e2e-floor":
                bot.argv[bot.argv.index("ROOM")] = bot.room
        if e2e_python is not None:
            secret = Bot(**{**e2e.__dict__, "name": "e2e-secret", "spawn_ms": [], "reply_ms": []})
            secret.room = await room("bench e2e secret", e2e.account, secret=True)
        first_hello = 0.0
        try:
            # First start ever: each joins on the invite; the echoes say "ready", Companion
            # its hello; matrix-reminder-bot says nothing, so wait until it has joined.
            for bot in bots:
                before = watcher.count(bot.account.user_id)
                started = bot.start()
                if bot is reminder:
                    await joined(user, bot.room, bot.account.user_id)
                    continue
                hello = await watcher.until(
                    lambda b=bot, n=before: (
                        watcher.notices[b.account.user_id][n]
                        if watcher.count(b.account.user_id) > n
                        else None
                    )
                )
                if bot is plain:
                    first_hello = hello - started
            if secret is not None:
                await joined(user, secret.room, secret.account.user_id)

            # Restarts, in turn: each answers a line sent as it starts.
            for _ in range(spawns):
                for bot in bots:
                    await spawn(user, watcher, bot)
                if secret is not None:  # the e2e Companion again, asked in the encrypted room
                    secret.process = e2e.process
                    await spawn(user, watcher, secret)
                    e2e.process = secret.process

            # The echo can also answer with a reply as big as Companion's (body and HTML).
            probe = await send(user, plain.room, plain.command)
            await watcher.until(lambda: watcher.answered.get(probe.event_id))
            answer = watcher.answers[probe.event_id]
            big = f"big {len(answer['body'])} {len(answer.get('formatted_body', ''))}"
            floors = [b for b in bots if b.name in ("floor", "e2e-floor")]
            sized: dict[str, list[float]] = {b.name: [] for b in floors}
            measured = bots + ([secret] if secret is not None else [])
            for i in range(5 + samples):  # 5 warm-up rounds, then interleaved samples
                for bot in measured:
                    ms = await timed(user, watcher, bot)
                    if i >= 5:
                        bot.reply_ms.append(ms)
                for echo_bot in floors:  # the same reply size: tells size from overhead
                    ms = await timed(user, watcher, echo_bot, big)
                    if i >= 5:
                        sized[echo_bot.name].append(ms)

            await asyncio.sleep(2.0)  # idle
            for bot in bots:  # an answer twice (a restart answering old lines) skews its figures
                if bot.by_sender and watcher.count(bot.account.user_id) != bot.asked:
                    raise RuntimeError(
                        f"{bot.name} sent {watcher.count(bot.account.user_id)} notices "
                        f"for {bot.asked} lines"
                    )
            rss = {bot.name: bot.rss_mb() for bot in bots}
        except TimeoutError:
            for bot in bots:  # say why: each bot's own log
                print(f"--- {bot.name}:", log_tail(bot.cwd / "log.txt"), file=sys.stderr)
            raise
        finally:
            for bot in bots:
                bot.stop()
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
            await user.close()

    report(measured, rss, sized, first_hello, samples)


async def joined(user: AsyncClient, room_id: str, user_id: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        members = await user.joined_members(room_id)
        if user_id in {m.user_id for m in getattr(members, "members", [])}:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{user_id} did not join {room_id}")


def report(
    bots: list[Bot],
    rss: dict[str, float],
    sized: dict[str, list[float]],
    first_hello: float,
    samples: int,
) -> None:
    by = {bot.name: bot for bot in bots}
    print(f"matrix.samples {samples}")
    rows: list[tuple[str, float | None, float | None, float, float]] = []
    for bot in bots:
        spawn_ms = statistics.median(bot.spawn_ms)
        p50, p95 = statistics.median(bot.reply_ms), percentile(bot.reply_ms, 0.95)
        memory = rss.get(bot.name, rss.get("e2e-companion", 0.0))
        print(f"matrix.{bot.name}.spawn_ms {spawn_ms:.0f}")
        print(f"matrix.{bot.name}.idle_rss_mb {memory:.1f}")
        print(f"matrix.{bot.name}.p50_ms {p50:.1f}")
        print(f"matrix.{bot.name}.p95_ms {p95:.1f}")
        rows.append((bot.name, spawn_ms, memory, p50, p95))
    for floor_name, values in sized.items():
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        print(f"matrix.{floor_name}_same_size.p50_ms {p50:.1f}")
        rows.append((f"{floor_name}, as many bytes as Companion's reply", None, None, p50, p95))
    print(f"matrix.companion.first_hello_s {first_hello:.2f}")
    reminder = by["reminder"]
    checks: list[tuple[str, float, str]] = []
    for name, floor_name in (
        ("companion", "floor"),
        ("e2e-companion", "e2e-floor"),
        ("e2e-secret", "e2e-floor"),
    ):
        if name not in by:
            continue
        bot, floor = by[name], by[floor_name]
        spawn_ms = statistics.median(bot.spawn_ms)
        checks += [
            (
                f"{name}.spawn / reminder",
                spawn_ms / statistics.median(reminder.spawn_ms),
                "<= 0.80",
            ),
            (
                f"{name}.spawn / {floor_name}",
                spawn_ms / statistics.median(floor.spawn_ms),
                "<= 1.20",
            ),
            (
                f"{name}.p50 / {floor_name}",
                statistics.median(bot.reply_ms) / statistics.median(floor.reply_ms),
                "<= 1.03",
            ),
            (
                f"{name}.p50 / {floor_name} answering as many bytes",
                statistics.median(bot.reply_ms) / statistics.median(sized[floor_name]),
                "(what the reply's size leaves)",
            ),
        ]
        if name != "e2e-secret":
            checks.append((f"{name}.rss - {floor_name} (MB)", rss[name] - rss[floor_name], "<= 5"))
    for label, value, target in checks:
        note = f"target {target}" if target.startswith("<=") else target
        print(f"matrix.ratio {label} {value:.2f} {note}")
    print()
    print("| bot | spawn -> first reply ms | idle RSS MB | reply p50 ms | reply p95 ms |")
    print("|---|---|---|---|---|")
    for name, spawned, memory, p50, p95 in rows:
        start = "" if spawned is None else f"{spawned:.0f}"
        size = "" if memory is None else f"{memory:.1f}"
        print(f"| {name} | {start} | {size} | {p50:.1f} | {p95:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--spawns", type=int, default=3, help="restarts timed per bot")
    parser.add_argument(
        "--encrypted", action="store_true", help="also the e2e install, in encrypted rooms"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache" / "companion-bench",
        help="where the bench keeps its venvs",
    )
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    reminder = venv(args.cache, "reminder", REMINDER)
    plain = venv(args.cache, "plain", f"{ROOT}[discord,matrix]", local=True)
    e2e = (
        venv(args.cache, "e2e", f"{ROOT}[discord,matrix,e2e]", local=True)
        if args.encrypted
        else None
    )
    asyncio.run(bench(args.samples, args.spawns, reminder, plain, e2e))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    main()
