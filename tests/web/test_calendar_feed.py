"""The calendar feed read as a calendar app reads it: fetched over HTTP with the link
`calendar` gives, parsed with icalendar, expanded with recurring-ical-events over a year in
three time zones across their DST changes, and every occurrence compared with the times
Companion itself posts at (the functions behind `event list` and `schedule list`)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from companion.features.events.timing import between
from companion.scheduler import recurrence_of
from tests.conftest import MEMBER, MODERATOR, PLACE, say
from tests.fakes import RecordingPort
from tests.web.harness import WEB, serve

_LINK = re.compile(r"\((http://127\.0\.0\.1:8080(/calendar/[0-9a-f]{32}\.ics))\)")
ZONES = ("Europe/Berlin", "America/New_York", "Australia/Sydney")


def feed_path(text: str) -> str:
    match = _LINK.search(text)
    assert match, text
    return match.group(2)


def schedule_times(row, start: datetime, end: datetime) -> list[datetime]:
    rule, found = recurrence_of(row), []
    moment = rule.next_after(start)
    while moment is not None and moment < end:
        found.append(moment)
        moment = rule.next_after(moment)
    return found


@pytest.mark.parametrize("zone", ZONES)
async def test_every_occurrence_in_the_feed_is_one_companion_posts(make_app, clock, zone):
    app = await make_app(sections=WEB)
    web = await serve(app, RecordingPort(clock=clock))
    place = PLACE._replace(community_id=f"c:{zone}")
    for line in (
        f"timezone {zone}",
        "event plan weekly tue,thu 18:30 Reading circle | https://meet.example.org/x",
        "event plan daily 07:45 Morning check-in",
        "event plan once 2026-11-01 09:00 Book swap | here",
        "event plan weekly sat 02:30 Night owls",
        "event plan weekly fri 12:00 Lunch (to be cancelled)",
        "schedule discussion weekly mon 19:30 next",
    ):
        reply = await say(app, line, MODERATOR, place)
        assert "Planned" in reply.text or "Time zone set" in reply.text, (line, reply.text)
    await say(app, "event edit 1 when weekly tue,thu 19:00", MODERATOR, place)
    await say(app, "event cancel 5", MODERATOR, place)

    reply = await say(app, "calendar", MEMBER, place)
    assert reply.private
    response = await web.client.get(feed_path(reply.text))
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(await response.read())

    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == [zone]
    by_uid = {str(item["UID"]): item for item in calendar.walk("VEVENT")}
    assert len(by_uid) == 6
    event_uids = {
        int(u.split("@")[0].removeprefix("event-")): u for u in by_uid if u.startswith("event-")
    }
    assert int(by_uid[event_uids[1]]["SEQUENCE"]) == 1  # moved once
    assert str(by_uid[event_uids[5]]["STATUS"]) == "CANCELLED"
    assert str(by_uid[event_uids[2]]["STATUS"]) == "CONFIRMED"

    # From the day before: nothing the bot never sends (07:45 today, planned at noon) shows.
    planned = clock.now()
    start, end = planned - timedelta(days=1), planned + timedelta(days=365)
    expanded: dict[str, list[datetime]] = {}
    for item in recurring_ical_events.of(calendar).between(start, end):
        if str(item.get("STATUS")) != "CANCELLED":
            expanded.setdefault(str(item["UID"]), []).append(item["DTSTART"].dt.astimezone(UTC))

    ours: dict[str, list[datetime]] = {}
    for event in await app.store.events.for_community(place.community_id):
        ours[event_uids[event.id]] = between(event, planned, end)
    rows = await app.store.schedules.for_community(place.community_id)
    [schedule] = [row for row in rows if row.kind == "discussion"]
    [schedule_uid] = [u for u in by_uid if u.startswith(f"schedule-{schedule.id}@")]
    ours[schedule_uid] = schedule_times(schedule, planned, end)

    assert sorted(expanded) == sorted(ours)
    for uid, times in ours.items():
        assert sorted(expanded[uid]) == times, uid
    assert len(ours[event_uids[2]]) == 365  # daily, a whole year, across both DST changes
    assert len(ours[event_uids[3]]) == 1

    # The first times match what the bot itself shows in `event list` and `schedule list`.
    listing = (await say(app, "event list", MEMBER, place)).text.replace("\\_", "_")
    for event_id in (1, 2, 3, 4):
        shown = ours[event_uids[event_id]][0].astimezone(ZoneInfo(zone))
        assert shown.strftime("%a %d %b %Y, %H:%M ") + zone in listing, event_id
    listed = (await say(app, "schedule list", MEMBER, place)).text.replace("\\_", "_")
    shown = ours[schedule_uid][0].astimezone(ZoneInfo(zone))
    assert shown.strftime("%a %d %b %Y, %H:%M ") + zone in listed
    await web.client.close()


async def test_a_reset_link_replaces_the_old_one_and_unknown_tokens_are_plain_404s(make_app, clock):
    app = await make_app(sections=WEB)
    web = await serve(app, RecordingPort(clock=clock))
    old = feed_path((await say(app, "calendar", MEMBER)).text)
    assert feed_path((await say(app, "calendar", MODERATOR)).text) == old  # the same link
    assert "moderator" in (await say(app, "calendar reset", MEMBER)).text.lower()
    new = feed_path((await say(app, "calendar reset", MODERATOR)).text)
    assert new != old
    assert (await web.client.get(old)).status == 404
    assert (await web.client.get(new)).status == 200
    for path in ("/calendar/zz.ics", "/calendar/" + "0" * 32 + ".ics", "/calendar/%00.ics"):
        response = await web.client.get(path)
        assert response.status == 404, path
    stored = await app.store.events.feed(PLACE.community_id)
    assert stored is not None and new.split("/")[-1][:-4] not in stored  # only a hash kept
    await web.client.close()


async def test_book_club_meetings_are_in_the_feed_at_the_times_the_club_posts(make_app, clock):
    from tests.core.test_bookclub import six_chapter_club

    app = await make_app(sections=WEB)
    web = await serve(app, RecordingPort(clock=clock))
    await six_chapter_club(app)
    response = await web.client.get(feed_path((await say(app, "calendar", MEMBER)).text))
    calendar = icalendar.Calendar.from_ical(await response.read())
    chapters = {
        str(item["SUMMARY"]): item["DTSTART"].dt.astimezone(UTC) for item in calendar.walk("VEVENT")
    }
    [club] = await app.store.bookclubs.clubs_in_community(PLACE.community_id)
    sessions = await app.store.bookclubs.sessions(club.id)
    assert chapters == {
        f"Six Small Chapters: chapter {s.chapter} discussion thread": datetime.fromisoformat(
            s.opens_at
        )
        for s in sessions
    }
    assert len(chapters) == 6
    await web.client.close()


async def test_a_chapters_discussion_and_its_meeting_have_different_names(make_app, clock):
    """A club with meetings: the feed has each chapter's thread and its meeting, and a
    member can tell them apart (the same name twice on one evening would not say which)."""
    app = await make_app(sections=WEB)
    web = await serve(app, RecordingPort(clock=clock))
    await say(app, 'bookclub plan create "Two Chapters" 2', MODERATOR)
    reply = await say(
        app,
        "bookclub start two-chapters 2026-03-03 weekly thu 18:00 with meetings 19:30",
        MODERATOR,
    )
    assert "Book club started" in reply.text, reply.text
    response = await web.client.get(feed_path((await say(app, "calendar", MEMBER)).text))
    calendar = icalendar.Calendar.from_ical(await response.read())
    names = sorted(
        (item["DTSTART"].dt.astimezone(UTC).isoformat(), str(item["SUMMARY"]))
        for item in calendar.walk("VEVENT")
    )
    assert names == [
        ("2026-03-05T18:00:00+00:00", "Two Chapters: chapter 1 discussion thread"),
        ("2026-03-05T19:30:00+00:00", "Two Chapters: chapter 1 meeting"),
        ("2026-03-12T18:00:00+00:00", "Two Chapters: chapter 2 discussion thread"),
        ("2026-03-12T19:30:00+00:00", "Two Chapters: chapter 2 meeting"),
    ]
    await web.client.close()


async def test_two_members_asking_for_the_first_link_at_once_get_the_same_one(make_app, clock):
    """The link is made on the first ask; two asks at the same moment must not make two,
    the later replacing the earlier (whose link would then be a 404)."""
    app = await make_app(sections=WEB)
    first, second = await asyncio.gather(
        say(app, "calendar", MEMBER), say(app, "calendar", MODERATOR)
    )
    assert feed_path(first.text) == feed_path(second.text)
    assert feed_path((await say(app, "calendar", MEMBER)).text) == feed_path(first.text)
