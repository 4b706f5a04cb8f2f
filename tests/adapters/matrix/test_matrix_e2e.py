"""End-to-end encrypted rooms and direct chats, through the real Synapse.

The members here use matrix-nio with encryption on (as Element does): what the bot says is
checked to be an event their client *decrypted*, and what they say reaches the bot only
encrypted. Plain rooms are the other test modules (with encryption also on in the bot).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from nio.api import RelationshipType

from companion.features.events.posts import EDIT_EVERY
from companion_adapters.matrix import crypto
from tests.conftest import START
from tests.matrix_server.encrypted import SecretPerson, new_device
from tests.matrix_server.people import Bot, Event, notice_from, replied
from tests.matrix_server.synapse import RegisteredUser, SynapseServer

pytestmark = pytest.mark.matrix

Members = Callable[..., SecretPerson]  # (name, user=None): a new member, or another device


@pytest.fixture
async def members(synapse: SynapseServer, tmp_path: Path) -> AsyncIterator[Members]:
    made: list[SecretPerson] = []

    def make(name: str, user: RegisteredUser | None = None) -> SecretPerson:
        person = SecretPerson(synapse, name, tmp_path / "members", user)
        made.append(person)
        return person

    try:
        yield make
    finally:
        for person in made:
            await person.client.close()


async def answer(person: SecretPerson, room_id: str, line: str, bot: Bot) -> Event:
    """Say a command (encrypted) and return the bot's reply, which the person decrypted."""
    event_id = await person.say(room_id, line)
    reply = await person.reply_to(room_id, event_id, bot.id)
    assert reply["event_id"] in person.decrypted, "the reply was not encrypted"
    return reply


async def secret_room(person: SecretPerson, bot: Bot, **kw: Any) -> str:
    room_id = await person.room(bot.id, **kw)
    hello = await person.wait_for(notice_from(bot.id, room_id, "Hello!"))
    assert hello["event_id"] in person.decrypted
    return room_id


async def test_an_encrypted_room_is_answered_and_a_later_member_reads_the_next_reply(
    start_bot: Any, members: Members
) -> None:
    bot = await start_bot()
    alice, bob = members("alice"), members("bob")
    room_id = await secret_room(alice, bot)
    assert bot.adapter.rooms[room_id].encrypted

    reply = await answer(alice, room_id, "!define allyship", bot)
    assert reply["content"]["msgtype"] == "m.notice"
    assert "allyship" in reply["content"]["body"].lower()
    assert "m.relates_to" in reply["content"]  # the reply relation survives encryption

    invited = await alice.client.room_invite(room_id, bob.id)
    assert not hasattr(invited, "status_code"), invited
    await bob.join(room_id)
    await bob.wait_for(lambda r, e: r == room_id and e.get("state_key") == bob.id)
    command = await alice.say(room_id, "!myth 1")
    seen = await bob.reply_to(room_id, command, bot.id)
    assert seen["event_id"] in bob.decrypted and "myth" in seen["content"]["body"].lower()


async def test_an_encrypted_direct_chat_asks_anonymously_and_shows_mydata(
    start_bot: Any, members: Members, people: Any
) -> None:
    bot = await start_bot()
    host, carol = people("host"), members("carol")
    community = await host.room(bot.id, carol.id)  # an ordinary room, moderated by the host
    await host.wait_for(notice_from(bot.id, community, "Hello!"))
    await carol.join(community)

    dm = await secret_room(carol, bot, name="", is_direct=True)
    question = "How do I speak up without centring myself?"
    ack = await answer(carol, dm, f"!ask anonymously {question}", bot)
    assert "without your name" in ack["content"]["body"]
    assert await bot.app.store.contributions.count_pending(community) == 1
    queue = await host.ask(community, "!queue", bot.id)
    assert question in queue and carol.id not in queue and carol.user.localpart not in queue
    assert re.search(r"#\d+ anonymous question", queue)

    mine = await answer(carol, dm, "!mydata", bot)
    assert dm in bot.adapter.direct and mine["content"]["msgtype"] == "m.notice"
    assert "answered you in a direct message" not in mine["content"]["body"]


