"""A challenge day on a real Synapse: the day opens as an m.thread in the room the challenge
started in, its root naming the day and its first message carrying both options and the
question, once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import START
from tests.matrix_server.people import joined_room
from tests.matrix_server.synapse import SynapseServer

pytestmark = pytest.mark.matrix


async def test_a_challenge_day_opens_a_thread_with_both_options_and_the_question(
    start_bot: Any, people: Any, synapse: SynapseServer
) -> None:
    bot = await start_bot()
    alice = people("walker")
    room_id = await joined_room(alice, bot)

    command = await alice.say(room_id, "!challenge start allyship-21 2026-03-02 13:00")
    reply = await alice.reply_to(room_id, command, bot.id)
    assert reply["content"]["body"].startswith("Challenge started"), reply["content"]["body"]

    bot.clock.set(START + timedelta(hours=1))  # 13:00 UTC: day 1 opens
    in_thread = await alice.wait_for(
        lambda room, e: (
            room == room_id
            and e.get("sender") == bot.id
            and e.get("content", {}).get("m.relates_to", {}).get("rel_type") == "m.thread"
        )
    )
    body = in_thread["content"]["body"]
    for part in ("About 5 minutes:", "About 30 minutes:", "For this thread:", "Sources:"):
        assert part in body, body
    assert "<code>!define allyship</code>" in in_thread["content"]["formatted_body"]
    assert in_thread["content"]["m.mentions"] == {}
    root_id = in_thread["content"]["m.relates_to"]["event_id"]
    root = next(e for _, e in alice.events if e.get("event_id") == root_id)
    assert "Day 1 of 21: A practice, not a label" in root["content"]["body"]

    threads = await asyncio.to_thread(
        synapse.request_json,
        "GET",
        f"/_matrix/client/v1/rooms/{quote(room_id)}/threads",
        access_token=alice.user.access_token,
    )
    assert [t["event_id"] for t in threads["chunk"]] == [root_id]  # one day, one thread
