"""A room that refuses the bot's scheduled post (issue 22): the Matrix port says so as a
PermanentFailure, the schedule is paused, and the moderators are told once, in the audit
log when the room itself takes no notice (the bot was removed from it)."""

from __future__ import annotations

import asyncio
import time
from datetime import time as clock_time
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from nio import RoomKickResponse

from companion.events import Place
from companion.recurrence import Recurrence
from tests.matrix_server.people import Person, joined_room

pytestmark = pytest.mark.matrix


@pytest.mark.parametrize("encryption", [True, False], ids=["e2e-support", "plain"])
async def test_a_room_that_removed_the_bot_pauses_its_schedule_and_says_so_once(
    start_bot: Any, people: Any, encryption: bool
) -> None:
    bot = await start_bot(encryption=encryption)
    mod: Person = people("mod")
    room = await joined_room(mod, bot)
    app = bot.app
    due = bot.clock.now() + timedelta(minutes=1)
    daily = Recurrence("daily", clock_time(due.hour, due.minute), ZoneInfo("UTC"), due.date())
    row = await app.scheduler.add(Place("matrix", room, room), "reflection", daily, "", mod.id)
    assert isinstance(await mod.client.room_kick(room, bot.id), RoomKickResponse)
    deadline = time.monotonic() + 5
    while room in bot.adapter.rooms:  # the bot's sync sees it is out
        assert time.monotonic() < deadline, "the bot never saw the kick"
        await asyncio.sleep(0.02)

    bot.clock.set(due)
    await app.scheduler.run_due()
    bot.clock.advance(timedelta(days=2))
    await app.scheduler.run_due()

    [occurrence] = await app.store.schedules.occurrences(row.id)
    assert occurrence.state == "failed" and occurrence.attempts == 1  # no retries: a refusal
    paused = await app.store.schedules.get(row.id)
    assert paused is not None and paused.status == "paused"
    audit = await app.store.contributions.audit(room)
    assert [(a.actor_id, a.action, a.target) for a in audit] == [
        ("Companion", "paused", f"schedule #{row.id}")
    ]