async def test_a_restart_keeps_the_device_reads_new_messages_and_answers_nothing_twice(
    start_bot: Any, members: Members, synapse: SynapseServer
) -> None:
    bot = await start_bot()
    device = bot.adapter.client.device_id
    alice = members("alice")
    room_id = await secret_room(alice, bot)
    first = await answer(alice, room_id, "!define allyship", bot)
    await bot.stop()

    missed = await alice.say(room_id, "!define equity")  # while the bot is down
    bot = await start_bot(bot.user)
    assert bot.adapter.client.device_id == device
    store = crypto.store_dir(bot.adapter.config, bot.db_path)
    assert json.loads((store / crypto.DEVICE_FILE).read_text())["device_id"] == device
    status = crypto.crypto_status(bot.app.settings, device)
    assert status.present and status.device_id_matches, status.detail
    assert not crypto.crypto_status(bot.app.settings, "OTHERDEVICE").device_id_matches

    await alice.reply_to(room_id, missed, bot.id)
    last = await answer(alice, room_id, "!terms", bot)
    answers = [replied(e) for e in alice.sent_by(bot.id, room_id)]
    commands = [first, last]
    assert answers.count(missed) == 1 and all(answers.count(replied(c)) == 1 for c in commands)


async def test_a_scheduled_thread_in_an_encrypted_room_decrypts(
    start_bot: Any, members: Members
) -> None:
    bot = await start_bot()
    alice = members("host")
    room_id = await secret_room(alice, bot)
    planned = await answer(alice, room_id, "!schedule discussion once 2026-03-02 13:00 next", bot)
    assert planned["content"]["body"].startswith("Planned #")

    bot.clock.set(START + timedelta(hours=1))  # the scheduler's loop wakes on the clock
    first = await alice.wait_for(
        lambda room, e: (
            room == room_id
            and e.get("sender") == bot.id
            and e.get("content", {}).get("m.relates_to", {}).get("rel_type") == "m.thread"
        )
    )
    root_id = first["content"]["m.relates_to"]["event_id"]
    root = next(e for _, e in alice.events if e.get("event_id") == root_id)
    assert root["content"]["msgtype"] == "m.notice" and root["sender"] == bot.id
    assert {root_id, first["event_id"]} <= alice.decrypted


