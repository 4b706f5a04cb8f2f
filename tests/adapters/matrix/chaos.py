"""Chaos rounds against a real `companion run` on the test Synapse (issue 22).

A :class:`Chaos` runs the bot as a subprocess (``companion run --config ...``), killed with
SIGKILL at chosen moments and restarted at once as a supervisor would (again after a refused
start). A member with a real client is in every room and counts, per room and occurrence,
what the bot posted there: a scheduled reflection is one top-level notice, a discussion a
root notice and the first message of its thread; a command said while the bot was down is
answered by one reply to it.

Scheduled posts are made due at a chosen second without a fake clock: each is planned as a
one-off at its minute, then its ``next_run`` is set to the exact instant (the scheduler
posts what is due by ``next_run``; the occurrence key comes from the minute).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from companion.events import Place
from companion.recurrence import Recurrence
from companion.scheduler import Scheduler
from companion.store import Store
from companion.store.schedules import iso
from tests.fakes import FakeClock
from tests.matrix_server.people import TOKEN_ENV, Event, Person, notice_from, replied
from tests.matrix_server.synapse import RegisteredUser, SynapseServer

ROOT = Path(__file__).resolve().parents[3]
KINDS = ("reflection", "discussion")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(
    folder: Path, synapse: SynapseServer, bot: RegisteredUser, url: str | None, encryption: bool
) -> tuple[Path, int]:
    """A config for `companion run`: Matrix only, the /healthz endpoint on a free port."""
    port = _free_port()
    storage = f'path = "{folder / "bot.db"}"\n' + (f'url = "{url}"\n' if url else "")
    text = (
        f"[storage]\n{storage}\n"
        f'[matrix]\nhomeserver = "{synapse.base_url}"\nuser_id = "{bot.user_id}"\n'
        f"encryption = {'true' if encryption else 'false'}\nencrypt_direct_rooms = false\n\n"
        f'[metrics]\nenabled = true\nbind = "127.0.0.1"\nport = {port}\n'
    )
    config = folder / "companion.toml"
    config.write_text(text)
    return config, port


class BotProcess:
    """`companion run`, started again at once whenever it ends (as Restart=always would)."""

    def __init__(self, config: Path, token: str, log: Path) -> None:
        self.config = config
        self.env = {**os.environ, TOKEN_ENV: token, "PYTHONPATH": str(ROOT)}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.exits: list[int] = []  # return codes of runs that ended by themselves
        self._supervisor: asyncio.Task[None] | None = None

    def spawn(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "companion.cli", "run", "--config", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                cwd=ROOT,
                env=self.env,
            )

    async def start(self) -> None:
        self.spawn()
        self._supervisor = asyncio.create_task(self._supervise())

    async def _supervise(self) -> None:
        """Start it again when it ends on its own (a refused start, a crash)."""
        while True:
            await asyncio.sleep(0.05)
            process = self.process
            if process is not None and process.poll() is not None:
                self.exits.append(process.returncode)
                await asyncio.sleep(0.2)
                self.spawn()

    def kill(self) -> None:
        """SIGKILL, and reap it (a zombie would still look alive)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self.process = None  # until spawn(): the supervisor leaves the restart to the test

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Watcher:
    """The member's client, syncing all the time; each event with the time it was seen."""

    person: Person
    seen: list[tuple[float, str, Event]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            before = len(self.person.events)
            await self.person.sync(timeout_ms=200)
            now = time.monotonic()
            self.seen.extend((now, room, event) for room, event in self.person.events[before:])

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def until(self, done: Callable[[], bool], within: float) -> bool:
        deadline = time.monotonic() + within
        while not done():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True


def is_post(event: Event, bot: str) -> bool:
    content = event.get("content", {})
    return event.get("sender") == bot and content.get("msgtype") == "m.notice"


def top_level(event: Event) -> bool:
    return not event.get("content", {}).get("m.relates_to")


def in_thread(event: Event) -> bool:
    return event.get("content", {}).get("m.relates_to", {}).get("rel_type") == "m.thread"


@dataclass
class Round:
    name: str
    expected: int = 0  # occurrences
    once: int = 0
    lost: int = 0
    doubled: int = 0
    commands: int = 0
    answered_once: int = 0
    restart_seconds: list[float] = field(default_factory=list)

    def row(self, combination: str) -> str:
        worst = max(self.restart_seconds) if self.restart_seconds else float("nan")
        return (
            f"{combination:<18} {self.name:<12} {self.expected:>8} {self.once:>11} "
            f"{self.lost:>5} {self.doubled:>10} {self.answered_once:>4}/{self.commands:<4} "
            f"{worst:>9.2f}"
        )


HEADER = (
    f"{'combination':<18} {'round':<12} {'expected':>8} {'exactly once':>11} {'lost':>5} "
    f"{'duplicated':>10} {'commands':>9} {'restart s':>9}"
)


class Chaos:
    """One bot account, its rooms and a member; rounds of scheduled posts and kills."""

    def __init__(
        self,
        synapse: SynapseServer,
        bot: RegisteredUser,
        member: Person,
        folder: Path,
        target: str,
        config: Path,
        health_port: int,
    ) -> None:
        self.synapse = synapse
        self.bot = bot
        self.member = member
        self.folder = folder
        self.target = target  # the store: a SQLite path or a postgresql:// url
        self.process = BotProcess(config, bot.access_token, folder / "bot.log")
        self.watcher = Watcher(member)
        self.health_port = health_port
        self.rooms: list[str] = []
        self.planned: dict[str, list[str]] = {}  # room -> kinds planned there, in order

    # --- setup ------------------------------------------------------------------------------

    async def open(self, rooms: int) -> None:
        """Start the bot and the member's watch, and make ``rooms`` rooms with both in."""
        self.watcher.start()
        await self.process.start()
        for i in range(rooms):
            room = await self.member.room(self.bot.user_id, name=f"chaos {i}")
            self.rooms.append(room)
            self.planned[room] = []
        # Only the watcher syncs the member's client (two syncs at once would see events
        # twice): wait for the bot's hello in every room through it.
        hello = notice_from(self.bot.user_id, "", "Hello!")

        def greeted() -> bool:
            return {r for _, r, e in self.watcher.seen if hello("", e)} >= set(self.rooms)

        assert await self.watcher.until(greeted, 30), "the bot did not join every room"

    async def close(self) -> None:
        await self.process.stop()
        await self.watcher.stop()

    # --- schedules --------------------------------------------------------------------------

    async def plan(self, due: datetime) -> int:
        """In every room one post due at ``due`` (reflections and discussions in turn), written
        to the store as a moderator's `schedule` command would. Returns how many."""
        store = await Store.open(self.target)
        try:
            minute = due.replace(second=0, microsecond=0)
            scheduler = Scheduler(store, FakeClock(minute - timedelta(seconds=1)))
            once = Recurrence("once", minute.time(), ZoneInfo("UTC"), minute.date())
            for i, room in enumerate(self.rooms):
                kind = KINDS[i % 2]
                place = Place("matrix", room, room)
                payload = "next" if kind == "discussion" else ""
                row = await scheduler.add(place, kind, once, payload, self.member.id)
                await store.schedules.set_status(row.id, "active", reason=None, next_run=iso(due))
                self.planned[room].append(kind)
        finally:
            await store.close()
        return len(self.rooms)

    async def paused(self) -> list[str]:
        store = await Store.open(self.target)
        try:
            found = []
            for room in self.rooms:
                for row in await store.schedules.for_community(room):
                    if row.status == "paused":
                        found.append(f"#{row.id} {row.status_reason}")
            return found
        finally:
            await store.close()

    # --- what the member sees ---------------------------------------------------------------

    def posts(self, room: str) -> tuple[int, int]:
        """(top-level posts, thread messages) the bot made in ``room``, ever, apart from its
        hello and its replies."""
        roots = threads = 0
        for _, where, event in self.watcher.seen:
            if where != room or not is_post(event, self.bot.user_id):
                continue
            if "Hello!" in event.get("content", {}).get("body", ""):
                continue
            if in_thread(event):
                threads += 1
            elif top_level(event):
                roots += 1
        return roots, threads

    def expected_posts(self, room: str) -> tuple[int, int]:
        kinds = self.planned[room]
        return len(kinds), kinds.count("discussion")

    def all_posted(self) -> bool:
        return all(self.posts(r) >= self.expected_posts(r) for r in self.rooms)

    def replies_to(self, command_id: str) -> list[tuple[float, Event]]:
        return [
            (at, e)
            for at, _, e in self.watcher.seen
            if e.get("sender") == self.bot.user_id and replied(e) == command_id
        ]

    def first_post_after(self, since: float) -> bool:
        return any(
            at >= since and is_post(e, self.bot.user_id) and top_level(e)
            for at, _, e in self.watcher.seen
        )

    # --- the bot ----------------------------------------------------------------------------

    def health(self) -> int | None:
        """The status /healthz answers now (None: nothing listens)."""
        url = f"http://127.0.0.1:{self.health_port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except (urllib.error.URLError, OSError):
            return None

    async def kill_and_restart(self, commands: int) -> tuple[float, list[str]]:
        """SIGKILL, say ``commands`` commands while it is down, start it again at once.
        Returns when it restarted and the ids of the commands."""
        self.process.kill()
        said = []
        for room in self.rooms[:commands]:
            said.append(await self.member.say(room, "!reflect"))
        restarted = time.monotonic()
        self.process.spawn()
        return restarted, said

    async def answered(self, said: list[str], restarted: float, within: float) -> float:
        """Seconds from the restart to the first reply to one of ``said`` (inf: none)."""
        await self.watcher.until(lambda: all(self.replies_to(c) for c in said), within)
        firsts = [at for c in said for at, _ in self.replies_to(c)]
        return min(firsts) - restarted if firsts else float("inf")


def tally(chaos: Chaos, result: Round, before: dict[str, tuple[int, int]], said: list[str]) -> None:
    """Count this round's occurrences (what each room got since ``before``) and replies."""
    for room in chaos.rooms:
        roots, threads = chaos.posts(room)
        roots -= before[room][0]
        threads -= before[room][1]
        kind = chaos.planned[room][-1]
        result.expected += 1
        parts = (roots, threads) if kind == "discussion" else (roots,)
        if kind == "reflection" and threads:
            result.doubled += 1
        elif any(p == 0 for p in parts):
            result.lost += 1
        elif any(p > 1 for p in parts):
            result.doubled += 1
        else:
            result.once += 1
    result.commands += len(said)
    result.answered_once += sum(1 for c in said if len(chaos.replies_to(c)) == 1)


def dump(chaos: Chaos) -> str:
    return json.dumps(
        {"exits": chaos.process.exits, "log": chaos.process.tail()}, indent=1, default=str
    )


def now_utc() -> datetime:
    return datetime.now(UTC)
