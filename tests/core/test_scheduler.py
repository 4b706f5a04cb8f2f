"""Scheduling in wall-clock time, exactly once, with an injected clock (no real waiting)."""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from companion import scheduler as scheduler_module
from companion.commands import UserError
from companion.events import MessageRef
from companion.ports import PermanentFailure, PostError
from companion.recurrence import Recurrence
from tests.conftest import MEMBER, MODERATOR, PLACE, START, say
from tests.core.schedule_helpers import run_until
from tests.fakes import RecordingPort

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def port(clock):
    return RecordingPort(clock=clock)


@pytest.fixture
async def sched_app(app, port):
    app.ports.attach("test", port)
    return app


def local_times(port, zone):
    return [s.at.astimezone(zone).strftime("%Y-%m-%d %H:%M") for s in port.sent]


@pytest.mark.parametrize(
    ("zone", "start", "days"),
    [
        ("Europe/Berlin", datetime(2026, 3, 26, 12, tzinfo=UTC), 6),  # spring forward 29 Mar
        ("Europe/Berlin", datetime(2026, 10, 22, 12, tzinfo=UTC), 6),  # fall back 25 Oct
        ("America/New_York", datetime(2026, 3, 5, 18, tzinfo=UTC), 6),  # spring forward 8 Mar
        ("America/New_York", datetime(2026, 10, 29, 18, tzinfo=UTC), 6),  # fall back 1 Nov
    ],
)
async def test_daily_0900_stays_0900_local_across_dst(sched_app, port, clock, zone, start, days):
    clock.set(start)
    reply = await say(sched_app, f"schedule reflection 09:00 {zone}", MODERATOR)
    assert "Planned #1" in reply.text
    await run_until(sched_app, clock, start + timedelta(days=days))
    times = local_times(port, ZoneInfo(zone))
    assert len(times) == days
    assert all(t.endswith(" 09:00") for t in times), times
    assert len({t[:10] for t in times}) == days  # one per local day


async def test_a_time_in_the_spring_gap_posts_once_at_the_first_valid_minute(
    sched_app, port, clock
):
    clock.set(datetime(2026, 3, 27, 12, tzinfo=UTC))
    await say(sched_app, "schedule reflection 02:30 Europe/Berlin", MODERATOR)
    await run_until(sched_app, clock, datetime(2026, 3, 31, 12, tzinfo=UTC))
    assert local_times(port, BERLIN) == [
        "2026-03-28 02:30",
        "2026-03-29 03:00",  # 02:30 does not exist that night
        "2026-03-30 02:30",
        "2026-03-31 02:30",
    ]


async def test_the_repeated_hour_posts_once(sched_app, port, clock):
    clock.set(datetime(2026, 10, 24, 12, tzinfo=UTC))
    await say(sched_app, "schedule reflection 02:30 Europe/Berlin", MODERATOR)
    await run_until(sched_app, clock, datetime(2026, 10, 26, 12, tzinfo=UTC))
    assert local_times(port, BERLIN) == ["2026-10-25 02:30", "2026-10-26 02:30"]
    first = port.sent[0].at
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # the first 02:30 (CEST)


async def test_weekly_discussions_open_threads_with_unused_prompts(sched_app, port, clock):
    await say(sched_app, "schedule discussion weekly tue,thu 19:30 next", MODERATOR)
    await run_until(sched_app, clock, clock.now() + timedelta(days=14))
    assert [s.kind for s in port.sent] == ["thread"] * 4
    assert [s.at.strftime("%a %H:%M") for s in port.sent] == ["Tue 19:30", "Thu 19:30"] * 2
    titles = [s.title for s in port.sent]
    assert len(set(titles)) == 4  # no prompt twice
    assert all(0 < len(t) <= 100 for t in titles)


async def test_a_one_off_discussion_with_a_chosen_prompt(sched_app, port, clock):
    reply = await say(
        sched_app, "schedule discussion once 2026-03-05 18:00 power-at-work", MODERATOR
    )
    assert "Planned #1" in reply.text
    await run_until(sched_app, clock, datetime(2026, 3, 10, tzinfo=UTC))
    assert [s.title for s in port.sent] == ["Power at work"]
    assert "Nothing is planned" in (await say(sched_app, "schedule list")).text