async def test_a_message_the_bot_cannot_decrypt_gets_one_short_note(
    start_bot: Any, members: Members, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start_bot()
    alice = members("alice")
    room_id = await secret_room(alice, bot)
    await answer(alice, room_id, "!define allyship", bot)  # Alice's client knows the device

    # Alice's client stops sharing room keys with the bot's device: a new session, withheld.
    device = alice.client.device_store[bot.id][bot.adapter.client.device_id]
    assert alice.client.blacklist_device(device)
    caplog.set_level(logging.WARNING, logger="companion_adapters.matrix.crypto")
    secret_words = "a private thought nobody should log"
    unreadable = await alice.say(room_id, f"!define {secret_words}")
    note = await alice.reply_to(room_id, unreadable, bot.id)
    assert note["content"]["body"] == crypto.NOTE and note["event_id"] in alice.decrypted
    assert "formatted_body" not in note["content"]

    again = await alice.say(room_id, "!define equity")  # the same withheld session
    await asyncio.sleep(0.3)
    await alice.sync(500)
    notes = [e for e in alice.sent_by(bot.id, room_id) if e["content"].get("body") == crypto.NOTE]
    assert len(notes) == 1 and replied(notes[0]) == unreadable
    assert again not in [replied(e) for e in alice.sent_by(bot.id, room_id)]

    logged = [r.getMessage() for r in caplog.records if "could not decrypt" in r.getMessage()]
    assert len(logged) == 2 and "did not share the room key" in logged[0]
    assert "telling the sender once" in logged[0] and "telling" not in logged[1]
    assert all(secret_words not in line and "equity" not in line for line in logged)


async def test_the_stricter_trust_policies_keep_keys_from_unverified_devices(
    start_bot: Any, members: Members, caplog: pytest.LogCaptureFixture
) -> None:
    alice = members("alice")
    caplog.set_level(logging.WARNING, logger="companion_adapters.matrix")

    # "blacklist": the bot speaks, but Alice's unverified device gets no key to read it.
    bot = await start_bot(unverified_devices="blacklist")
    room_id = await alice.room(bot.id)
    hello = await alice.wait_for(said_by(bot, room_id))
    assert hello["type"] == "m.room.encrypted" and hello["event_id"] in alice.unreadable
    await bot.stop()

    # "refuse": nothing is sent into a room with an unverified device, and the log says why.
    bot = await start_bot(unverified_devices="refuse")
    room_id = await alice.room(bot.id)
    await alice.wait_for(lambda r, e: r == room_id and e.get("state_key") == bot.id and joined(e))
    command = await alice.say(room_id, "!define allyship")
    with pytest.raises(AssertionError, match="no matching event"):
        await alice.wait_for(said_by(bot, room_id), within=1.5)
    assert command not in [replied(e) for e in alice.sent_by(bot.id, room_id)]
    refusals = [
        r.getMessage() for r in caplog.records if "not sending to " + room_id in r.getMessage()
    ]
    assert refusals and any("unverified" in line for line in refusals)


def said_by(bot: Bot, room_id: str) -> Callable[[str, Event], bool]:
    """A message (not a state event, such as its join) from the bot in the room."""
    return lambda r, e: r == room_id and e.get("sender") == bot.id and "state_key" not in e


def joined(event: Event) -> bool:
    return bool(event.get("content", {}).get("membership") == "join")


async def test_a_direct_room_the_bot_opens_is_encrypted_and_read_after_the_invite(
    start_bot: Any, members: Members, people: Any
) -> None:
    """A suggestion's receipt and fate go to the member privately, in a direct room the bot
    opens: encrypted from its first event, and readable by the member, who joins only
    after the first message was sent (its keys went to their devices as an invitee)."""
    bot = await start_bot(encrypt_direct_rooms=True)
    host, dana = people("host"), members("dana")
    community = await host.room(bot.id, dana.id)
    await host.wait_for(notice_from(bot.id, community, "Hello!"))
    await dana.join(community)
    await dana.wait_for(lambda r, e: r == community and e.get("state_key") == dana.id)

    line = "!resource suggest https://example.org/listening Listening first #listening"
    assert "answered you in a direct message" in await dana.ask(community, line, bot.id)
    dm = bot.adapter.direct.by_member[bot.adapter.direct.member_key(dana.id)]
    assert bot.adapter.client.rooms[dm].encrypted
    await dana.join(dm)  # the bot's invite: accepted after its first message was sent
    receipt = await dana.wait_for(notice_from(bot.id, dm, "#1 is waiting"))
    assert receipt["event_id"] in dana.decrypted

    assert "#1 approved" in await host.ask(community, "!approve 1", bot.id)
    approved = await dana.wait_for(notice_from(bot.id, dm, "was approved"))
    assert approved["event_id"] in dana.decrypted


async def related(person: SecretPerson, room_id: str, event_id: str, kind: str) -> set[str]:
    """The events the homeserver relates to ``event_id`` (``m.replace``, ``m.reference``),
    as clients find edits, votes and a poll's end: only by a relation in the clear."""
    relations = person.client.room_get_event_relations(room_id, event_id, RelationshipType(kind))
    return {event.event_id async for event in relations}


async def bring(host: SecretPerson, member: SecretPerson, room_id: str) -> None:
    """``member`` invited by ``host`` and joined (their keys up first)."""
    assert not hasattr(await host.client.room_invite(room_id, member.id), "status_code")
    await member.join(room_id)
    await member.wait_for(lambda r, e: r == room_id and e.get("state_key") == member.id)


async def host_and_bob(
    start_bot: Any, members: Members
) -> tuple[Bot, SecretPerson, SecretPerson, str]:
    """A bot, an encrypted room its host made for it, and Bob brought in."""
    bot = await start_bot()
    alice, bob = members("host"), members("bob")
    room_id = await secret_room(alice, bot)
    await bring(alice, bob, room_id)
    return bot, alice, bob, room_id


async def test_a_poll_in_an_encrypted_room_counts_encrypted_votes_and_ends_encrypted(
    start_bot: Any, members: Members
) -> None:
    bot, alice, bob, room_id = await host_and_bob(start_bot, members)

    await alice.say(room_id, "!poll Which evening? | Tuesday | Thursday for 1d")
    start = await alice.wait_for(
        lambda r, e: r == room_id and e.get("sender") == bot.id and e["type"] == "m.poll.start"
    )
    poll = start["event_id"]
    assert poll in alice.decrypted and start["content"]["m.poll"]["max_selections"] == 1
    await bob.wait_for(lambda r, e: e.get("event_id") == poll)
    assert poll in bob.decrypted

    def vote(answer: str) -> dict[str, Any]:
        return {
            "m.relates_to": {"rel_type": "m.reference", "event_id": poll},
            "org.matrix.msc3381.poll.response": {"answers": [answer]},
        }

    await bob.send(room_id, "org.matrix.msc3381.poll.response", vote("1"))
    changed = await bob.send(room_id, "org.matrix.msc3381.poll.response", vote("2"))
    relates = {"rel_type": "m.reference", "event_id": poll}
    await alice.send(room_id, "m.poll.response", {"m.relates_to": relates, "m.selections": ["2"]})
    for _ in range(100):  # both votes counted once, Bob's latest
        if await bot.app.store.polls.counts(1) == {2: 2}:
            break
        await alice.sync(50)
    assert await bot.app.store.polls.counts(1) == {2: 2}
    assert changed in await related(alice, room_id, poll, "m.reference")

    bot.clock.advance(timedelta(days=1))
    end = await bob.wait_for(
        lambda r, e: r == room_id and e.get("sender") == bot.id and e["type"] == "m.poll.end"
    )
    assert end["event_id"] in bob.decrypted  # the result, encrypted and readable
    assert end["content"]["m.poll.results"] == {"2": 2}
    assert "2 Thursday" in end["content"]["body"] and "2 member(s) voted" in end["content"]["body"]
    assert end["content"]["m.relates_to"] == relates
    # The end relates to the poll where clients look for it: a client closes the poll.
    assert end["event_id"] in await related(alice, room_id, poll, "m.reference")


async def test_an_event_in_an_encrypted_room_takes_encrypted_reactions_as_answers(
    start_bot: Any, members: Members
) -> None:
    bot, alice, bob, room_id = await host_and_bob(start_bot, members)
    await alice.say(room_id, "!event plan weekly thu 18:30 Reading circle | here")
    announcement = await alice.wait_for(notice_from(bot.id, room_id, "Event #1: Reading"))
    ann = announcement["event_id"]
    assert ann in alice.decrypted

    def edited_to(counts: str) -> Callable[[str, Event], bool]:
        def match(room: str, event: Event) -> bool:
            content = event.get("content", {})
            return (
                room == room_id
                and event.get("sender") == bot.id
                and content.get("m.relates_to", {}).get("rel_type") == "m.replace"
                and content.get("m.relates_to", {}).get("event_id") == ann
                and counts in content.get("m.new_content", {}).get("body", "")
            )

        return match

    relates = {"rel_type": "m.annotation", "event_id": ann, "key": "✅"}
    reaction = await bob.send(room_id, "m.reaction", {"m.relates_to": relates})
    edit = await bob.wait_for(edited_to("1 yes · 0 maybe · 0 no"))
    assert edit["event_id"] in bob.decrypted  # sent encrypted, readable by a member
    counts = (await bot.app.store.events.counts([1]))[1]
    assert (counts.yes, counts.maybe, counts.no) == (1, 0, 0)
    # The edit relates to the announcement where clients look for it: shown in its place.
    assert edit["event_id"] in await related(alice, room_id, ann, "m.replace")

    assert not hasattr(await bob.client.room_redact(room_id, reaction), "status_code")
    bot.clock.advance(EDIT_EVERY)  # edits are at least that far apart on the bot's clock
    taken_back = await alice.wait_for(edited_to("0 yes · 0 maybe · 0 no"))
    assert taken_back["event_id"] in alice.decrypted
    counts = (await bot.app.store.events.counts([1]))[1]
    assert (counts.yes, counts.maybe, counts.no) == (0, 0, 0)

    # While the bot was away: Alice reacted (decrypted and counted on the restart); Bob
    # reacted and took it back, so the bot syncs his reaction already redacted (an
    # encrypted event with nothing left to decrypt): nothing counts, and Bob is not asked
    # to "send it again".
    await bot.stop()
    relates = {"rel_type": "m.annotation", "event_id": ann, "key": "❌"}
    gone = await bob.send(room_id, "m.reaction", {"m.relates_to": relates})
    assert not hasattr(await bob.client.room_redact(room_id, gone), "status_code")
    relates = {"rel_type": "m.annotation", "event_id": ann, "key": "❔"}
    await alice.send(room_id, "m.reaction", {"m.relates_to": relates})
    bot = await start_bot(bot.user)
    bot.clock.advance(EDIT_EVERY)
    await alice.wait_for(edited_to("0 yes · 1 maybe · 0 no"))
    await alice.say(room_id, "!event rsvp 1 no")  # answered after the catch-up's answers
    bot.clock.advance(EDIT_EVERY)
    await alice.wait_for(edited_to("0 yes · 0 maybe · 1 no"))
    notes = [e for e in alice.sent_by(bot.id, room_id) if e["content"].get("body") == crypto.NOTE]
    assert notes == []


async def test_an_encrypted_event_cannot_pose_as_the_rooms_power_levels(
    start_bot: Any, members: Members
) -> None:
    """Only the homeserver says what the room's state is: an encrypted event whose hidden
    content claims to be state (a state_key inside the ciphertext) is not state."""
    bot, alice, bob, room_id = await host_and_bob(start_bot, members)
    levels = {"users": {alice.id: 100, bob.id: 100}, "users_default": 0}
    forged = await bob.send(room_id, "m.room.power_levels", levels, state_key="")
    creator = {"room_version": "12", "additional_creators": [bob.id]}
    await bob.send(room_id, "m.room.create", creator, state_key="")
    await bob.wait_for(lambda r, e: e.get("event_id") == forged)
    reply = await answer(bob, room_id, "!timezone Europe/Berlin", bot)
    assert "Only moderators" in reply["content"]["body"]
    assert not bot.adapter.rooms[room_id].is_moderator(bob.id, 50)
    # matrix-nio's own view of the room (read by its key sharing) is not changed either.
    assert bot.adapter.client.rooms[room_id].power_levels.get_user_level(bob.id) == 0


async def test_an_encrypted_event_cannot_change_who_gets_the_rooms_keys(
    start_bot: Any, members: Members
) -> None:
    """matrix-nio shares the keys of what the bot says with the room's members as it knows
    them: an encrypted event posing as a membership (Bob "adding" Carol, who is not in the
    room, or "removing" Alice) changes nobody's membership there."""
    bot = await start_bot()
    alice, bob, carol = members("host"), members("bob"), members("carol")
    room_id = await secret_room(alice, bot)
    await bring(alice, bob, room_id)
    await carol.sync(0)  # her device's keys are on the homeserver, ready to be found
    room = bot.adapter.client.rooms[room_id]

    joined = {"membership": "join", "displayname": "carol"}
    await bob.send(room_id, "m.room.member", joined, state_key=carol.id)
    await answer(alice, room_id, "!define allyship", bot)
    assert carol.id not in room.users
    assert bot.adapter.client.olm is not None
    session = bot.adapter.client.olm.outbound_group_sessions[room_id]
    shared = {user for user, _ in session.users_shared_with}
    assert {alice.id, bob.id} <= shared and carol.id not in shared
    await carol.sync(0)  # no room key for this room reached her device
    assert carol.client.olm is not None
    assert not [s for s in carol.client.olm.inbound_group_store if s.room_id == room_id]

    await bob.send(room_id, "m.room.member", {"membership": "leave"}, state_key=alice.id)
    await answer(alice, room_id, "!define equity", bot)  # the reply is readable: she has the key
    assert alice.id in room.users and bob.id in room.users


def keys_queries(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The bot's /keys/query requests from now on (each a round trip before a reply)."""
    client = bot.adapter.client
    made: list[str] = []
    send = client.send

    async def counted(method: str, path: str, *args: Any, **kw: Any) -> Any:
        if path.split("?")[0].endswith("/keys/query"):
            made.append(path)
        return await send(method, path, *args, **kw)

    monkeypatch.setattr(client, "send", counted)
    return made


async def test_a_member_in_two_rooms_costs_no_keys_query_per_reply(
    start_bot: Any, members: Members, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member who talks to the bot in an encrypted room and a plain one (a circle and the
    community room, say) with the same devices: the bot learns their devices once, not
    again before every reply (one more round trip each time, issue 24)."""
    bot = await start_bot()
    alice = members("alice")
    circle = await secret_room(alice, bot)
    made = await alice.client.room_create(name="community", invite=[bot.id])
    community = str(getattr(made, "room_id", ""))
    assert community, made
    await alice.wait_for(notice_from(bot.id, community, "Hello!"))
    await answer(alice, circle, "!define allyship", bot)  # the devices are known from here
    assert "equity" in (await alice.ask(community, "!define equity", bot.id)).lower()

    queries = keys_queries(bot, monkeypatch)
    for _ in range(5):
        reply = await answer(alice, circle, "!define allyship", bot)
        assert "allyship" in reply["content"]["body"].lower()
        assert "equity" in (await alice.ask(community, "!define equity", bot.id)).lower()
    assert len(queries) <= 1, f"{len(queries)} keys queries for 10 replies"


async def test_a_members_new_device_reads_the_next_encrypted_reply(
    start_bot: Any, members: Members, synapse: SynapseServer
) -> None:
    """Alice signs in on a second device: the bot's next reply in the encrypted room is
    readable on both, whichever device asked."""
    bot = await start_bot()
    alice = members("alice")
    circle = await secret_room(alice, bot)
    await answer(alice, circle, "!define allyship", bot)  # the bot knows her first device

    phone = members("alice", new_device(synapse, alice.user))
    assert phone.id == alice.id and phone.user.device_id != alice.user.device_id
    await phone.sync(0)  # its keys uploaded: the homeserver tells the bot of the new device
    reply = await answer(alice, circle, "!define equity", bot)
    seen = await phone.wait_for(lambda r, e: e.get("event_id") == reply["event_id"])
    assert seen["event_id"] in phone.decrypted and "equity" in seen["content"]["body"].lower()

    asked = await phone.say(circle, "!define allyship")  # from the new device itself
    reply = await phone.reply_to(circle, asked, bot.id)
    assert reply["event_id"] in phone.decrypted
    await alice.wait_for(lambda r, e: e.get("event_id") == reply["event_id"])
    assert reply["event_id"] in alice.decrypted
