"""`bookclub start ... with meetings HH:MM`: an event per chapter's discussion day, moved,
cancelled and postponed with the club, those who said yes told; on the injected clock, on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from companion.events import Actor
from tests.conftest import MEMBER, MODERATOR, PLACE, say
from tests.core.schedule_helpers import run_until
from tests.fakes import RecordingPort

OTHER = Actor("u:other", "Other member")


def notices(port: RecordingPort, member: Actor) -> list[str]:
    return [s.text for s in port.sent if s.kind == "notice" and s.title == member.id]


async def test_meetings_follow_the_club_through_skip_pause_resume_and_end(make_app, clock):
    app = await make_app()
    port = RecordingPort(clock=clock)
    app.ports.attach("test", port)
    await say(app, "timezone Europe/Berlin", MODERATOR)
    await say(app, 'bookclub plan create "Four Chapters" 4', MODERATOR)
    reply = await say(
        app,
        "bookclub start four-chapters 2026-03-03 weekly thu 18:00 with meetings 19:30",
        MODERATOR,
    )
    assert "A meeting at 19:30 on each discussion day: events #1 to #4" in reply.text, reply.text
    events = await app.store.events.for_community(PLACE.community_id)
    assert [(e.title, e.start_date, e.at_time, e.timezone) for e in events] == [
        (f"Four Chapters: chapter {n} meeting", day, "19:30", "Europe/Berlin")
        for n, day in enumerate(("2026-03-05", "2026-03-12", "2026-03-19", "2026-03-26"), 1)
    ]
    for line, who in (("event rsvp 2 yes", MEMBER), ("event rsvp 3 yes", MEMBER)):
        await say(app, line, who)
    await say(app, "event rsvp 4 yes", OTHER)

    await run_until(app, clock, datetime(2026, 3, 6, 12, tzinfo=UTC))
    [thread] = [s for s in port.sent if s.kind == "thread"]  # no announcement per meeting
    assert "Meeting today at 19:30 (here): say whether you come with `event rsvp 1 yes`" in (
        thread.text
    )

    assert "Skipped the chapter 2" in (await say(app, "bookclub skip", MODERATOR)).text
    assert (await app.store.events.get(PLACE.community_id, 2)).status == "cancelled"
    await say(app, "bookclub pause", MODERATOR)
    await say(app, "event reminders 24h 1h", MODERATOR)  # re-plans every event but these
    await run_until(app, clock, datetime(2026, 3, 20, 11, tzinfo=UTC))
    told = notices(port, MEMBER)
    assert any(
        "chapter 2 meeting** (event #2) is cancelled: the book club skips" in t for t in told
    )
    assert any(
        "chapter 3 meeting** (event #3) is postponed: the book club is paused" in t for t in told
    )
    assert any("(event #4) is postponed" in t for t in notices(port, OTHER))
    assert not any("Reminder" in t for t in told), told  # none while paused

    assert "moved 14 days later" in (await say(app, "bookclub resume", MODERATOR)).text
    moved = await app.store.events.get(PLACE.community_id, 3)
    assert (moved.start_date, moved.at_time, moved.status) == ("2026-04-02", "19:30", "planned")
    await run_until(app, clock, datetime(2026, 4, 2, 18, 0, tzinfo=UTC))
    told = notices(port, MEMBER)
    assert any("has moved with the book club. When: Thu 02 Apr 2026, 19:30" in t for t in told)
    reminders = [t for t in told if "**Reminder:** **Four Chapters: chapter 3 meeting**" in t]
    assert len(reminders) == 2, told  # 24 hours and 1 hour before the new date

    await say(app, "bookclub end", MODERATOR)
    await run_until(app, clock, datetime(2026, 4, 3, tzinfo=UTC))
    assert any(
        "(event #4) is cancelled: the book club has ended" in t for t in notices(port, OTHER)
    )
    assert [e.id for e in await app.store.events.for_community(PLACE.community_id)] == [1, 3]


async def test_a_club_without_meetings_plans_no_events_and_bad_times_are_refused(app, clock):
    await say(app, 'bookclub plan create "Four Chapters" 4', MODERATOR)
    for line, expected in (
        ("bookclub start four-chapters 2026-03-03 with meetings", "Give the meetings' time"),
        ("bookclub start four-chapters 2026-03-03 with meetings 25:00", "25:00"),
    ):
        reply = await say(app, line, MODERATOR)
        assert expected in reply.text, (line, reply.text)
    assert await app.store.bookclubs.club_in_room(PLACE.platform, PLACE.room_id) is None
    reply = await say(app, "bookclub start four-chapters 2026-03-03 chapters 2", MODERATOR)
    assert "Book club started" in reply.text and "meeting" not in reply.text
    assert await app.store.events.for_community(PLACE.community_id) == []


async def test_a_meetings_place_is_changed_whatever_the_clubs_title_holds(app, clock):
    """A plan's title may hold a `|`; `event edit N where` changes only the place."""
    await say(app, 'bookclub plan create "Us | Them" 2', MODERATOR)
    await say(
        app, "bookclub start us-them 2026-03-03 weekly thu 18:00 with meetings 19:30", MODERATOR
    )
    reply = await say(app, "event edit 1 where https://meet.example.org/circle", MODERATOR)
    assert "Changed event #1" in reply.text, reply.text
    event = await app.store.events.get(PLACE.community_id, 1)
    assert (event.title, event.location) == (
        "Us | Them: chapter 1 meeting",
        "https://meet.example.org/circle",
    )


