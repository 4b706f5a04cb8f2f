"""A community's life through the real Synapse: contributions and the moderation queue,
anonymous questions (asked in a direct message, since a room shows who writes), forget me,
and a whole book club driven by the fake clock.

The core-level versions are tests/core/test_contributions.py and tests/core/test_bookclub.py;
these check what only the Matrix adapter can get wrong: where each answer and notice goes,
what the room sees, and that the adapter's own bookkeeping names nobody.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from nio import RoomInviteResponse, RoomPreset

from tests.dbsearch import columns_containing
from tests.matrix_server.people import (
    Bot,
    Event,
    Person,
    joined_room,
    notice_from,
    replied,
)

pytestmark = pytest.mark.matrix

POINTER = "answered you in a direct message"
BERLIN = ZoneInfo("Europe/Berlin")


async def community(
    start_bot: Callable[..., Any], moderator: Person, *members: Person
) -> tuple[Bot, str]:
    """A running bot and a room the moderator created (so moderates) with everyone in it."""
    bot: Bot = await start_bot()
    room_id = await joined_room(moderator, bot, *(m.id for m in members))
    for member in members:
        await member.join(room_id)
    return bot, room_id


async def privately(person: Person, bot: Bot, room_id: str, line: str, expect: str) -> Event:
    """Say ``line`` in the room: the room gets only a pointer, the answer is in the person's
    direct room with the bot (joined on first use)."""
    assert POINTER in await person.ask(room_id, line, bot.id)
    direct = direct_room(bot, person)
    if direct in person.invited:
        person.invited.remove(direct)
        await person.join(direct)
    return await person.wait_for(notice_from(bot.id, direct, expect))


def direct_room(bot: Bot, person: Person) -> str:
    room_id = bot.adapter.direct.by_member.get(bot.adapter.direct.member_key(person.id))
    assert room_id is not None
    return room_id


def naming(db: Path, person: Person) -> list[str]:
    """Every column of the bot's database that holds the person's id or its localpart."""
    return columns_containing(db, person.id) + columns_containing(db, person.user.localpart)


# --- contributions -----------------------------------------------------------------------------


async def test_suggest_queue_approve_and_reject_through_matrix(start_bot: Any, people: Any) -> None:
    alice, bob = people("mod"), people("sharer")
    bot, room = await community(start_bot, alice, bob)

    link = "https://example.org/listen?utm_source=x"
    ack = await privately(
        bob, bot, room, f"!resource suggest {link} Listening first #listening", "#1 is waiting"
    )
    dm = direct_room(bot, bob)
    assert replied(ack) is None  # a private answer stands on its own in the direct room

    queue = await alice.ask(room, "!queue", bot.id)
    assert "#1 resource: Listening first https://example.org/listen?utm_source=x" in queue
    assert "#1 approved" in await alice.ask(room, "!approve 1", bot.id)
    approved = await bob.wait_for(notice_from(bot.id, dm, "was approved"))
    assert "Your suggestion #1 (resource: Listening first" in approved["content"]["body"]
    assert approved["content"]["m.mentions"] == {}
    listed = await bob.ask(room, "!resources listening", bot.id)
    assert "Listening first" in listed and "shared here" in listed
    again = await bob.ask(room, "!resource suggest https://example.org/listen Twice", bot.id)
    assert POINTER in again  # private: "already in the library", in the direct room
    await bob.wait_for(notice_from(bot.id, dm, "already in the library"))

    prompt = "!suggest prompt What do you do when you notice you were defensive?"
    await privately(bob, bot, room, prompt, "#2 is waiting")
    rejected = await alice.ask(room, "!reject 2 We have a very similar prompt already", bot.id)
    assert "the suggester will see your reason" in rejected
    reason = await bob.wait_for(notice_from(bot.id, dm, "was not added"))
    assert (
        "The moderator's reason: We have a very similar prompt already"
        in (reason["content"]["body"])
    )
    # Nothing was said about the outcomes in the room, and both notices were delivered.
    assert not [e for e in alice.sent_by(bot.id, room) if "was approved" in str(e)]
    notices = await bot.app.store.members.notices(bob.id)
    assert len(notices) == 2 and all(n.delivered_at for n in notices)
    # The adapter's own bookkeeping files the direct room under a hash, not the id.
    assert columns_containing(bot.db_path, dm) == ["kv.value"]
    saved = await bot.app.store.kv.get(f"matrix:direct:{bot.id}")
    assert saved is not None and bob.id not in saved and bob.user.localpart not in saved


# --- anonymous questions ---------------------------------------------------------------------


async def test_an_anonymous_question_goes_through_a_direct_message(
    start_bot: Any, people: Any
) -> None:
    alice, carol = people("moderator"), people("quiet")
    bot, room = await community(start_bot, alice, carol)
    other = await joined_room(alice, bot, name="another circle")  # Carol is not in it

    async def pending(room_id: str) -> int:
        return await bot.app.store.contributions.count_pending(room_id)

    question = "How do I speak up without centring myself?"
    told = await carol.ask(room, f"!ask anonymously {question}", bot.id)
    assert "to stay anonymous, send !ask anonymously <question> to me" in told
    assert bot.id in told and "remove it yourself" in told and POINTER not in told
    assert await pending(room) == 0 and carol.invited == []  # nothing queued, no DM opened

    dm = await carol.room(bot.id, is_direct=True, preset=RoomPreset.trusted_private_chat)
    await carol.wait_for(notice_from(bot.id, dm, "Hello!"))
    ack = await carol.ask(dm, f"!ask anonymously {question}", bot.id)
    assert "without your name" in ack
    assert await pending(room) == 1 and await pending(other) == 0

    queue = await alice.ask(room, "!queue", bot.id)
    assert question in queue and carol.id not in queue and carol.user.localpart not in queue
    found = re.search(r"#(\d+) anonymous question", queue)
    assert found is not None
    approved = await alice.ask(room, f"!approve {found.group(1)}", bot.id)
    assert "without a name" in approved
    post = await alice.wait_for(notice_from(bot.id, room, "asked anonymously"))
    body = post["content"]["body"]
    assert question in body and carol.user.localpart not in body and replied(post) is None
    assert naming(bot.db_path, carol) == []

    # Once Carol shares two rooms with the bot, she picks one by its number.
    invited = await alice.client.room_invite(other, carol.id)
    assert isinstance(invited, RoomInviteResponse), invited
    await carol.join(other)
    second = "Is it all right to ask how others handled a hard conversation?"
    listed = await carol.ask(dm, f"!ask anonymously {second}", bot.id)
    assert "• #1 another circle\n• #2 circle" in listed, listed
    assert await pending(room) == 0 and await pending(other) == 0
    ack = await carol.ask(dm, f"!ask anonymously #1 {second}", bot.id)
    assert "without your name" in ack and await pending(other) == 1
    assert naming(bot.db_path, carol) == []


# --- forget me -------------------------------------------------------------------------------


async def test_forget_me_through_matrix_leaves_no_row_that_names_the_member(
    start_bot: Any, people: Any
) -> None:
    alice, bob = people("keeper"), people("leaver")
    bot, room = await community(start_bot, alice, bob)
    started = await alice.ask(room, "!bookclub start the-wake-up 2026-03-09", bot.id)
    assert "Book club started" in started

    answer = "!reflect answer I stayed quiet when I should not have."
    await privately(bob, bot, room, answer, "Kept in your journal")
    await privately(bob, bot, room, "!bookclub progress 1", "read up to chapter 1")
    prompt = "!suggest prompt Where did you take a risk for someone else?"
    await privately(bob, bot, room, prompt, "#1 is waiting")
    assert "#1 approved" in await alice.ask(room, "!approve 1", bot.id)
    await bob.wait_for(notice_from(bot.id, direct_room(bot, bob), "was approved"))
    assert columns_containing(bot.db_path, bob.id)  # it is there before

    warning = await privately(bob, bot, room, "!forget me", "forget me confirm")
    assert "journal (1 entries)" in warning["content"]["body"]
    await privately(bob, bot, room, "!forget me confirm", "Nothing I keep names you")
    assert naming(bot.db_path, bob) == []
    listed = await alice.ask(room, "!prompt list", bot.id)
    assert "Where did you take a risk" in listed  # approved content stays, without a name


# --- a book club -----------------------------------------------------------------------------


def scheduled_post(room_id: str, bot: Bot, event: Event) -> str | None:
    """What a scheduled post of the club is ("reminder 3", "thread 3", "in thread 3")."""
    body = event.get("content", {}).get("body", "")
    if event.get("sender") != bot.id or not isinstance(body, str):
        return None
    if found := re.match(r"Reminder: the discussion of chapter (\d+) ", body):
        return f"reminder {found[1]}"
    if found := re.fullmatch(r"Six Small Chapters: chapter (\d+)", body):
        return f"thread {found[1]}"
    if is_thread_reply(room_id, bot)(room_id, event):
        found = re.search(r"chapter (\d+) asked something", body)
        return f"in thread {found[1]}" if found else None
    return None


def is_thread_reply(room_id: str, bot: Bot) -> Callable[[str, Event], bool]:
    def match(room: str, event: Event) -> bool:
        relates = event.get("content", {}).get("m.relates_to", {})
        return (
            room == room_id
            and event.get("sender") == bot.id
            and (relates.get("rel_type") == "m.thread")
        )

    return match


async def test_a_six_chapter_book_club_in_a_matrix_room(start_bot: Any, people: Any) -> None:
    alice, bob = people("host"), people("reader")
    bot, room = await community(start_bot, alice, bob)
    scheduler = bot.app.scheduler

    async def host(line: str) -> str:
        return await alice.ask(room, line, bot.id)

    assert "six-small-chapters" in await host('!bookclub plan create "Six Small Chapters" 6')
    for chapter in range(1, 7):
        await host(
            f"!bookclub plan prompt six-small-chapters {chapter} "
            f"What in chapter {chapter} asked something of you?"
        )
    assert "Europe/Berlin" in await host("!timezone Europe/Berlin")
    started = await host("!bookclub start six-small-chapters 2026-03-03 weekly thu 19:00")
    assert "Book club started" in started and "Thu 05 Mar 2026, 19:00 Europe/Berlin" in started

    first = datetime(2026, 3, 5, 19, 0, tzinfo=BERLIN)  # the Thursday after reading starts

    async def when_due(due: datetime) -> None:
        """Not a minute early; then at ``due`` the scheduler's loop (woken by the clock)
        posts, and nothing else happens until the post has arrived."""
        bot.clock.set((due - timedelta(minutes=1)).astimezone(UTC))
        assert await scheduler.run_due() == 0, f"something was posted before {due}"
        bot.clock.set(due.astimezone(UTC))

    roots: list[str] = []
    for chapter in range(1, 7):
        opens = first + timedelta(weeks=chapter - 1)  # 19:00 local, across the DST change
        await when_due(opens - timedelta(days=1))
        reminder = await alice.wait_for(
            notice_from(bot.id, room, f"Reminder: the discussion of chapter {chapter} ")
        )
        await when_due(opens)
        assert opens.strftime("%d %b %Y, 19:00 Europe/Berlin") in reminder["content"]["body"]
        reply = await alice.wait_for(
            lambda r, e, n=chapter: (
                is_thread_reply(room, bot)(r, e)
                and f"chapter {n} asked something" in e["content"]["body"]
            )
        )
        assert f"chapter {chapter + 1}" not in reply["content"]["body"]
        root_id = reply["content"]["m.relates_to"]["event_id"]
        [root] = [e for r, e in alice.events if e.get("event_id") == root_id]
        assert root["content"]["msgtype"] == "m.notice" and "m.relates_to" not in root["content"]
        roots.append(root["content"]["body"])

        if chapter == 2:  # a member marks progress privately, between discussions
            await privately(bob, bot, room, "!bookclub progress 2", "Only you can see this")
            prompts = await privately(bob, bot, room, "!bookclub prompts", "Prompts up to")
            text = prompts["content"]["body"]
            assert "chapter 1 asked" in text and "chapter 2 asked" in text
            assert "chapter 3" not in text  # spoiler-safe
            status = await bob.ask(room, "!bookclub", bot.id)
            assert "This week: chapter 2" in status
            assert "Fewer than five members have marked chapter 2 done" in status
            assert bob.user.localpart not in status and bob.id not in status

    assert roots == [f"Six Small Chapters: chapter {n}" for n in range(1, 7)]
    # In the room, in order: each chapter's reminder, then its thread's root and first message.
    posted = [label for _, e in alice.events if (label := scheduled_post(room, bot, e))]
    assert posted == [
        f"{what} {n}" for n in range(1, 7) for what in ("reminder", "thread", "in thread")
    ]
    assert "Every chapter has been discussed" in await bob.ask(room, "!bookclub", bot.id)


# --- the web dashboard ---------------------------------------------------------------------


async def test_a_matrix_moderator_gets_a_dashboard_link_and_loses_it_with_the_role(
    start_bot: Any, people: Any
) -> None:
    from nio import RoomGetStateEventResponse

    from tests.fakes import RecordingPort
    from tests.web.harness import WEB, serve

    alice, bob = people("creator"), people("helper")
    bot: Bot = await start_bot(sections=WEB)
    room = await joined_room(alice, bot, bob.id)
    await bob.join(room)
    refusal = await privately(bob, bot, room, "!dashboard", "Only moderators")
    assert "token" not in refusal["content"]["body"]

    levels = await alice.client.room_get_state_event(room, "m.room.power_levels")
    assert isinstance(levels, RoomGetStateEventResponse)

    async def set_power(level: int) -> None:
        users = {**levels.content.get("users", {}), bob.id: level}
        await alice.client.room_put_state(
            room, "m.room.power_levels", {**levels.content, "users": users}
        )

    await set_power(50)
    link = await privately(bob, bot, room, "!dashboard", "login?token=")
    in_room = [e["content"].get("body", "") for e in bob.sent_by(bot.id, room)]
    assert not any("token" in body for body in in_room)  # the room sees only a pointer
    token = re.search(r"login\?token=([\w-]+)", link["content"]["body"])
    assert token
    web = await serve(bot.app, RecordingPort())
    try:
        landed = await web.sign_in(token.group(1))
        assert landed.status == 303
        assert landed.headers["Location"] == f"/c/{room}/schedules"
        bot.clock.advance(timedelta(hours=1))  # Matrix can be asked: a long session
        assert (await web.client.get(f"/c/{room}/queue")).status == 200

        await set_power(0)
        for _ in range(300):  # until the bot's sync has seen the new power levels
            if not await bot.adapter.is_moderator("matrix", room, bob.id):
                break
            await asyncio.sleep(0.02)
        refused = await web.client.get(f"/c/{room}/queue")
        assert refused.status == 403 and "no longer a moderator" in await refused.text()
    finally:
        await web.client.close()