@dataclass(slots=True)
class PostOnlyPort:
    """A platform that can only post: no threads (companion.ports.Threads)."""

    posts: list[tuple[str, str]] = field(default_factory=list)

    async def post(self, place, text, *, key, kind=None):
        self.posts.append((place.room_id, text))
        return MessageRef(place, key)


async def test_a_discussion_where_there_are_no_threads_is_posted_as_its_first_message(app, clock):
    plain = PostOnlyPort()
    app.ports.attach("test", plain)
    await say(app, "schedule discussion once 2026-03-05 18:00 power-at-work", MODERATOR)
    await run_until(app, clock, datetime(2026, 3, 10, tzinfo=UTC))
    [(room, text)] = plain.posts  # its first message, which opens with its heading
    assert room == PLACE.room_id
    assert text.startswith("**Power at work**\n") and "workplace" in text


async def test_the_scheduled_post_and_reflect_ask_the_same_question(sched_app, port, clock):
    await say(sched_app, "schedule reflection 13:00", MODERATOR)
    await run_until(sched_app, clock, clock.now() + timedelta(hours=2))
    asked = (await say(sched_app, "reflect")).text
    assert port.sent[0].text == asked


async def test_restart_in_the_middle_of_a_day_sends_nothing_twice(make_app, clock):
    first_port = RecordingPort(clock=clock)
    app = await make_app()
    app.ports.attach("test", first_port)
    await say(app, "schedule reflection 09:00", MODERATOR)
    await say(app, "schedule reflection 18:00", MODERATOR)
    await run_until(app, clock, datetime(2026, 3, 3, 10, tzinfo=UTC))  # 09:00 posted
    await app.close()

    second_port = RecordingPort(clock=clock)
    restarted = await make_app()
    restarted.ports.attach("test", second_port)
    await run_until(restarted, clock, datetime(2026, 3, 4, 0, tzinfo=UTC))
    assert [s.at.hour for s in first_port.sent] == [18, 9]  # Mar 2 18:00, Mar 3 09:00
    assert [s.at.hour for s in second_port.sent] == [18]  # only what was still to come
    assert first_port.keys_seen.isdisjoint(second_port.keys_seen)


async def test_downtime_within_grace_posts_late(make_app, clock):
    app = await make_app()
    await say(app, "schedule reflection 13:00", MODERATOR)
    await app.close()
    clock.set(datetime(2026, 3, 2, 17, tzinfo=UTC))  # down from 12:00 to 17:00
    port = RecordingPort(clock=clock)
    restarted = await make_app()
    restarted.ports.attach("test", port)
    await restarted.scheduler.run_due()
    assert len(port.sent) == 1 and port.sent[0].at.hour == 17


async def test_downtime_past_grace_skips_and_logs(make_app, clock, caplog):
    app = await make_app()
    await say(app, "schedule reflection 13:00", MODERATOR)
    await app.close()
    clock.set(datetime(2026, 3, 4, 20, tzinfo=UTC))  # missed Mar 2, 3 and 4 (7 h late)
    port = RecordingPort(clock=clock)
    restarted = await make_app()
    restarted.ports.attach("test", port)
    with caplog.at_level(logging.WARNING):
        await restarted.scheduler.run_due()
    assert port.sent == []
    occurrences = await restarted.store.schedules.occurrences(1)
    assert [o.state for o in occurrences] == ["skipped"] * 3
    assert "past the grace window" in caplog.text
    await run_until(restarted, clock, datetime(2026, 3, 5, 14, tzinfo=UTC))
    assert len(port.sent) == 1  # and it goes on the next day


