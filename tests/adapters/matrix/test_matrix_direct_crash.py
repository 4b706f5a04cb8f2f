"""A direct room opened once across a crash, on a real Synapse.

Matrix's createRoom has no transaction id: a bot killed after the homeserver made a direct
room, before it wrote the room down, used to open a second one after the restart (and the
member got two invites). Here the bot is a real `companion run` subprocess talking to
Synapse through a loopback proxy that SIGKILLs it the moment Synapse has answered its
createRoom, before the answer reaches it: the exact window between the room's creation and
its bookkeeping. After the restart the member has one direct room and the answer once.

The mirror case: a member opens the direct room (invites the bot, ``is_direct``) and the
bot is killed the moment Synapse has answered its join, before it filed the room. After
the restart that room is still the member's direct room, not a community.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from nio import RoomPreset

from companion.store import Store
from tests.adapters.matrix.chaos import BotProcess, write_config
from tests.matrix_server.people import Person, fresh, notice_from, replied
from tests.matrix_server.synapse import SynapseServer

pytestmark = [pytest.mark.matrix, pytest.mark.slow]

FORWARDED = ("authorization", "content-type")


def is_create(path: str) -> bool:
    return path.endswith("/createRoom")


def is_join(path: str) -> bool:
    return "/join/" in path or (path.endswith("/join") and "/rooms/" in path)


class KillingProxy:
    """Passes the bot's requests to Synapse; at the first POST matching ``fatal`` (by
    default a createRoom) once ``armed``, after Synapse has done it, calls ``kill`` (the
    bot never hears the answer) and records the room it names."""

    def __init__(
        self,
        upstream: str,
        kill: Callable[[], None],
        fatal: Callable[[str], bool] = is_create,
        *,
        armed: bool = True,
    ) -> None:
        self.upstream = upstream
        self.kill = kill
        self.fatal = fatal
        self.armed = armed
        self.made: list[str] = []  # the room of the request the bot never heard back from
        self.created = 0  # createRoom requests that reached Synapse
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        self._session = aiohttp.ClientSession()
        app = web.Application(client_max_size=2**24)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED}
        async with self._session.request(
            request.method,
            self.upstream + request.rel_url.path_qs,
            data=await request.read(),
            headers=headers,
        ) as answer:
            payload = await answer.read()
            status = answer.status
            kind = answer.headers.get("Content-Type", "application/json")
        if request.method == "POST" and is_create(request.path):
            self.created += 1
        if request.method == "POST" and self.armed and self.fatal(request.path):
            if not self.made and status == 200:
                self.made.append(str(json.loads(payload)["room_id"]))
                self.kill()  # made on the homeserver, unknown to the bot
                return web.Response(status=502)
        return web.Response(body=payload, status=status, headers={"Content-Type": kind})

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()  # ends the long polls still waiting on Synapse
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def member(synapse: SynapseServer) -> AsyncIterator[Person]:
    person = Person(synapse, fresh(synapse, "dmmember"))
    try:
        yield person
    finally:
        await person.client.close()


async def settle(person: Person, seconds: float) -> None:
    """Sync for a while longer: whatever else was coming has come."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await person.sync(timeout_ms=200)


async def test_a_bot_killed_while_opening_a_direct_room_opens_no_second_one(
    synapse: SynapseServer, member: Person, tmp_path: Path
) -> None:
    bot = fresh(synapse, "dmbot")
    config, _ = write_config(tmp_path, synapse, bot, None, encryption=False)
    process = BotProcess(config, bot.access_token, tmp_path / "bot.log")
    proxy = KillingProxy(synapse.base_url, process.kill)
    url = await proxy.start()
    config.write_text(config.read_text().replace(synapse.base_url, url))
    try:
        process.spawn()
        room = await member.room(bot.user_id, name="circle")
        await member.wait_for(notice_from(bot.user_id, room, "Hello!"), within=30)

        asked = await member.say(room, "!mydata")  # answered privately: a direct room
        deadline = time.monotonic() + 20
        while not proxy.made:
            assert time.monotonic() < deadline, process.tail()
            await asyncio.sleep(0.02)
        assert not process.alive()  # killed before it heard of the room
        [direct] = proxy.made

        process.spawn()  # restarted at once, as a supervisor would
        pointer = await member.wait_for(
            lambda r, e: r == room and e.get("sender") == bot.user_id and replied(e) == asked,
            within=30,
        )
        assert "direct message" in pointer["content"]["body"], process.tail()
        await settle(member, 1.5)
        assert set(member.invited) == {direct}, process.tail()  # one direct room, the first
        assert proxy.created == 1, process.tail()

        await member.join(direct)
        await member.wait_for(notice_from(bot.user_id, direct, "What Companion keeps"), 10)
        await settle(member, 1.0)
        answers = [
            e for e in member.sent_by(bot.user_id, direct) if "What Companion keeps" in str(e)
        ]
        assert len(answers) == 1, process.tail()  # the answer once
        pointers = [e for e in member.sent_by(bot.user_id, room) if replied(e) == asked]
        assert len(pointers) == 1  # and the pointer to it once

        # filed now (under the member's keyed hash), nothing left pending
        filed, pending = await direct_rooms(tmp_path, bot.user_id, "direct-pending")
        assert list(filed) == [direct] and member.id not in json.dumps(filed)
        assert pending == "[]"
    finally:
        await process.stop()
        await proxy.stop()


