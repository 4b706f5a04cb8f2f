"""People and a bot on the test Synapse: what the Matrix test modules share.

``Person`` is a user with a real matrix-nio client who remembers every event it has seen;
``Bot`` is Companion's Matrix adapter running in the test's event loop. The fixtures of
each test module are thin wrappers around :func:`people_maker` and :func:`bot_starter`
(fixtures imported from another module would be redefinitions to the linter).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from nio import AsyncClient, JoinResponse, RoomCreateResponse, RoomSendResponse, SyncResponse

from companion.app import App, build
from companion.commands import CommandSpec
from companion.config import Settings
from companion.content import Content
from companion_adapters.matrix import run
from companion_adapters.matrix.adapter import MatrixAdapter
from tests.conftest import START
from tests.fakes import FakeClock
from tests.matrix_server.synapse import RegisteredUser, SynapseServer

TOKEN_ENV = "COMPANION_MATRIX_ACCESS_TOKEN"
PASSWORD_ENV = "COMPANION_MATRIX_PASSWORD"

Event = dict[str, Any]
Match = Callable[[str, Event], bool]

_ids = itertools.count()


def fresh(synapse: SynapseServer, name: str, **kw: Any) -> RegisteredUser:
    """A new user whose id no other test (or test run) uses."""
    return synapse.register(f"{name}_{os.getpid()}_{next(_ids)}", **kw)


class Person:
    """Someone in the rooms, with a real client; remembers every event it has seen."""

    def __init__(self, synapse: SynapseServer, user: RegisteredUser) -> None:
        self.user = user
        self.id = user.user_id
        self.client = AsyncClient(synapse.base_url, user.user_id)
        self.client.restore_login(user.user_id, user.device_id, user.access_token)
        self.events: list[tuple[str, Event]] = []  # (room id, event source)
        self.invited: list[str] = []

    async def sync(self, timeout_ms: int = 250) -> None:
        response = await self.client.sync(timeout=timeout_ms)
        if not isinstance(response, SyncResponse):
            await asyncio.sleep(0.05)
            return
        for room_id, info in response.rooms.join.items():
            for event in info.timeline.events:
                self.events.append((room_id, event.source))
        self.invited.extend(response.rooms.invite)

    async def wait_for(self, match: Match, within: float = 6.0) -> Event:
        """The first event (seen before or arriving within ``within`` s) that matches."""
        deadline = time.monotonic() + within
        checked = 0
        while True:
            for room_id, event in self.events[checked:]:
                if match(room_id, event):
                    return event
            checked = len(self.events)
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.id} saw no matching event within {within} s")
            await self.sync()

    async def reply_to(self, room_id: str, event_id: str, sender: str) -> Event:
        return await self.wait_for(
            lambda room, e: room == room_id and e.get("sender") == sender and replied(e) == event_id
        )

    async def say(self, room_id: str, body: str, **content: Any) -> str:
        payload = {"msgtype": content.pop("msgtype", "m.text"), "body": body, **content}
        response = await self.client.room_send(room_id, "m.room.message", payload)
        assert isinstance(response, RoomSendResponse), response
        return response.event_id

    async def ask(self, room_id: str, body: str, bot_id: str) -> str:
        """Say a command and return the plain body of the bot's reply to it."""
        event_id = await self.say(room_id, body)
        reply = await self.reply_to(room_id, event_id, bot_id)
        return str(reply["content"]["body"])

    async def room(self, *invite: str, name: str = "circle", **kw: Any) -> str:
        created = await self.client.room_create(name=name, invite=list(invite), **kw)
        assert isinstance(created, RoomCreateResponse), created
        return created.room_id

    async def join(self, room_id: str) -> None:
        assert isinstance(await self.client.join(room_id), JoinResponse)

    async def accept_invite(self, within: float = 6.0) -> str:
        """Wait for the next invite (a direct room the bot opens) and join it."""
        deadline = time.monotonic() + within
        while not self.invited:
            assert time.monotonic() < deadline, f"{self.id} was invited nowhere"
            await self.sync()
        room_id = self.invited.pop(0)
        await self.join(room_id)
        return room_id

    def sent_by(self, sender: str, room_id: str) -> list[Event]:
        return [e for r, e in self.events if r == room_id and e.get("sender") == sender]