async def test_two_communities_in_different_zones(sched_app, port, clock):
    berlin = PLACE._replace(community_id="c:berlin")
    new_york = PLACE._replace(community_id="c:ny")
    await say(sched_app, "timezone Europe/Berlin", MODERATOR, berlin)
    await say(sched_app, "timezone America/New_York", MODERATOR, new_york)
    await say(sched_app, "schedule reflection 08:00", MODERATOR, berlin)
    await say(sched_app, "schedule reflection 08:00", MODERATOR, new_york)
    await run_until(sched_app, clock, clock.now() + timedelta(days=1))
    sent = {s.place.community_id: s.at for s in port.sent}
    assert sent["c:berlin"].astimezone(BERLIN).hour == 8
    assert sent["c:ny"].astimezone(NEW_YORK).hour == 8
    assert sent["c:berlin"] != sent["c:ny"]


async def test_cancel_while_due_posts_nothing(sched_app, port, clock):
    await say(sched_app, "schedule reflection 13:00", MODERATOR)
    clock.set(datetime(2026, 3, 2, 13, 0, 5, tzinfo=UTC))  # due, not yet run
    assert "Cancelled #1" in (await say(sched_app, "schedule cancel 1", MODERATOR)).text
    await run_until(sched_app, clock, clock.now() + timedelta(days=2))
    assert port.sent == []


async def test_pause_and_resume_from_now_on(sched_app, port, clock):
    await say(sched_app, "schedule reflection 13:00", MODERATOR)
    await say(sched_app, "schedule pause 1", MODERATOR)
    await run_until(sched_app, clock, clock.now() + timedelta(days=2))
    assert port.sent == []
    assert "paused" in (await say(sched_app, "schedule list")).text
    assert "Resumed #1" in (await say(sched_app, "schedule resume 1", MODERATOR)).text
    await run_until(sched_app, clock, clock.now() + timedelta(days=1))
    assert len(port.sent) == 1


async def test_failing_posts_retry_with_backoff_then_pause_and_tell_moderators(
    sched_app, port, clock
):
    port.fail_with = PostError("the room is gone")
    await say(sched_app, "schedule reflection 13:00", MODERATOR)
    await run_until(sched_app, clock, clock.now() + timedelta(hours=2))
    occurrence = (await sched_app.store.schedules.occurrences(1))[0]
    assert occurrence.state == "failed" and occurrence.attempts == 4
    listing = (await say(sched_app, "schedule list", MODERATOR)).text
    assert "paused" in listing and "the room is gone" in listing
    assert "the room is gone" not in (await say(sched_app, "schedule list", MEMBER)).text
    port.fail_with = None
    await say(sched_app, "schedule resume 1", MODERATOR)
    await run_until(sched_app, clock, clock.now() + timedelta(days=1))
    assert len(port.sent) == 1


async def test_a_permanent_failure_pauses_at_once(sched_app, port, clock):
    port.fail_with = PermanentFailure("no permission to post")
    await say(sched_app, "schedule reflection 13:00", MODERATOR)
    await run_until(sched_app, clock, clock.now() + timedelta(hours=2))
    assert (await sched_app.store.schedules.occurrences(1))[0].attempts == 1
    assert "no permission" in (await say(sched_app, "schedule list", MODERATOR)).text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("schedule reflection 25:00", "is not a time"),
        ("schedule reflection 9am", "is not a time"),
        ("schedule reflection 09:00 Mars/Olympus", "not a time zone"),
        ("schedule discussion once 2026-03-01 10:00", "already passed"),
        ("schedule discussion once 2026-02-30 10:00", "is not a date"),
        ("schedule discussion weekly someday 10:00", "is not a day"),
        ("schedule discussion daily 10:00 no-such-prompt", "There is no prompt"),
        ("schedule discussion hourly 10:00", "must be one of: once, daily, weekly"),
        ("schedule discussion daily", "When is missing. Usage: `schedule discussion"),
        ("schedule discussion weekly 10:00", "After `weekly` write DAYS HH:MM"),
    ],
)
async def test_bad_plans_are_explained_and_nothing_is_stored(sched_app, line, expected):
    reply = await say(sched_app, line, MODERATOR)
    assert expected in reply.text
    assert await sched_app.store.schedules.for_community(PLACE.community_id) == []


