"""Commands the bot names on a real Synapse carry the prefix members type there: a challenge
day's "Look up `!define allyship`", a poll's "Vote with `!vote 1`", a reply's "`!terms`
lists every entry", the hint for an anonymous question, and with a configured ``[matrix]
command_prefix`` that prefix instead.
A member who copies the bare word gets nothing on Matrix."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import START
from tests.matrix_server.people import Person, joined_room

pytestmark = pytest.mark.matrix


def in_a_thread(bot_id: str, room_id: str) -> Any:
    return lambda room, e: (
        room == room_id
        and e.get("sender") == bot_id
        and e.get("content", {}).get("m.relates_to", {}).get("rel_type") == "m.thread"
    )


async def day_one(alice: Person, bot: Any, room_id: str, prefix: str) -> dict[str, Any]:
    command = await alice.say(room_id, f"{prefix}challenge start allyship-21 2026-03-02 13:00")
    started = await alice.reply_to(room_id, command, bot.id)
    assert started["content"]["body"].startswith("Challenge started"), started["content"]
    bot.clock.set(START + timedelta(hours=1))  # 13:00 UTC: day 1 opens in its thread
    event = await alice.wait_for(in_a_thread(bot.id, room_id))
    content: dict[str, Any] = event["content"]
    return content


async def test_a_challenge_day_names_commands_with_the_bang(start_bot: Any, people: Any) -> None:
    bot = await start_bot()
    alice = people("copier")
    room_id = await joined_room(alice, bot)

    day = await day_one(alice, bot, room_id, "!")
    html, body = day["formatted_body"], day["body"]
    # The content file's mention (paths.toml) and the feature's own, both as typed here.
    assert "<code>!define allyship</code>" in html, html
    assert "<code>!challenge done [note]</code>" in html, html
    assert "<code>!challenge day 1</code>" in html and "!define allyship" in body, body
    assert "<code>define allyship</code>" not in html


async def test_a_reply_names_another_command_with_the_bang(start_bot: Any, people: Any) -> None:
    bot = await start_bot()
    alice = people("looker")
    room_id = await joined_room(alice, bot)
    # The other command has the prefix; the member's own word (no command) is as typed.
    asked = await alice.say(room_id, "!define zzqx")
    reply = (await alice.reply_to(room_id, asked, bot.id))["content"]
    assert "<code>!terms</code> lists every entry" in reply["formatted_body"], reply
    assert "“zzqx”" in reply["body"] and "!zzqx" not in reply["body"], reply


async def test_a_configured_prefix_is_the_one_shown_in_posts_polls_and_replies(
    start_bot: Any, people: Any
) -> None:
    bot = await start_bot(command_prefix="?")
    alice = people("asker")
    room_id = await joined_room(alice, bot)

    asked = await alice.say(room_id, "?poll Which day? | Tuesday | Thursday for 1d")
    confirmed = await alice.reply_to(room_id, asked, bot.id)
    assert "Poll #1 is open" in confirmed["content"]["body"], confirmed["content"]
    started = await alice.wait_for(
        lambda r, e: r == room_id and e.get("sender") == bot.id and e.get("type") == "m.poll.start"
    )
    fallback = started["content"]  # what clients without polls show: how to vote
    assert "<code>?vote 1</code>" in fallback["formatted_body"], fallback
    assert "?vote 1" in fallback["body"] and "!vote" not in fallback["body"], fallback

    day = await day_one(alice, bot, room_id, "?")
    assert "<code>?define allyship</code>" in day["formatted_body"], day
    assert "<code>?challenge done [note]</code>" in day["formatted_body"], day

    asked = await alice.say(room_id, "?define zzqx")
    reply = (await alice.reply_to(room_id, asked, bot.id))["content"]
    assert "<code>?terms</code> lists every entry" in reply["formatted_body"], reply

    # An anonymous question asked in the room: the hint names the command with "?" too.
    asked = await alice.say(room_id, "?ask anonymously How do I speak up?")
    told = (await alice.reply_to(room_id, asked, bot.id))["content"]
    assert "<code>?ask anonymously &lt;question&gt;</code>" in told["formatted_body"], told
    assert "send ?ask anonymously <question> to me" in told["body"], told
    assert "!ask" not in told["body"], told
