"""Matrix's own ways of answering, on a real Synapse (issue 25): an event announced and
answered by reactions (✅ ❔ ❌) and by command, the announcement edited with the counts; an
MSC3381 poll answered by poll events from two clients (stable and unstable) and by `!vote`,
ended with the right counts; a bot restart in between changing nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nio import RoomRedactResponse, RoomSendResponse

from tests.matrix_server.people import Bot, Person, joined_room, notice_from

pytestmark = pytest.mark.matrix

Event = dict[str, Any]


async def community(
    start_bot: Callable[..., Any], host: Person, *members: Person
) -> tuple[Bot, str]:
    bot: Bot = await start_bot()
    room_id = await joined_room(host, bot, *(m.id for m in members))
    for member in members:
        await member.join(room_id)
    return bot, room_id


async def send(person: Person, room_id: str, kind: str, content: dict[str, Any]) -> str:
    response = await person.client.room_send(room_id, kind, content)
    assert isinstance(response, RoomSendResponse), response
    return response.event_id


async def react(person: Person, room_id: str, event_id: str, key: str) -> str:
    relates = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
    return await send(person, room_id, "m.reaction", {"m.relates_to": relates})


def edited_to(
    bot: Bot, room_id: str, target: str, contains: str, after: Person | None = None
) -> Callable[[str, Event], bool]:
    """The bot's edit of ``target`` to a text with ``contains``; with ``after``, only one
    that person has not seen yet (the same counts can come round again)."""
    seen = {e.get("event_id") for _, e in after.events} if after is not None else set()

    def match(room: str, event: Event) -> bool:
        content = event.get("content", {})
        relates = content.get("m.relates_to", {})
        return (
            room == room_id
            and event.get("event_id") not in seen
            and event.get("sender") == bot.id
            and relates.get("rel_type") == "m.replace"
            and relates.get("event_id") == target
            and contains in content.get("m.new_content", {}).get("body", "")
        )

    return match


async def edit_seen(alice: Person, bot: Bot, match: Callable[[str, Event], bool]) -> Event:
    """The announcement's next edit: edits are at least 5 seconds apart on the bot's clock
    (companion.features.events.posts.EDIT_EVERY), so move it on that far first."""
    bot.clock.advance(timedelta(seconds=5))
    return await alice.wait_for(match)


async def test_an_event_is_answered_by_reactions_and_command_and_shows_the_counts(
    start_bot: Any, people: Any
) -> None:
    alice, bob, carol = people("host"), people("bob"), people("carol")
    bot, room = await community(start_bot, alice, bob, carol)
    title = "Circle <b>one</b> @room"
    await alice.say(room, f"!event plan weekly thu 18:30 {title} | here")
    announcement = await alice.wait_for(notice_from(bot.id, room, "Event #1: Circle"))
    ann = announcement["event_id"]
    content = announcement["content"]
    assert "react here with ✅ (yes), ❔ (maybe) or ❌ (no)" in content["body"]
    assert "0 yes · 0 maybe · 0 no" in content["body"]
    assert "&lt;b&gt;one&lt;/b&gt;" in content["formatted_body"]  # member text, escaped
    assert "<b>" not in content["formatted_body"] and "@room" not in content["body"]
    assert content["m.mentions"] == {} and "m.relates_to" not in content
    opener = await alice.wait_for(notice_from(bot.id, room, "in this thread"))
    assert opener["content"]["m.relates_to"]["event_id"] == ann  # its discussion thread

    first = await react(bob, room, ann, "✅")
    await edit_seen(alice, bot, edited_to(bot, room, ann, "1 yes · 0 maybe · 0 no"))
    await react(carol, room, ann, "❔")
    await edit_seen(alice, bot, edited_to(bot, room, ann, "1 yes · 1 maybe · 0 no"))
    await alice.say(room, "!event rsvp 1 no")  # by command: the announcement follows
    edit = await edit_seen(alice, bot, edited_to(bot, room, ann, "1 yes · 1 maybe · 1 no"))
    assert "&lt;b&gt;" in edit["content"]["m.new_content"]["formatted_body"]
    assert edit["content"]["m.new_content"]["m.mentions"] == {}

    # A restart, with one answer given while the bot was away: counted once, nothing redone.
    await bot.stop()
    changed = await react(bob, room, ann, "❌")  # Bob changes his mind: the latest counts
    bot = await start_bot(bot.user)
    await edit_seen(alice, bot, edited_to(bot, room, ann, "0 yes · 1 maybe · 2 no"))
    counts = (await bot.app.store.events.counts([1]))[1]
    assert (counts.yes, counts.maybe, counts.no) == (0, 1, 2)

    # Taking the earlier reaction back changes nothing (his latest is "no"; Alice's answer
    # after it shows that); taking the latest back does.
    await alice.sync()
    fresh = edited_to(bot, room, ann, "1 yes · 1 maybe · 1 no", after=alice)
    assert isinstance(await bob.client.room_redact(room, first), RoomRedactResponse)
    await react(alice, room, ann, "✅")  # Alice's answer by command was "no"
    await edit_seen(alice, bot, fresh)
    assert isinstance(await bob.client.room_redact(room, changed), RoomRedactResponse)
    await edit_seen(alice, bot, edited_to(bot, room, ann, "1 yes · 1 maybe · 0 no"))
    # A moderator removing Carol's reaction is not Carol taking her answer back.
    [carols] = [
        e["event_id"]
        for r, e in alice.events
        if e.get("type") == "m.reaction" and e.get("sender") == carol.id
    ]
    assert isinstance(await alice.client.room_redact(room, carols), RoomRedactResponse)
    await react(bob, room, ann, "❔")  # and nobody else's: Alice's yes and Carol's maybe stay
    await edit_seen(alice, bot, edited_to(bot, room, ann, "1 yes · 2 maybe · 0 no"))
    announcements = [
        e for e in alice.sent_by(bot.id, room) if "Event #1" in e.get("content", {}).get("body", "")
    ]
    assert [e for e in announcements if "m.relates_to" not in e["content"]] == [announcement]
    for event in alice.sent_by(bot.id, room):
        body = str(event.get("content", {}))
        assert bob.id not in body and carol.id not in body  # the bot never lists names


async def test_a_poll_is_answered_by_two_clients_and_vote_and_ends_with_the_counts(
    start_bot: Any, people: Any
) -> None:
    alice, bob, carol = people("host"), people("bob"), people("carol")
    bot, room = await community(start_bot, alice, bob, carol)
    await alice.say(room, "!poll Which <i>evening</i>? | Tuesday | Thursday @room for 1d")
    start = await alice.wait_for(
        lambda r, e: r == room and e.get("sender") == bot.id and e.get("type") == "m.poll.start"
    )
    poll, content = start["event_id"], start["content"]
    assert content["m.poll"]["kind"] == "m.disclosed" and content["m.poll"]["max_selections"] == 1
    assert content["m.poll"]["question"]["m.text"][0]["body"] == "Which <i>evening</i>?"
    answers = content["m.poll"]["answers"]
    assert [a["m.id"] for a in answers] == ["1", "2"]
    assert answers[1]["m.text"][0]["body"] != "Thursday @room"  # never a mass mention
    unstable = content["org.matrix.msc3381.poll.start"]
    assert [a["org.matrix.msc1767.text"] for a in unstable["answers"]][0] == "Tuesday"
    assert "`!vote 1`" not in content["body"] and "!vote 1" in content["body"]  # fallback
    assert "2. Thursday" in content["body"] and "&lt;i&gt;" in content["formatted_body"]

    def responded(person: Person, answer: str) -> dict[str, Any]:
        relates = {"rel_type": "m.reference", "event_id": poll}
        return {"m.relates_to": relates, "m.selections": [answer]}

    def responded_unstable(answer: str) -> dict[str, Any]:
        return {
            "m.relates_to": {"rel_type": "m.reference", "event_id": poll},
            "org.matrix.msc3381.poll.response": {"answers": [answer]},
        }

    await send(bob, room, "m.poll.response", responded(bob, "1"))
    await send(bob, room, "m.poll.response", responded(bob, "2"))  # the latest counts
    await send(carol, room, "org.matrix.msc3381.poll.response", responded_unstable("2"))
    await alice.say(room, "!vote 1")
    store = bot.app.store

    async def counted(expected: dict[int, int]) -> None:
        for _ in range(100):
            if await store.polls.counts(1) == expected:
                return
            await alice.sync(50)
        assert await store.polls.counts(1) == expected

    await counted({1: 1, 2: 2})

    await bot.stop()  # a restart changes nothing; a spoiled answer while away takes one back
    await send(carol, room, "org.matrix.msc3381.poll.response", responded_unstable("9"))
    bot = await start_bot(bot.user)
    store = bot.app.store
    await counted({1: 1, 2: 1})
    await send(carol, room, "m.poll.response", responded(carol, "2"))
    await counted({1: 1, 2: 2})

    bot.clock.advance(timedelta(days=1))
    end = await alice.wait_for(
        lambda r, e: r == room and e.get("sender") == bot.id and e.get("type") == "m.poll.end"
    )
    content = end["content"]
    assert content["m.relates_to"] == {"rel_type": "m.reference", "event_id": poll}
    assert content["m.poll.results"] == {"1": 1, "2": 2}
    assert "org.matrix.msc3381.poll.end" in content
    assert "1 Tuesday: 1 vote(s)" in content["body"]
    assert "2 Thursday" in content["body"] and "2 vote(s) (most votes)" in content["body"]
    assert "3 member(s) voted" in content["body"]
    for person in (alice, bob, carol):
        assert person.id not in str(content)
    late = await send(bob, room, "m.poll.response", responded(bob, "1"))  # after the end
    await alice.wait_for(lambda r, e: e.get("event_id") == late)
    await alice.sync(200)
    assert await bot.app.store.polls.counts(1) == {1: 1, 2: 2}
    ended = [e for e in alice.sent_by(bot.id, room) if e.get("type") == "m.poll.end"]
    assert len(ended) == 1


async def test_those_who_reacted_or_said_maybe_get_one_reminder_in_their_direct_room(
    start_bot: Any, people: Any
) -> None:
    alice, bob, carol = people("host"), people("bob"), people("carol")
    bot, room = await community(start_bot, alice, bob, carol)
    await alice.say(room, "!event plan weekly thu 18:30 Reading circle | here")
    announcement = await alice.wait_for(notice_from(bot.id, room, "Event #1: Reading circle"))
    assert "!event rsvp 1 yes" in announcement["content"]["body"]  # as typed on Matrix
    await react(bob, room, announcement["event_id"], "✅")
    edited = await edit_seen(
        alice, bot, edited_to(bot, room, announcement["event_id"], "1 yes · 0 maybe")
    )
    assert "!event rsvp 1 yes" in edited["content"]["m.new_content"]["body"]
    await carol.say(room, "!event rsvp 1 maybe")
    await edit_seen(alice, bot, edited_to(bot, room, announcement["event_id"], "1 yes · 1 maybe"))
    # Carol's answer is private: stop once it has gone (the pointer to it follows it), as a
    # stop in the middle of answering opens her a second direct room on the restart.
    await carol.wait_for(notice_from(bot.id, room, "answered you in a direct message"))

    await bot.stop()  # a restart before the reminders changes nothing
    bot = await start_bot(bot.user)
    bot.clock.set(datetime(2026, 3, 4, 18, 30, tzinfo=UTC))  # 24 hours before Thursday
    await bot.app.scheduler.run_due()
    for person in (bob, carol):
        direct = await person.accept_invite()
        reminder = await person.wait_for(notice_from(bot.id, direct, "Reminder:"))
        assert "Reading circle" in reminder["content"]["body"]
        assert "starts in 24 hours" in reminder["content"]["body"]
        assert "!event rsvp 1 no" in reminder["content"]["body"]  # a private notice too
    assert alice.invited == []  # no answer, no reminder
    await bot.stop()
    bot = await start_bot(bot.user)
    await bot.app.scheduler.run_due()
    await bob.sync(200)
    reminders = [e for r, e in bob.events if "Reminder:" in e.get("content", {}).get("body", "")]
    assert len(reminders) == 1  # once, across the restart