async def test_members_cannot_plan_or_cancel_and_communities_are_separate(sched_app):
    assert "Only moderators" in (await say(sched_app, "schedule reflection 09:00")).text
    await say(sched_app, "schedule reflection 09:00", MODERATOR)
    other = PLACE._replace(community_id="c:other")
    reply = await say(sched_app, "schedule cancel 1", MODERATOR, other)
    assert "There is no schedule #1 here" in reply.text
    assert (await sched_app.store.schedules.get(1)).status == "active"


async def test_the_loop_sleeps_until_due_and_wakes_on_changes(sched_app, port, clock):
    await sched_app.scheduler.start()
    await sched_app.scheduler.start()  # a reconnect: still one loop
    loops = [t for t in asyncio.all_tasks() if t.get_name() == "companion-scheduler"]
    assert len(loops) == 1
    await say(sched_app, "schedule reflection 12:30", MODERATOR)  # wakes the loop
    clock.set(datetime(2026, 3, 2, 12, 29, tzinfo=UTC))
    await _settle(port, 0)
    assert port.sent == []
    clock.set(datetime(2026, 3, 2, 12, 30, tzinfo=UTC))
    await _settle(port, 1)
    assert len(port.sent) == 1


async def _settle(port: RecordingPort, expected: int) -> None:
    for _ in range(100):
        if len(port.sent) >= expected:
            await asyncio.sleep(0.01)
            return
        await asyncio.sleep(0.01)


class Unprintable(Exception):
    """An exception from deep in a library that cannot even describe itself."""

    def __str__(self) -> str:
        raise ValueError("no description")


class SecondRoomBreaks(RecordingPort):
    async def post(self, place, text, *, key, **options):
        if place.room_id == "r:2":
            raise Unprintable
        return await RecordingPort.post(self, place, text, key=key, **options)


async def test_one_job_failing_unexpectedly_does_not_unmark_the_rest_of_its_batch(make_app, clock):
    app = await make_app()
    port = SecondRoomBreaks(clock=clock)
    app.ports.attach("test", port)
    for room in ("r:1", "r:2", "r:3"):
        await say(app, "schedule reflection 13:00", MODERATOR, PLACE._replace(room_id=room))
    clock.set(datetime(2026, 3, 2, 13, 0, tzinfo=UTC))
    assert await app.scheduler.run_due() == 3  # one batch of three
    assert sorted(s.place.room_id for s in port.sent) == ["r:1", "r:3"]
    states = {i: (await app.store.schedules.occurrences(i))[0] for i in (1, 2, 3)}
    assert states[1].state == states[3].state == "sent"
    assert states[2].state == "claimed" and states[2].retry_at is not None  # to be retried
    await app.close()

    clock.advance(timedelta(minutes=5))
    again = RecordingPort(clock=clock)
    restarted = await make_app()
    restarted.ports.attach("test", again)
    await restarted.scheduler.recover()
    await run_until(restarted, clock, clock.now() + timedelta(hours=1))
    assert [s.place.room_id for s in again.sent] == ["r:2"]  # nothing sent twice
    assert again.keys_seen.isdisjoint(port.keys_seen)
    for schedule_id in (1, 2, 3):
        [occurrence] = await restarted.store.schedules.occurrences(schedule_id)
        assert occurrence.state == "sent"


async def test_schedules_loaded_in_bulk_are_the_rows_add_writes_and_post_alike(
    sched_app, port, clock
):
    from companion.recurrence import Recurrence
    from companion.scheduler import _new_schedule

    daily = Recurrence("daily", datetime(2026, 3, 2, 13, 0).time(), BERLIN, clock.now().date())
    one = await sched_app.scheduler.add(PLACE, "reflection", daily, "", "u:mod")
    others = [PLACE._replace(community_id=f"c:bulk{n}") for n in range(3)]
    first = daily.next_after(clock.now())
    assert first is not None
    await sched_app.store.schedules.add_many(
        [_new_schedule(p, "reflection", daily, "", "u:mod", clock.now(), first) for p in others]
    )
    rows = [await sched_app.store.schedules.get(n) for n in (2, 3, 4)]
    assert [r.community_id for r in rows] == [p.community_id for p in others]
    assert {r._replace(id=one.id, community_id=one.community_id) for r in rows} == {one}
    await run_until(sched_app, clock, clock.now() + timedelta(days=1))
    assert sorted(s.place.community_id for s in port.sent) == sorted(
        [PLACE.community_id] + [p.community_id for p in others]
    )
    assert len({s.key for s in port.sent}) == 4


