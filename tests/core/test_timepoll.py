"""`event plan ... poll TIME | TIME`: the club picks the meeting time by a poll; when it ends
the event is planned at the winner (ties: the earliest), announced once, even when the process
dies between the close and the result; on the injected clock, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from companion.events import Actor, Kind, MessageRef, Place
from tests.conftest import MEMBER, MODERATOR, PLACE, say
from tests.core.schedule_helpers import run_until
from tests.fakes import RecordingPort

OTHER = Actor("u:other", "Other member")
LUNCH = "event plan once Lunch discussion | here poll "


class Killed(BaseException):
    """The process dies in the middle of a send (not an error the bot could handle)."""


class DiesAtTheResult(RecordingPort):
    """Dies when it is to post the poll's result: after the close was committed."""

    async def post(
        self, place: Place, text: str, *, key: str, kind: Kind = Kind.ANSWER
    ) -> MessageRef:
        if "has ended" in text:
            raise Killed
        return await RecordingPort.post(self, place, text, key=key, kind=kind)


async def test_the_winning_time_is_planned_once_across_a_crash_after_the_close(make_app, clock):
    app = await make_app()
    port = DiesAtTheResult(clock=clock)
    app.ports.attach("test", port)
    await say(app, "timezone Europe/Berlin", MODERATOR)
    # Listed out of order: the tie below goes to the earliest time, not the first listed.
    reply = await say(
        app, LUNCH + "2026-03-07 09:00 | 2026-03-06 12:30 | 2026-03-05 12:00 for 2d", MODERATOR
    )
    assert "Poll #1 asks when to meet for **Lunch discussion**" in reply.text, reply.text
    await app.scheduler.run_due()
    [posted] = port.sent
    assert "When should we meet for Lunch discussion? (times in Europe/Berlin)" in posted.text
    assert "1. Sat 07 Mar 2026, 09:00" in posted.text
    assert "2. Fri 06 Mar 2026, 12:30" in posted.text
    await say(app, "vote 1", MEMBER)
    await say(app, "vote 2", OTHER)
    assert await app.store.events.for_community(PLACE.community_id) == []

    with pytest.raises(Killed):  # the close is committed; its result never went out
        await run_until(app, clock, datetime(2026, 3, 4, 12, 5, tzinfo=UTC))
    [event] = await app.store.events.for_community(PLACE.community_id)
    await app.close()

    clock.advance(timedelta(minutes=2))
    after = RecordingPort(clock=clock)
    app = await make_app()
    app.ports.attach("test", after)
    await app.scheduler.recover()
    await run_until(app, clock, datetime(2026, 3, 5, tzinfo=UTC))
    [result] = [s for s in after.sent if "has ended" in s.text]
    assert "**Lunch discussion** is planned for Fri 06 Mar 2026, 12:30" in result.text
    assert await app.store.events.for_community(PLACE.community_id) == [event]  # no second
    assert (event.start_date, event.at_time, event.timezone) == (
        "2026-03-06",
        "12:30",
        "Europe/Berlin",
    )
    [announced] = [s for s in after.sent if s.kind == "thread"]
    assert announced.title == "Lunch discussion" and "`event rsvp 1 yes`" in announced.text
    assert "12:30 Europe/Berlin" in (await say(app, "event show 1", MEMBER)).text


async def test_a_weekly_time_is_chosen_and_an_unanswered_poll_plans_nothing(app, clock):
    port = RecordingPort(clock=clock)
    app.ports.attach("test", port)
    await say(app, "event plan weekly Reading circle | here poll thu 18:30 | fri 19:00", MODERATOR)
    await say(app, "vote 2", MEMBER)
    await say(app, LUNCH + "2026-03-10 12:00 | 2026-03-11 12:00 for 1h", MODERATOR)
    await run_until(app, clock, clock.now() + timedelta(days=2))
    results = [s.text for s in port.sent if "has ended" in s.text]
    assert any("Nobody voted, so no meeting is planned" in r for r in results), results
    [event] = await app.store.events.for_community(PLACE.community_id)
    assert (event.title, event.rule, event.days, event.at_time) == (
        "Reading circle",
        "weekly",
        "4",
        "19:00",
    )


async def test_candidate_times_are_checked_each_with_a_clear_message(app, clock):
    cases = {
        LUNCH + "2026-03-05 12:00": "Give 2 to 10 times to choose from",
        LUNCH + "2026-03-31 12:00 | 2026-02-30 12:00": "Time 2 (`2026-02-30 12:00`)",
        LUNCH + "2026-03-02 18:00 | 2026-03-06 12:00": "Time 1 (`2026-03-02 18:00`) is before "
        "the poll ends",
        LUNCH + "2026-03-06 12:00 | 2026-03-06 12:00": "Time 2 is given twice",
        LUNCH + "2026-03-06 12:00 noon | 2026-03-07 12:00": "give only a time there",
        LUNCH + "2026-03-06 12:00 | 2026-03-07 12:00 for 800h": "open 1 to 768 hours",
        "event plan weekly Circle poll thu 18:30 | someday 19:00": "Time 2 (`someday 19:00`)",
    }
    for line, expected in cases.items():
        reply = await say(app, line, MODERATOR)
        assert expected in reply.text, (line, reply.text)
    assert await app.store.polls.get(PLACE.community_id, 1) is None  # nothing was asked
    # A title with the word "poll" in it, after a time, is an ordinary plan.
    plain = await say(app, "event plan once 2026-03-10 12:00 Poll workers meet | here", MODERATOR)
    assert "Planned event #1: **Poll workers meet**" in plain.text, plain.text