def replied(event: Event) -> str | None:
    relates = event.get("content", {}).get("m.relates_to", {})
    return relates.get("m.in_reply_to", {}).get("event_id")


def notice_from(sender: str, room_id: str, contains: str = "") -> Match:
    def match(room: str, event: Event) -> bool:
        content = event.get("content", {})
        return (
            room == room_id
            and event.get("sender") == sender
            and content.get("msgtype") == "m.notice"
            and contains in content.get("body", "")
        )

    return match


@dataclass
class Bot:
    user: RegisteredUser
    app: App
    task: asyncio.Task[None]

    @property
    def id(self) -> str:
        return self.user.user_id

    @property
    def adapter(self) -> MatrixAdapter:
        port = self.app.ports["matrix"]
        assert isinstance(port, MatrixAdapter)
        return port

    @property
    def clock(self) -> FakeClock:
        assert isinstance(self.app.clock, FakeClock)
        return self.app.clock

    @property
    def db_path(self) -> Path:
        path = self.app.settings.db_path
        assert isinstance(path, Path)
        return path

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.app.close()


@asynccontextmanager
async def people_maker(synapse: SynapseServer) -> AsyncIterator[Callable[[str], Person]]:
    """``make("alice")``: a fresh user with a client; every client closed at the end."""
    made: list[Person] = []

    def make(name: str) -> Person:
        person = Person(synapse, fresh(synapse, name))
        made.append(person)
        return person

    try:
        yield make
    finally:
        for person in made:
            await person.client.close()


def matrix_settings(
    synapse: SynapseServer, user: RegisteredUser, db: Path, **extra: Any
) -> Settings:
    section = {"homeserver": synapse.base_url, "user_id": user.user_id, **extra}
    return Settings(db_path=db, adapters=("matrix",), sections={"matrix": section})


@asynccontextmanager
async def bot_starter(
    synapse: SynapseServer, shipped: Content, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., Any]]:
    """``await start(user=None, commands=(), **matrix_settings)``: run the bot (again, on the
    same database, to 'restart' it) until its first sync; all stopped at the end."""
    running: list[Bot] = []
    clock = FakeClock(START)

    async def start(
        user: RegisteredUser | None = None,
        *,
        commands: tuple[CommandSpec, ...] = (),
        sections: dict[str, Any] | None = None,
        **extra: Any,
    ) -> Bot:
        user = user or fresh(synapse, "bot")
        monkeypatch.setenv(TOKEN_ENV, user.access_token)
        # The people here read no encryption (Person, not SecretPerson): direct rooms the
        # bot opens stay plain unless a test asks for encrypted ones (test_matrix_e2e).
        extra.setdefault("encrypt_direct_rooms", False)
        settings = matrix_settings(synapse, user, tmp_path / "bot.db", **extra)
        if sections:
            settings = replace(settings, sections={**settings.sections, **sections})
        app = await build(settings, clock=clock, content=shipped)
        app.registry.extend(commands)
        task = asyncio.create_task(run(app.gateway, settings))
        bot = Bot(user, app, task)
        running.append(bot)
        deadline = time.monotonic() + 5
        while "matrix" not in app.ports or not bot.adapter.sync.synced.is_set():
            if task.done():
                task.result()
            assert time.monotonic() < deadline, "the bot did not finish its first sync"
            await asyncio.sleep(0.01)
        return bot

    try:
        yield start
    finally:
        for bot in running:
            if not bot.task.done():
                await bot.stop()


async def joined_room(person: Person, bot: Bot, *invite: str, **kw: Any) -> str:
    """A room made by ``person`` with the bot (and ``invite``) invited, after its hello."""
    room_id = await person.room(bot.id, *invite, **kw)
    await person.wait_for(notice_from(bot.id, room_id, "Hello!"))
    return room_id
