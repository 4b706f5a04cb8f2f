"""Events: planned by a moderator, announced, answered, reminded once, moved and cancelled;
on the injected clock, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from companion.events import Actor, Place
from tests.conftest import MEMBER, MODERATOR, PLACE, say
from tests.core.schedule_helpers import run_until
from tests.fakes import RecordingPort

BERLIN = ZoneInfo("Europe/Berlin")
OTHER = Actor("u:other", "Other member")
THIRD = Actor("u:third", "Third member")


class Killed(BaseException):
    """The process dies in the middle of a send (not an error the bot could handle)."""


class DiesOnSecondNotice(RecordingPort):
    async def notify(self, place: Place, member_id: str, text: str, *, key: str) -> None:
        if member_id == OTHER.id:
            raise Killed
        await RecordingPort.notify(self, place, member_id, text, key=key)


def notices(port: RecordingPort, member: Actor) -> list[str]:
    return [s.text for s in port.sent if s.kind == "notice" and s.title == member.id]


async def plan_circle(app) -> None:
    await say(app, "timezone Europe/Berlin", MODERATOR)
    reply = await say(
        app,
        "event plan weekly thu 18:30 Reading circle | https://meet.example.org/wake",
        MODERATOR,
    )
    assert "Planned event #1" in reply.text, reply.text
    assert "next Thu 05 Mar 2026, 18:30 Europe/Berlin" in reply.text


async def test_a_weekly_event_is_announced_answered_and_reminded_once_across_a_crash(
    make_app, clock
):
    app = await make_app()
    port = DiesOnSecondNotice(clock=clock)
    app.ports.attach("test", port)
    await plan_circle(app)
    await app.scheduler.run_due()
    [announcement] = [s for s in port.sent if s.kind == "thread"]
    assert announcement.title == "Reading circle"
    assert "`event rsvp 1 yes`" in announcement.text

    for who, answer in ((MEMBER, "yes"), (OTHER, "maybe"), (THIRD, "no")):
        reply = await say(app, f"event rsvp 1 {answer}", who)
        assert reply.private, "an answer is private: the room never learns who comes"
    listing = (await say(app, "event list")).text
    assert "1 yes · 1 maybe · 1 no" in listing
    for shown in (listing, (await say(app, "event show 1")).text):
        for who in (MEMBER, OTHER, THIRD):
            assert who.id not in shown and who.display_name not in shown

    # The day before, 18:30 Berlin (17:30 UTC): the 24-hour reminder. The process dies
    # after the first member's notice went out, before the second's.
    with pytest.raises(Killed):
        await run_until(app, clock, datetime(2026, 3, 4, 17, 30, tzinfo=UTC))
    assert len(notices(port, MEMBER)) == 1
    await app.close()

    clock.advance(timedelta(minutes=2))
    after = RecordingPort(clock=clock)
    app = await make_app()
    app.ports.attach("test", after)
    await app.scheduler.recover()
    await run_until(app, clock, datetime(2026, 3, 6, tzinfo=UTC))
    # Once each: the member reached before the crash is not reminded again.
    every = [*port.sent, *after.sent]
    day_before = [s for s in every if s.kind == "notice" and "24 hours" in s.text]
    quarter = [s for s in every if s.kind == "notice" and "15 minutes" in s.text]
    assert sorted(s.title for s in day_before) == [MEMBER.id, OTHER.id]
    assert sorted(s.title for s in quarter) == [MEMBER.id, OTHER.id]
    assert all(s.at == datetime(2026, 3, 5, 17, 15, tzinfo=UTC) for s in quarter)
    assert "When: Thu 05 Mar 2026, 18:30 Europe/Berlin" in quarter[0].text
    assert not notices(after, THIRD) and not notices(port, THIRD)
    assert len({s.key for s in every}) == len(every)

    # A restart later changes nothing: the next reminders are a week on, once.
    await app.close()
    app = await make_app()
    again = RecordingPort(clock=clock)
    app.ports.attach("test", again)
    await run_until(app, clock, datetime(2026, 3, 13, tzinfo=UTC))
    assert [s.at.astimezone(BERLIN).strftime("%a %H:%M") for s in again.sent] == [
        "Wed 18:30",
        "Wed 18:30",
        "Thu 18:15",
        "Thu 18:15",
    ]


async def test_moving_or_cancelling_tells_those_who_said_yes_and_only_them(app, clock):
    port = RecordingPort(clock=clock)
    app.ports.attach("test", port)
    await plan_circle(app)
    await say(app, "event rsvp 1 yes", MEMBER)
    await say(app, "event rsvp 1 maybe", OTHER)
    moved = await say(app, "event edit 1 when weekly fri 19:00", MODERATOR)
    assert "next Fri 06 Mar 2026, 19:00 Europe/Berlin" in moved.text, moved.text
    await app.scheduler.run_due()
    [told] = notices(port, MEMBER)
    assert "has changed" in told and "Fri 06 Mar 2026, 19:00" in told
    assert not notices(port, OTHER)

    # The reminders follow the move: the day before is Thursday 19:00 Berlin now.
    await run_until(app, clock, datetime(2026, 3, 5, 18, 1, tzinfo=UTC))
    reminders = [s for s in port.sent if s.kind == "notice" and "Reminder" in s.text]
    assert [s.at for s in reminders] == [datetime(2026, 3, 5, 18, 0, tzinfo=UTC)] * 2
    assert "Cancelled event #1" in (await say(app, "event cancel 1", MODERATOR)).text
    await run_until(app, clock, datetime(2026, 3, 8, tzinfo=UTC))
    assert any("is cancelled" in text for text in notices(port, MEMBER))
    assert not any("is cancelled" in text for text in notices(port, OTHER))
    later = [s for s in port.sent if "Reminder" in s.text and s.at > reminders[-1].at]
    assert later == [], "a cancelled event reminds nobody"
    assert "No events are planned" in (await say(app, "event list")).text
    assert "no event #1" in (await say(app, "event rsvp 1 yes")).text


async def test_bad_input_gets_a_clear_answer_and_changes_nothing(app, clock):
    await say(app, "timezone Europe/Berlin", MODERATOR)
    cases = {
        "event plan once 2026-03-01 18:00 Too late": "already passed",
        "event plan weekly thu 25:00 Circle": "is not a time",
        "event plan weekly thu 18:00": "Give the event a title",
        "event plan weekly xyz 18:00 Circle": "is not a day",
        "event plan weekly thu 18:00 " + "x" * 101: "title is too long",
        "event plan daily 18:00 Circle | " + "y" * 101: "place is too long",
        "event rsvp 7 yes": "no event #7",
        "event rsvp 1 perhaps": "Answer must be one of",
        "event edit 9 title New": "no event #9",
        "event reminders 3x": "not a lead time",
        "event rsvp 99999999999999999999 yes": "Id is too large",  # no SQL integer
        "event show 99999999999999999999": "Id is too large",
        "vote 1 99999999999999999999": "Poll is too large",
    }
    for line, expected in cases.items():
        reply = await say(app, line, MODERATOR)
        assert expected in reply.text, (line, reply.text)
    refused = await say(app, "event plan daily 18:00 Circle", MEMBER)
    assert "moderator" in refused.text.lower()
    assert await app.store.events.for_community(PLACE.community_id, cancelled=True) == []


async def test_the_same_event_planned_twice_in_a_room_is_refused_and_announced_once(app, clock):
    port = RecordingPort(clock=clock)
    app.ports.attach("test", port)
    await plan_circle(app)
    again = await say(
        app,
        "event plan weekly thu 18:30 Reading circle | https://meet.example.org/wake",
        MODERATOR,
    )
    assert "planned here already: #1" in again.text, again.text
    assert "next Thu 05 Mar 2026, 18:30 Europe/Berlin" in again.text
    # A one-off on the circle's first evening, with the title in other letters, is it too.
    once = await say(app, "event plan once 2026-03-05 18:30 reading  CIRCLE", MODERATOR)
    assert "planned here already: #1" in once.text, once.text
    await app.scheduler.run_due()
    assert [s.title for s in port.sent if s.kind == "thread"] == ["Reading circle"]

    # Another title, another time, another room, or after a cancel: each its own event.
    other = Place(PLACE.platform, PLACE.community_id, "r:other")
    for line, where, number in (
        ("event plan weekly thu 18:30 Writing circle", PLACE, 2),
        ("event plan weekly fri 18:30 Reading circle", PLACE, 3),
        ("event plan weekly thu 18:30 Reading circle", other, 4),
    ):
        reply = await say(app, line, MODERATOR, where)
        assert f"Planned event #{number}" in reply.text, (line, reply.text)
    await say(app, "event cancel 1", MODERATOR)
    reply = await say(app, "event plan weekly thu 18:30 Reading circle", MODERATOR)
    assert "Planned event #5" in reply.text, reply.text


async def test_reminder_times_are_a_community_setting(app, clock):
    port = RecordingPort(clock=clock)
    app.ports.attach("test", port)
    await plan_circle(app)
    await say(app, "event rsvp 1 yes", MEMBER)
    reply = await say(app, "event reminders 2h", MODERATOR)
    assert "2 hours before" in reply.text
    assert "2 hours" in (await say(app, "event reminders")).text
    await run_until(app, clock, datetime(2026, 3, 6, tzinfo=UTC))
    assert [s.at for s in port.sent if s.kind == "notice"] == [
        datetime(2026, 3, 5, 15, 30, tzinfo=UTC)
    ]


async def test_a_new_title_with_a_place_after_it_is_refused_not_cut(app, clock):
    await plan_circle(app)
    reply = await say(app, "event edit 1 title Study circle | room 2", MODERATOR)
    assert "cannot hold `|`" in reply.text and "event edit 1 where" in reply.text, reply.text
    event = await app.store.events.get(PLACE.community_id, 1)
    assert (event.title, event.location) == ("Reading circle", "https://meet.example.org/wake")


async def test_an_answer_promises_a_reminder_only_where_one_goes_out(app, clock):
    await plan_circle(app)
    assert "private reminder" in (await say(app, "event rsvp 1 yes", MEMBER)).text
    await say(app, "event reminders off", MODERATOR)
    reply = await say(app, "event rsvp 1 maybe", OTHER)
    assert "You might come" in reply.text and "reminder" not in reply.text, reply.text


async def test_mydata_shows_and_forget_me_deletes_answers_and_votes(app, clock):
    port = RecordingPort(clock=clock)
    app.ports.attach("test", port)
    await plan_circle(app)
    await say(app, "poll Which day? | Tue | Thu", MODERATOR)
    await say(app, "event rsvp 1 maybe", MEMBER)
    await say(app, "vote 2", MEMBER)
    mine = (await say(app, "mydata", MEMBER)).text
    assert "#1 Reading circle: maybe" in mine and "#1 Which day?: answer 2" in mine
    assert "answers to events (1)" in (await say(app, "forget me", MEMBER)).text
    await say(app, "forget me confirm", MEMBER)
    assert "0 yes · 0 maybe" in (await say(app, "event list")).text
    assert await app.store.polls.counts(1) == {}
    mine = (await say(app, "mydata", MEMBER)).text
    assert "answers to events** (0)" in mine and "votes in polls** (0)" in mine
