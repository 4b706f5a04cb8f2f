"""The Matrix adapter end to end, against a real Synapse on 127.0.0.1.

Each test registers fresh users, runs the bot in this event loop with ``run(app.gateway, settings)``
(a temporary SQLite file, the shipped content, a FakeClock), and drives it with a second
matrix-nio client as a person would: invite, commands, threads, restarts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from nio import (
    AsyncClient,
    JoinResponse,
    RoomGetStateEventResponse,
    RoomPutStateResponse,
)

from companion.app import build
from companion.commands import CommandSpec
from companion.config import ConfigError
from companion.content import Content
from companion.dispatch import APOLOGY
from companion.events import Invocation, Place, Reply
from companion.ports import PostError
from companion_adapters.matrix import adapter as adapter_module
from companion_adapters.matrix import run
from tests.conftest import START
from tests.fakes import FakeClock
from tests.matrix_server.people import (
    PASSWORD_ENV,
    TOKEN_ENV,
    Bot,
    fresh,
    joined_room,
    matrix_settings,
    notice_from,
    replied,
)
from tests.matrix_server.synapse import SynapseServer

pytestmark = pytest.mark.matrix

ROOT = Path(__file__).resolve().parents[3]


# --- invite, hello, commands ---------------------------------------------------------------


async def test_invite_hello_and_define_answered_as_a_reply(
    start_bot: Any, people: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = await start_bot()
    alice = people("alice")
    room_id = await alice.room(bot.id)

    hello = await alice.wait_for(notice_from(bot.id, room_id, "Hello!"))
    assert "!help" in hello["content"]["body"]
    assert hello["content"]["m.mentions"] == {}

    chat = await alice.say(room_id, "just chatting, not a command")
    bang = await alice.say(room_id, "!!! wow")
    from_a_bot = await alice.say(room_id, "!define allyship", msgtype="m.notice")
    command = await alice.say(room_id, "!define allyship")

    reply = await alice.reply_to(room_id, command, bot.id)
    content = reply["content"]
    assert content["msgtype"] == "m.notice"
    assert "an active and consistent practice" in content["body"]
    assert content["format"] == "org.matrix.custom.html"
    assert "<strong>Allyship</strong>" in content["formatted_body"]
    assert content["m.mentions"] == {}
    assert "**" not in content["body"]  # the plain body carries no Markdown
    answered = {replied(e) for e in alice.sent_by(bot.id, room_id)}
    assert answered.isdisjoint({chat, bang, from_a_bot})

    root = await alice.say(room_id, "Thread: what did you notice this week?")
    in_thread = await alice.say(
        room_id,
        "!define ally",
        **{
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": root},
            }
        },
    )
    reply = await alice.reply_to(room_id, in_thread, bot.id)
    relates = reply["content"]["m.relates_to"]
    assert relates["rel_type"] == "m.thread" and relates["event_id"] == root
    assert relates["is_falling_back"] is False
    assert caplog.records and bot.user.access_token not in caplog.text  # never logged


async def test_help_shows_the_configured_prefix(start_bot: Any, people: Any) -> None:
    bot = await start_bot(command_prefix="?")
    alice = people("prefixed")
    room_id = await joined_room(alice, bot)
    asked = await alice.say(room_id, "?help")
    body = (await alice.reply_to(room_id, asked, bot.id))["content"]["body"]
    assert "?define" in body and "!define" not in body
    asked = await alice.say(room_id, "?help define")  # one command: prefixed too
    body = (await alice.reply_to(room_id, asked, bot.id))["content"]["body"]
    assert body.startswith("?define <term>") and "?define allyship" in body, body


async def test_only_moderators_schedule_and_room_creators_are_moderators(
    start_bot: Any, people: Any
) -> None:
    bot = await start_bot()
    alice, bob = people("creator"), people("member")
    room_id = await alice.room(bot.id, bob.id)
    await bob.join(room_id)
    await alice.wait_for(notice_from(bot.id, room_id, "Hello!"))

    refused = await bob.say(room_id, "!schedule reflection 09:00")
    reply = await bob.reply_to(room_id, refused, bot.id)
    assert "Only moderators" in reply["content"]["body"]

    # Room version 12: the creator is in no power_levels "users" entry, yet moderates.
    levels = await alice.client.room_get_state_event(room_id, "m.room.power_levels")
    assert isinstance(levels, RoomGetStateEventResponse)
    assert alice.id not in levels.content.get("users", {})
    planned = await alice.say(room_id, "!schedule reflection 09:00")
    reply = await alice.reply_to(room_id, planned, bot.id)
    assert reply["content"]["body"].startswith("Planned #")

    # Power level 50 makes Bob a moderator; the bot sees the change in its sync.
    users = {**levels.content.get("users", {}), bob.id: 50}
    put = await alice.client.room_put_state(
        room_id, "m.room.power_levels", {**levels.content, "users": users}
    )
    assert isinstance(put, RoomPutStateResponse), put
    promoted = await bob.say(room_id, "!schedule reflection 18:30")
    reply = await bob.reply_to(room_id, promoted, bot.id)
    assert reply["content"]["body"].startswith("Planned #")


async def test_power_in_another_room_does_not_moderate_this_one(
    start_bot: Any, people: Any
) -> None:
    bot = await start_bot()
    alice, bob = people("room-a-creator"), people("room-b-creator")
    room_a = await alice.room(bot.id, bob.id)
    await bob.join(room_a)
    await alice.wait_for(notice_from(bot.id, room_a, "Hello!"))
    room_b = await joined_room(bob, bot)  # Bob moderates room B, where he is the creator

    async def answer(person: Any, room: str, line: str) -> str:
        asked = await person.say(room, line)
        return str((await person.reply_to(room, asked, bot.id))["content"]["body"])

    assert "direct message" in await answer(  # the suggester is answered privately
        alice, room_a, "!suggest term solidarity Standing with others, in deeds."
    )
    assert "Only moderators can use !approve" in await answer(bob, room_a, "!approve 1")
    assert "Only moderators" in await answer(bob, room_a, "!timezone Europe/Berlin")
    assert (await answer(bob, room_b, "!timezone Europe/Berlin")).startswith("Time zone set")
    assert "#1 approved" in await answer(alice, room_a, "!approve 1")
    assert "Europe/Berlin" not in await answer(alice, room_a, "!timezone")


async def test_a_scheduled_discussion_opens_a_thread_once(
    start_bot: Any, people: Any, synapse: SynapseServer
) -> None:
    bot = await start_bot()
    alice = people("host")
    room_id = await joined_room(alice, bot)

    command = await alice.say(room_id, "!schedule discussion once 2026-03-02 13:00 next")
    reply = await alice.reply_to(room_id, command, bot.id)
    assert reply["content"]["body"].startswith("Planned #"), reply["content"]["body"]

    bot.clock.set(START + timedelta(hours=1))  # the scheduler's loop wakes on the clock
    thread_reply = await alice.wait_for(
        lambda room, e: (
            room == room_id
            and e.get("sender") == bot.id
            and e.get("content", {}).get("m.relates_to", {}).get("rel_type") == "m.thread"
        )
    )
    root_id = thread_reply["content"]["m.relates_to"]["event_id"]
    root = next(e for _, e in alice.events if e.get("event_id") == root_id)
    assert root["content"]["msgtype"] == "m.notice" and root["sender"] == bot.id
    assert thread_reply["content"]["m.relates_to"]["is_falling_back"] is True
    assert thread_reply["content"]["m.mentions"] == {}

    threads = await asyncio.to_thread(
        synapse.request_json,
        "GET",
        f"/_matrix/client/v1/rooms/{quote(room_id)}/threads",
        access_token=alice.user.access_token,
    )
    assert [t["event_id"] for t in threads["chunk"]] == [root_id]

    # The key is the transaction id: sending the same occurrence again posts nothing new.
    place = Place("matrix", room_id, room_id)
    again = await bot.adapter.open_thread(place, "title", "text", key="cmpdup-1")
    assert again == await bot.adapter.open_thread(place, "title", "text", key="cmpdup-1")
    first = await bot.adapter.post(place, "once", key="cmpdup-2")
    assert first.message_id == (await bot.adapter.post(place, "once", key="cmpdup-2")).message_id

    elsewhere = await alice.room()  # the bot is not in it
    with pytest.raises(PostError) as refused:
        await bot.adapter.post(Place("matrix", elsewhere, elsewhere), "hi", key="cmpx-1")
    assert refused.value.permanent


# --- restarts ------------------------------------------------------------------------------


async def test_restart_answers_what_was_missed_and_nothing_twice(
    start_bot: Any, people: Any, synapse: SynapseServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot_user = fresh(synapse, "bot")
    alice = people("regular")
    room_id = await alice.room(bot_user.user_id)
    # The bot account joins before the bot ever runs; what is said then stays unanswered.
    raw = AsyncClient(synapse.base_url, bot_user.user_id)
    raw.restore_login(bot_user.user_id, bot_user.device_id, bot_user.access_token)
    assert isinstance(await raw.join(room_id), JoinResponse)
    await raw.close()
    before = await alice.say(room_id, "!define ally")

    bot = await start_bot(bot_user)
    first = await alice.say(room_id, "!define allyship")
    await alice.reply_to(room_id, first, bot.id)
    await bot.stop()

    missed = await alice.say(room_id, "!define equity")  # while the bot is down
    bot = await start_bot(bot_user)
    await alice.reply_to(room_id, missed, bot.id)
    last = await alice.say(room_id, "!terms")
    await alice.reply_to(room_id, last, bot.id)

    answers = [replied(e) for e in alice.sent_by(bot.id, room_id)]
    assert answers.count(first) == 1 and answers.count(missed) == 1
    assert before not in answers

    # Down for "an hour": the command sent meanwhile is past max_command_age_minutes.
    await bot.stop()
    stale = await alice.say(room_id, "!define bias")
    monkeypatch.setattr(adapter_module, "time", HourLaterOnce())
    bot = await start_bot(bot_user)
    fresh_one = await alice.say(room_id, "!define equity")
    await alice.reply_to(room_id, fresh_one, bot.id)
    assert stale not in [replied(e) for e in alice.sent_by(bot.id, room_id)]


async def who(inv: Invocation) -> Reply:
    return Reply(f"You are {inv.actor.display_name}.")


async def test_a_member_is_called_by_their_display_name_after_a_restart(
    start_bot: Any, people: Any
) -> None:
    """The bot knows the members' display names from the room's state: after a restart
    too, for a member who has said nothing since (names show in replies and the
    dashboard's "signed in as")."""
    named = CommandSpec("who", "Say who asked", who)
    bot = await start_bot(commands=(named,))
    ada = people("quiet")
    room_id = await joined_room(ada, bot)
    await ada.client.set_displayname("Ada Lovelace")
    await ada.wait_for(
        lambda r, e: r == room_id and e.get("content", {}).get("displayname") == "Ada Lovelace"
    )
    assert await ada.ask(room_id, "!who", bot.id) == "You are Ada Lovelace."
    await bot.stop()

    bot = await start_bot(bot.user, commands=(named,))
    assert await ada.ask(room_id, "!who", bot.id) == "You are Ada Lovelace."


class HourLaterOnce:
    """The wall clock as the adapter's first sync sees it after a long downtime."""

    monotonic = staticmethod(time.monotonic)

    def __init__(self) -> None:
        self.first = True

    def time(self) -> float:
        skew, self.first = (3600.0 if self.first else 0.0), False
        return time.time() + skew


async def test_survives_a_homeserver_restart(
    start_bot: Any, people: Any, synapse: SynapseServer, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start_bot()
    alice = people("steady")
    room_id = await joined_room(alice, bot)

    caplog.set_level(logging.WARNING, logger="companion_adapters.matrix")
    await synapse.arestart()
    command = await alice.say(room_id, "!define allyship")
    reply = await alice.reply_to(room_id, command, bot.id)
    assert "an active and consistent practice" in reply["content"]["body"]
    assert any("sync failed" in r.getMessage() for r in caplog.records)
    assert bot.adapter.sync.failures_in_a_row == 0 and not bot.task.done()


# --- what users type, and what the bot sends back -----------------------------------------


async def test_huge_and_html_laden_messages_are_answered_safely(
    start_bot: Any, people: Any
) -> None:
    bot = await start_bot()
    alice = people("tester")
    room_id = await joined_room(alice, bot)

    huge = await alice.say(room_id, "!define " + "x" * 63_000)  # near the 64 KiB event limit
    reply = await alice.reply_to(room_id, huge, bot.id)
    assert "too long" in reply["content"]["body"]

    nasty = "!define <b>x</b> @room <script>alert(1)</script>"
    html = await alice.say(
        room_id, nasty, format="org.matrix.custom.html", formatted_body="<b>x</b> @room"
    )
    reply = await alice.reply_to(room_id, html, bot.id)
    content = reply["content"]
    for field in ("body", "formatted_body"):
        assert "@room" not in content[field]
    assert "<b>" not in content["formatted_body"] and "<script" not in content["formatted_body"]
    assert "&lt;script&gt;" in content["formatted_body"]
    assert content["m.mentions"] == {}

    # A reply too big for one event arrives as several notices, each accepted.
    long_text = "\n".join(f"- line {i}: " + "allyship is a practice " * 12 for i in range(400))
    await bot.adapter.post(Place("matrix", room_id, room_id), long_text, key="cmplong-1")
    await alice.wait_for(notice_from(bot.id, room_id, "line 399:"))
    parts = [e for e in alice.sent_by(bot.id, room_id) if "line " in e["content"].get("body", "")]
    assert len(parts) >= 4
    assert "line 0:" in parts[0]["content"]["body"]


async def test_invites_from_strangers_and_encrypted_rooms_are_declined(
    start_bot: Any, people: Any
) -> None:
    alice, stranger = people("friend"), people("stranger")
    bot = await start_bot(allowed_inviters=[alice.id], encryption=False)

    unwelcome = await stranger.room(bot.id)
    await stranger.wait_for(
        lambda room, e: (
            room == unwelcome
            and e.get("type") == "m.room.member"
            and e.get("state_key") == bot.id
            and e["content"].get("membership") == "leave"
        )
    )

    secret = await alice.room(
        bot.id,
        initial_state=[
            {
                "type": "m.room.encryption",
                "state_key": "",
                "content": {"algorithm": "m.megolm.v1.aes-sha2"},
            }
        ],
    )
    deadline = time.monotonic() + 6
    while not alice.invited:
        assert time.monotonic() < deadline, "no direct room from the bot"
        await alice.sync()
    direct = alice.invited[0]
    assert direct != secret
    await alice.join(direct)
    line = await alice.wait_for(notice_from(bot.id, direct, "end-to-end encrypted"))
    assert "formatted_body" not in line["content"] and line["content"]["m.mentions"] == {}
    assert "declined the invite to “circle”" in line["content"]["body"]
    await alice.wait_for(
        lambda room, e: (
            room == secret
            and e.get("type") == "m.room.member"
            and e.get("state_key") == bot.id
            and e["content"].get("membership") == "leave"
        )
    )
    never_joined = [
        e
        for r, e in alice.events
        if r == secret and e.get("state_key") == bot.id and e["content"].get("membership") == "join"
    ]
    assert never_joined == [] and alice.sent_by(bot.id, secret)[0]["type"] == "m.room.member"
    assert bot.adapter.direct.by_room == {direct: bot.adapter.direct.member_key(alice.id)}

    # Encryption turned on in a room the bot is in: it leaves, and says why in the same DM.
    later = await joined_room(alice, bot)
    put = await alice.client.room_put_state(
        later, "m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"}
    )
    assert isinstance(put, RoomPutStateResponse), put
    line = await alice.wait_for(notice_from(bot.id, direct, "so I left “circle”"))
    assert "formatted_body" not in line["content"]
    assert bot.adapter.direct.by_room == {direct: bot.adapter.direct.member_key(alice.id)}
    with pytest.raises(PostError) as refused:
        await bot.adapter.post(Place("matrix", later, later), "hello?", key="cmpenc-1")
    assert refused.value.permanent


async def whisper(inv: Invocation) -> Reply:
    where = "a direct chat" if inv.place.is_direct else "a community"
    return Reply(f"Only for you, **{inv.actor.display_name}**, asked in {where}.")


async def test_private_replies_go_to_one_direct_room(start_bot: Any, people: Any) -> None:
    secret = CommandSpec("whisper", "Answer privately", whisper, private=True)
    bot = await start_bot(commands=(secret,))
    alice = people("private")
    room_id = await joined_room(alice, bot)

    asked = await alice.say(room_id, "!whisper")
    pointer = await alice.reply_to(room_id, asked, bot.id)
    assert "direct message" in pointer["content"]["body"]
    deadline = time.monotonic() + 6
    while not alice.invited:
        assert time.monotonic() < deadline, "no direct room from the bot"
        await alice.sync()
    direct = alice.invited[0]
    await alice.join(direct)
    answer = await alice.wait_for(notice_from(bot.id, direct, "Only for you"))
    assert "asked in a community" in answer["content"]["body"]

    again = await alice.say(room_id, "!whisper")
    await alice.reply_to(room_id, again, bot.id)
    await alice.wait_for(
        lambda room, e: (
            room == direct
            and replied(e) is None
            and e is not answer
            and "Only for you" in e.get("content", {}).get("body", "")
        )
    )
    mine = bot.adapter.direct.member_key(alice.id)  # the bot files direct rooms under a keyed hash
    assert bot.adapter.direct.by_room == {direct: mine}  # the same direct room, reused

    # In the direct room itself: a direct chat, where community commands are refused.
    here = await alice.say(direct, "!whisper")
    reply = await alice.reply_to(direct, here, bot.id)
    assert "asked in a direct chat" in reply["content"]["body"]
    refused = await alice.say(direct, "!schedule reflection 09:00")
    reply = await alice.reply_to(direct, refused, bot.id)
    assert "inside a community" in reply["content"]["body"]

    # Alice leaves the direct room: the bot forgets it, and the next private reply opens
    # a new one.
    await alice.client.room_leave(direct)
    deadline = time.monotonic() + 6
    while direct in bot.adapter.direct:
        assert time.monotonic() < deadline, "the bot kept a direct room nobody reads"
        await asyncio.sleep(0.02)
    alice.invited.clear()
    last = await alice.say(room_id, "!whisper")
    await alice.reply_to(room_id, last, bot.id)
    while not alice.invited:
        assert time.monotonic() < deadline + 6, "no new direct room"
        await alice.sync()
    assert alice.invited[0] != direct and bot.adapter.direct.by_room == {alice.invited[0]: mine}


async def test_a_command_that_fails_outside_its_handler_gets_the_apology(
    start_bot: Any, people: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """As on Discord: when answering fails after the dispatcher (here the direct room for a
    private answer cannot be opened), the member gets the short apology, not silence."""
    secret = CommandSpec("whisper", "Answer privately", whisper, private=True)
    bot = await start_bot(commands=(secret,))
    alice = people("unlucky")
    room_id = await joined_room(alice, bot)

    async def refused(user_id: str) -> str:
        raise PostError(f"could not open a direct room with {user_id}: M_FORBIDDEN")

    async def broken(user_id: str) -> str:
        raise RuntimeError("a bug between the dispatcher and the room")

    for failure in (refused, broken):
        monkeypatch.setattr(bot.adapter.direct, "room_with", failure)
        asked = await alice.say(room_id, "!whisper")
        reply = await alice.reply_to(room_id, asked, bot.id)
        assert reply["content"]["body"] == APOLOGY, failure.__name__
        assert reply["content"]["msgtype"] == "m.notice"
    assert "could not open a direct room" in caplog.text
    assert "a bug between the dispatcher and the room" in caplog.text


# --- start-up failures -----------------------------------------------------------------


async def test_a_missing_or_refused_token_fails_at_start(
    synapse: SynapseServer, shipped: Content, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = fresh(synapse, "bot")
    settings = matrix_settings(synapse, user, tmp_path / "bot.db")
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    app = await build(settings, content=shipped)
    try:
        with pytest.raises(ConfigError, match=TOKEN_ENV):
            await run(app.gateway, settings)
        monkeypatch.setenv(TOKEN_ENV, "syt_not_a_real_token")
        with pytest.raises(ConfigError, match=f"M_UNKNOWN_TOKEN.*{TOKEN_ENV}"):
            await run(app.gateway, settings)
    finally:
        await app.close()

    # The same through the command line: a one-line message naming the variable, exit 2.
    config = tmp_path / "companion.toml"
    config.write_text(
        f'[storage]\npath = "cli.db"\n\n[matrix]\nhomeserver = "{synapse.base_url}"\n'
        f'user_id = "{user.user_id}"\n'
    )
    env = {**os.environ, TOKEN_ENV: "syt_not_a_real_token", "PYTHONPATH": str(ROOT)}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "companion", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert TOKEN_ENV in done.stderr and "syt_not_a_real_token" not in done.stderr


async def test_a_password_login_keeps_its_device_across_restarts(
    people: Any, synapse: SynapseServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    user = fresh(synapse, "pwbot", password="correct horse battery")
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.setenv(PASSWORD_ENV, user.password)

    async def start() -> Bot:
        settings = matrix_settings(synapse, user, tmp_path / "pw.db")
        app = await build(settings, clock=FakeClock(START))
        bot = Bot(user, app, asyncio.create_task(run(app.gateway, settings)))
        deadline = time.monotonic() + 5
        while "matrix" not in app.ports or not bot.adapter.sync.synced.is_set():
            assert not bot.task.done(), bot.task.exception()
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        return bot

    bot = await start()
    device = bot.adapter.client.device_id
    assert device and device != user.device_id
    await bot.stop()
    bot = await start()
    try:
        assert bot.adapter.client.device_id == device
        alice = people("pwfriend")
        room_id = await joined_room(alice, bot)
        command = await alice.say(room_id, "!define allyship")
        await alice.reply_to(room_id, command, bot.id)
    finally:
        await bot.stop()


async def test_health_shows_syncs_and_the_lag_of_a_command(start_bot: Any, people: Any) -> None:
    bot = await start_bot()
    alice = people("alice")
    room_id = await alice.room(bot.id)
    await alice.wait_for(notice_from(bot.id, room_id, "Hello!"))
    command = await alice.say(room_id, "!define allyship")
    await alice.reply_to(room_id, command, bot.id)
    [matrix] = [a for a in bot.app.metrics.adapters() if a.platform == "matrix"]
    assert matrix.connected and matrix.heartbeat_age is not None and matrix.heartbeat_age < 60
    scraped = bot.app.metrics.exposition().decode()
    lag = next(
        float(line.split()[-1])
        for line in scraped.splitlines()
        if line.startswith("companion_matrix_sync_lag_seconds ")
    )
    assert 0 < lag < 30  # seen moments after the homeserver had it
    assert 'companion_commands_total{command="define",outcome="ok"} 1.0' in scraped