async def direct_rooms(
    tmp_path: Path, bot_id: str, unfinished: str
) -> tuple[dict[str, Any], str | None]:
    """The direct rooms the stopped bot filed, and its record of unfinished ones."""
    store = await Store.open(str(tmp_path / "bot.db"))
    try:
        filed = json.loads(await store.kv.get(f"matrix:direct:{bot_id}") or "{}")
        return filed, await store.kv.get(f"matrix:{unfinished}:{bot_id}")
    finally:
        await store.close()


async def test_a_bot_killed_while_joining_a_members_direct_room_keeps_it_direct(
    synapse: SynapseServer, member: Person, tmp_path: Path
) -> None:
    bot = fresh(synapse, "dmjoinbot")
    config, _ = write_config(tmp_path, synapse, bot, None, encryption=False)
    process = BotProcess(config, bot.access_token, tmp_path / "bot.log")
    proxy = KillingProxy(synapse.base_url, process.kill, is_join, armed=False)
    url = await proxy.start()
    config.write_text(config.read_text().replace(synapse.base_url, url))
    try:
        process.spawn()
        room = await member.room(bot.user_id, name="circle")
        await member.wait_for(notice_from(bot.user_id, room, "Hello!"), within=30)

        proxy.armed = True  # the next join is the direct room's
        dm = await member.room(
            bot.user_id, name="", is_direct=True, preset=RoomPreset.trusted_private_chat
        )
        deadline = time.monotonic() + 20
        while not proxy.made:
            assert time.monotonic() < deadline, process.tail()
            await asyncio.sleep(0.02)
        assert not process.alive()  # killed in the room, before it filed it
        assert proxy.made == [dm]

        process.spawn()  # restarted at once, as a supervisor would
        # A private-only command is taken as said in a direct chat, not in a "community".
        question = "How do I speak up without centring myself?"
        said = await member.say(dm, f"!ask anonymously {question}")
        ack = await member.wait_for(
            lambda r, e: r == dm and e.get("sender") == bot.user_id and replied(e) == said,
            within=30,
        )
        assert "without your name" in ack["content"]["body"], process.tail()
        store = await Store.open(str(tmp_path / "bot.db"))
        try:  # queued for the circle the member shares with the bot, and nowhere else
            assert await store.contributions.count_pending(room) == 1
            assert await store.contributions.count_pending(dm) == 0
        finally:
            await store.close()

        # What the bot tells the member privately goes to that room: no second one.
        asked = await member.say(room, "!mydata")
        pointer = await member.reply_to(room, asked, bot.user_id)
        assert "direct message" in pointer["content"]["body"], process.tail()
        await member.wait_for(notice_from(bot.user_id, dm, "What Companion keeps"), 10)
        # And it is greeted as a direct room it joined without a crash would be.
        await member.wait_for(notice_from(bot.user_id, dm, "Hello!"), 10)
        await settle(member, 1.0)
        assert member.invited == [] and proxy.created == 0, process.tail()
        hellos = [e for e in member.sent_by(bot.user_id, dm) if "Hello!" in str(e)]
        assert len(hellos) == 1

        # filed (under the member's keyed hash), nothing left being joined
        filed, joining = await direct_rooms(tmp_path, bot.user_id, "direct-joining")
        assert list(filed) == [dm] and member.id not in json.dumps(filed)
        assert joining == "{}"
    finally:
        await process.stop()
        await proxy.stop()