async def test_a_paused_clubs_meeting_edited_still_waits_for_the_club(app, clock):
    port = RecordingPort(clock=clock)
    app.ports.attach("test", port)
    await say(app, 'bookclub plan create "Two Chapters" 2', MODERATOR)
    await say(
        app,
        "bookclub start two-chapters 2026-03-03 weekly thu 18:00 with meetings 19:30",
        MODERATOR,
    )
    await say(app, "event rsvp 2 yes", MEMBER)
    await say(app, "bookclub pause", MODERATOR)
    assert "Changed event #2" in (await say(app, "event edit 2 where Room 3", MODERATOR)).text
    await run_until(app, clock, datetime(2026, 3, 13, tzinfo=UTC))  # past meeting 2's day
    assert not any("Reminder" in t for t in notices(port, MEMBER)), notices(port, MEMBER)


async def four_chapters(make_app: Any, clock: Any, failure: Exception | None = None) -> Any:
    """A club of four chapters with meetings at 19:30, on a port with scheduled events
    (failing with ``failure`` while the club starts, if given)."""
    from tests.core.test_native_answers import EventsPort

    app = await make_app()
    port = EventsPort(clock=clock)
    app.ports.attach("test", port)
    await say(app, 'bookclub plan create "Four Chapters" 4', MODERATOR)
    port.fail_with = failure
    await say(
        app,
        "bookclub start four-chapters 2026-03-03 weekly thu 18:00 with meetings 19:30",
        MODERATOR,
    )
    return app, port