@dataclass
class SignallingPort(RecordingPort):
    posted: asyncio.Event = field(default_factory=asyncio.Event)

    async def post(self, place, text, *, key, **options):
        self.posted.set()
        return await RecordingPort.post(self, place, text, key=key, **options)


async def test_a_claimed_batch_is_sent_while_the_next_is_claimed(app, clock, monkeypatch):
    """Many posts due at once: the first ones go out before the rest are claimed. The
    second claim here waits until a post has gone out; claiming everything before sending
    anything would wait for ever."""
    monkeypatch.setattr(scheduler_module, "BATCH", 2)
    places = [PLACE._replace(community_id=f"c:{n}", room_id=f"r:{n}") for n in range(5)]
    for place in places:
        await say(app, "schedule reflection 13:00", MODERATOR, place)
    port = SignallingPort(clock=clock)
    app.ports.attach("test", port)
    claim_due, calls = app.store.schedules.claim_due, [0]

    async def second_claim_waits_for_a_post(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 2:
            await asyncio.wait_for(port.posted.wait(), 5)
        return await claim_due(*args, **kwargs)

    monkeypatch.setattr(app.store.schedules, "claim_due", second_claim_waits_for_a_post)
    clock.set(clock.now().replace(hour=13, minute=0, second=1))
    assert await app.scheduler.run_due() == 5
    assert sorted(s.place.room_id for s in port.sent) == sorted(p.room_id for p in places)
    assert calls[0] == 3  # 2 + 2 + 1: the third claim found fewer than a batch
    occurrences = [o for n in range(1, 6) for o in await app.store.schedules.occurrences(n)]
    assert [o.state for o in occurrences] == ["sent"] * 5


async def test_a_scheduler_started_before_any_adapter_waits_quietly(app, clock, caplog):
    """`companion run` starts the scheduler before the platforms connect: nothing is due
    anywhere yet, and that is no failure (on PostgreSQL it once was a logged SQL error)."""
    await say(app, "schedule reflection 13:00", MODERATOR)
    assert await app.store.schedules.earliest_wake([]) is None
    await app.scheduler.start()
    port = RecordingPort(clock=clock)
    for _ in range(20):  # let its loop run a pass and go to sleep
        await asyncio.sleep(0)
    app.ports.attach("test", port)  # the adapter connects: that wakes it
    clock.set(clock.now().replace(hour=13, minute=0, second=1))
    for _ in range(200):
        if port.sent:
            break
        await asyncio.sleep(0.005)
    await app.scheduler.stop()
    assert [s.kind for s in port.sent] == ["post"]
    assert "scheduler pass failed" not in caplog.text


async def test_the_scheduler_refuses_a_time_that_has_passed_with_the_members_message(app):
    """One place owns the check: a recurrence with no future occurrence is a UserError whose
    message the member reads (not a ValueError, which the dispatcher turned into an apology)."""
    once = Recurrence("once", time(9, 0), ZoneInfo("UTC"), START.date())  # 09:00, now 12:00
    with pytest.raises(UserError) as refused:
        await app.scheduler.add(PLACE, "discussion", once, "next", MODERATOR.id)
    assert str(refused.value) == scheduler_module.PASSED
    assert await app.store.schedules.for_community(PLACE.community_id) == []


async def test_two_starts_at_once_run_one_loop_and_stop_leaves_none(sched_app):
    """Two ports attaching together both start the scheduler: one loop, and stopping ends it
    (a second loop, orphaned by the first, used to keep running after stop)."""
    scheduler = sched_app.scheduler
    await asyncio.gather(scheduler.start(), scheduler.start())
    loops = [t for t in asyncio.all_tasks() if t.get_name() == "companion-scheduler"]
    assert len(loops) == 1
    await scheduler.stop()
    await asyncio.sleep(0)
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "companion-scheduler"]