async def test_each_meeting_gets_the_platforms_own_event_a_week_ahead_kept_in_step(make_app, clock):
    """Where the platform has scheduled events (Discord), each club meeting gets one a week
    before it (not a dozen at once), "Interested" counts as a yes like `event rsvp`, and a
    skip, a resume and the club's end edit or cancel it. (Before: none at all.)"""
    from tests.core.test_native_answers import native

    app, port = await four_chapters(make_app, clock)
    await app.scheduler.run_due()
    assert port.created == [
        ("Four Chapters: chapter 1 meeting", "here", datetime(2026, 3, 5, 19, 30, tzinfo=UTC),
         datetime(2026, 3, 5, 20, 30, tzinfo=UTC)),
    ]  # fmt: skip
    assert await app.gateway.native_answer(native("se1", MEMBER, "yes"))
    await say(app, "event rsvp 1 maybe", OTHER)
    counts = (await app.store.events.counts([1]))[1]
    assert (counts.yes, counts.maybe) == (1, 1)

    await say(app, "bookclub pause", MODERATOR)  # before chapter 1's meeting: it moves
    await app.scheduler.run_due()
    clock.set(datetime(2026, 3, 4, 9, tzinfo=UTC))
    await say(app, "bookclub resume", MODERATOR)  # two days later
    await app.scheduler.run_due()
    assert port.edited == [
        ("se1", "Four Chapters: chapter 1 meeting", datetime(2026, 3, 7, 19, 30, tzinfo=UTC))
    ]
    await run_until(app, clock, datetime(2026, 3, 8, tzinfo=UTC))
    assert [c[0] for c in port.created] == [
        "Four Chapters: chapter 1 meeting",
        "Four Chapters: chapter 2 meeting",
    ]
    assert port.created[1][2] == datetime(2026, 3, 14, 19, 30, tzinfo=UTC)  # a week ahead
    await say(app, "bookclub skip", MODERATOR)  # chapter 2's meeting
    await app.scheduler.run_due()
    assert port.cancelled == ["se2"]
    assert await app.gateway.native_answer(native("se2", MEMBER, "yes")) is False

    await run_until(app, clock, datetime(2026, 3, 15, tzinfo=UTC))
    assert [c[2].day for c in port.created] == [5, 14, 21]  # chapter 3's, a week ahead
    await say(app, "bookclub end", MODERATOR)
    await run_until(app, clock, datetime(2026, 4, 1, tzinfo=UTC))
    assert port.cancelled == ["se2", "se3"] and len(port.created) == 3  # none for chapter 4


async def test_a_meeting_moved_before_its_platform_event_gets_it_a_week_before_the_new_date(
    make_app, clock
):
    app, port = await four_chapters(make_app, clock)
    reply = await say(app, "event edit 2 when once 2026-03-26 19:30", MODERATOR)
    assert "Changed event #2" in reply.text, reply.text
    await run_until(app, clock, datetime(2026, 3, 18, tzinfo=UTC))
    second = [c[2] for c in port.created if c[0].endswith("chapter 2 meeting")]
    assert second == []  # not a week before its old date (5 March)
    await run_until(app, clock, datetime(2026, 3, 20, tzinfo=UTC))
    second = [c[2] for c in port.created if c[0].endswith("chapter 2 meeting")]
    assert second == [datetime(2026, 3, 26, 19, 30, tzinfo=UTC)]
    assert port.edited == []


async def test_a_meetings_platform_event_is_tried_again_after_a_transient_failure(make_app, clock):
    from companion.ports import TransientFailure

    app, port = await four_chapters(make_app, clock, TransientFailure("Discord is away"))
    await app.scheduler.run_due()
    assert port.created == []
    port.fail_with = None
    await run_until(app, clock, datetime(2026, 3, 2, 13, tzinfo=UTC))
    assert [c[0] for c in port.created] == ["Four Chapters: chapter 1 meeting"]


async def test_a_chapter_thread_says_when_its_moved_meeting_really_is(app, clock):
    """A meeting moved to another day (`event edit N when`) is not "today" in the thread."""
    port = RecordingPort(clock=clock)
    app.ports.attach("test", port)
    await say(app, "timezone Europe/Berlin", MODERATOR)
    await say(app, 'bookclub plan create "Three Chapters" 3', MODERATOR)
    await say(
        app,
        "bookclub start three-chapters 2026-03-03 weekly thu 18:00 with meetings 19:30",
        MODERATOR,
    )
    for line in (
        "event edit 2 when once 2026-03-13 19:30",
        "event edit 3 when once 2026-03-18 20:00",
    ):
        assert "Changed event" in (await say(app, line, MODERATOR)).text
    await run_until(app, clock, datetime(2026, 3, 20, tzinfo=UTC))
    first, second, third = [s.text for s in port.sent if s.kind == "thread"]
    assert "Meeting today at 19:30 (here): say whether you come with `event rsvp 1 yes`" in first
    assert "Meeting today" not in second and "Meeting today" not in third
    assert (
        "Meeting on Fri 13 Mar 2026, 19:30 Europe/Berlin (here): "
        "say whether you come with `event rsvp 2 yes`." in second
    ), second
    assert "This chapter's meeting (event #3) has already taken place." in third, third
