"""Challenges: a community walks a learning path one day at a time, on the injected clock,
on SQLite and PostgreSQL (make_app runs each test on both), with the shipped paths."""

from __future__ import annotations

import json
import signal
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from companion.events import Actor, Place
from companion.features.challenges.days import tick_after
from companion.markup import to_plain
from companion.store import Store
from companion.store.db import Database
from companion.store.postgres.db import PgDatabase
from tests.conftest import MODERATOR, PLACE, say
from tests.core.schedule_helpers import run_until
from tests.core.test_crash import worker
from tests.fakes import RecordingPort

MEMBERS = [Actor(f"u:m{i}", f"Member {i}") for i in range(6)]


@pytest.fixture
def port(clock):
    return RecordingPort(clock=clock)


def threads(port: RecordingPort, place: Place = PLACE) -> list:
    return [
        s for s in port.sent if s.kind == "thread" and s.place.community_id == place.community_id
    ]


def notices(port: RecordingPort, member: Actor) -> list:
    return [s for s in port.sent if s.kind == "notice" and s.title == member.id]


# Three zones, each walked across its spring DST change (New York 8 March, Berlin 29 March,
# Sydney 5 April 2026: Sydney's clocks go back).
WALKS = [
    ("America/New_York", date(2026, 3, 3)),
    ("Europe/Berlin", date(2026, 3, 20)),
    ("Australia/Sydney", date(2026, 3, 20)),
]


@pytest.mark.parametrize(("zone", "start"), WALKS, ids=[z for z, _ in WALKS])
async def test_21_days_post_once_a_day_at_local_time_across_dst_and_a_restart(
    make_app, shipped, clock, port, zone, start
):
    app = await make_app(content=shipped)
    app.ports.attach("test", port)
    await say(app, f"timezone {zone}", MODERATOR)
    started = await say(app, f"challenge start allyship-21 {start} 08:30", MODERATOR)
    assert "Challenge started" in started.text, started.text
    tz = ZoneInfo(zone)

    midnight = datetime.min.time()
    await run_until(
        app, clock, datetime.combine(start + timedelta(days=10), midnight, tz).astimezone(UTC)
    )
    assert len(threads(port)) == 10
    await app.close()  # a restart in the middle: the same store, a new app
    app = await make_app(content=shipped)
    app.ports.attach("test", port)
    await run_until(
        app, clock, datetime.combine(start + timedelta(days=40), midnight, tz).astimezone(UTC)
    )

    posted = threads(port)
    assert [t.title.split(":")[0] for t in posted] == [f"Day {n} of 21" for n in range(1, 22)]
    local = [t.at.astimezone(tz) for t in posted]
    assert [d.date() for d in local] == [start + timedelta(days=n) for n in range(21)]
    assert {d.strftime("%H:%M") for d in local} == {"08:30"}  # DST never moved a day
    assert len({t.key for t in posted}) == 21
    first = to_plain(posted[0].text)
    assert "About 5 minutes:" in first and "About 30 minutes:" in first
    assert "For this thread:" in first and "Sources:" in first


async def test_two_communities_walk_independently(make_app, shipped, clock, port):
    app = await make_app(content=shipped)
    app.ports.attach("test", port)
    other = Place("test", "c:two", "r:two")
    await say(app, "challenge start allyship-21 2026-03-03", MODERATOR)
    await say(app, "challenge start wake-up-prep 2026-03-05 18:00", MODERATOR, other)
    await run_until(app, clock, datetime(2026, 4, 1, tzinfo=UTC))
    assert len(threads(port)) == 21
    prep = threads(port, other)
    assert [t.title for t in prep][-1] == "Day 7 of 7: Start the book club"
    assert "bookclub start the-wake-up" in prep[-1].text


async def test_a_member_who_joins_on_day_5_sees_day_5_and_the_days_before_never_day_6(
    make_app, shipped, clock, port
):
    app = await make_app(content=shipped)
    app.ports.attach("test", port)
    await say(app, "challenge start allyship-21 2026-03-03 09:00", MODERATOR)
    await run_until(app, clock, datetime(2026, 3, 7, 12, tzinfo=UTC))  # day 5, Sat 7 March
    member = MEMBERS[0]
    assert "Welcome" in (await say(app, "challenge join", member)).text
    today = to_plain((await say(app, "challenge today", member)).text)
    assert today.startswith("Day 5 of 21: Mistakes are part of it"), today
    for n in range(1, 5):
        opened = to_plain((await say(app, f"challenge day {n}", member)).text)
        assert opened.startswith(f"Day {n} of 21"), opened
    refused = to_plain((await say(app, "challenge day 6", member)).text)
    assert "Day 6 has not opened yet" in refused and "Day 6 of 21" not in refused
    assert "Sun 08 Mar 2026, 09:00" in refused  # when it opens, in the community's zone

    done = await say(app, "challenge done I stayed quiet once; not today", member)
    assert "Checked in for day 5" in done.text and done.private
    progress = to_plain((await say(app, "challenge progress", member)).text)
    assert "You joined on day 5" in progress and "Checked in: 5." in progress
    journal = to_plain((await say(app, "journal", member)).text)
    assert "I stayed quiet once; not today" in journal


async def test_a_pause_shifts_every_later_day(make_app, shipped, clock, port):
    app = await make_app(content=shipped)
    app.ports.attach("test", port)
    await say(app, "challenge start allyship-21 2026-03-03 09:00", MODERATOR)
    await run_until(app, clock, datetime(2026, 3, 5, 12, tzinfo=UTC))  # day 3 posted
    assert "Paused" in (await say(app, "challenge pause", MODERATOR)).text
    await run_until(app, clock, datetime(2026, 3, 9, 12, tzinfo=UTC))  # four days later
    assert len(threads(port)) == 3  # nothing posted while paused
    resumed = await say(app, "challenge resume", MODERATOR)
    assert "moved 4 days later" in resumed.text, resumed.text
    await run_until(app, clock, datetime(2026, 4, 30, tzinfo=UTC))
    days = [t.at.date() for t in threads(port)]
    assert len(days) == 21
    assert days[3] == date(2026, 3, 10)  # day 4 was due 6 March; 4 days on
    assert days[-1] == date(2026, 3, 27)  # day 21 was due 23 March


async def test_a_nudge_at_most_once_per_missed_day_and_reviews_on_n_plus_3_and_10(
    make_app, shipped, clock, port
):
    app = await make_app(content=shipped)
    app.ports.attach("test", port)
    await say(app, "challenge start allyship-21 2026-03-03 09:00", MODERATOR)
    member, quiet = MEMBERS[0], MEMBERS[1]
    for actor in (member, quiet):
        await say(app, "challenge join", actor)
    await say(app, "challenge remind on", member)  # quiet never opts in
    await say(app, "challenge review on", member)

    # Day 1 (3 March): checked in. Day 2: missed. Day 3: checked in.
    await run_until(app, clock, datetime(2026, 3, 3, 10, tzinfo=UTC))
    await say(app, "challenge done", member)
    await run_until(app, clock, datetime(2026, 3, 5, 10, tzinfo=UTC))
    await say(app, "challenge done", member)
    await run_until(app, clock, datetime(2026, 3, 5, 23, tzinfo=UTC))
    nudges = [n for n in notices(port, member) if "is open whenever" in n.text]
    assert [n.at.date() for n in nudges] == [date(2026, 3, 4)]  # day 2 only, once
    assert "challenge day 2" in nudges[0].text

    # A restart, and the scheduler asked again: still one nudge for day 2.
    await app.close()
    app = await make_app(content=shipped)
    app.ports.attach("test", port)
    await app.scheduler.run_due()
    await run_until(app, clock, datetime(2026, 3, 30, tzinfo=UTC))
    assert notices(port, quiet) == []
    reviews = [n for n in notices(port, member) if "mean to you?" in n.text]
    # Day 1's term (allyship) comes back on day 4 (6 March) and day 11 (13 March).
    asked = {(n.at.date(), "allyship" in n.text.split("\n")[1]) for n in reviews}
    assert (date(2026, 3, 6), True) in asked and (date(2026, 3, 13), True) in asked
    on_day_4 = next(n for n in reviews if n.at.date() == date(2026, 3, 6))
    assert "`define allyship`" in on_day_4.text
    days = [n.at.date() for n in notices(port, member) if "is open whenever" in n.text]
    assert len(days) == len(set(days))  # never two nudges on one day
    assert date(2026, 3, 3) not in days and date(2026, 3, 5) not in days  # checked-in days


async def test_four_check_ins_or_joins_show_no_count_and_five_do(make_app, shipped, clock, port):
    app = await make_app(content=shipped)
    app.ports.attach("test", port)
    await say(app, "challenge start allyship-21 2026-03-03 09:00", MODERATOR)
    await run_until(app, clock, datetime(2026, 3, 4, 12, tzinfo=UTC))  # day 2
    for count, actor in enumerate(MEMBERS, 1):
        await say(app, "challenge join", actor)
        status = to_plain((await say(app, "challenge", MEMBERS[5])).text)
        if count < 5:  # how many joined is a count too: the first few are not singled out
            assert "Fewer than five joined." in status and f"{count} joined" not in status
        else:
            assert f"{count} joined." in status, status
    for actor in MEMBERS[:4]:
        await say(app, "challenge done", actor)
    status = to_plain((await say(app, "challenge", MEMBERS[5])).text)
    assert "6 joined" in status and "day 2:" not in status and "Check-ins:" not in status
    await say(app, "challenge done", MEMBERS[4])
    status = to_plain((await say(app, "challenge", MEMBERS[5])).text)
    assert "Check-ins: day 2: 5." in status, status
    assert not any(a.display_name in status or a.id in status for a in MEMBERS)


async def test_mydata_shows_a_members_challenge_and_forget_me_removes_it(
    make_app, shipped, clock, port
):
    app = await make_app(content=shipped)
    app.ports.attach("test", port)
    await say(app, "challenge start allyship-21 2026-03-03 09:00", MODERATOR)
    await run_until(app, clock, datetime(2026, 3, 4, 12, tzinfo=UTC))
    member = MEMBERS[0]
    await say(app, "challenge join", member)
    await say(app, "challenge done", member)
    mine = to_plain((await say(app, "mydata", member)).text)
    assert "21 days of allyship as a practice" in mine and "checked in: 2" in mine, mine
    await say(app, "forget me confirm", member)
    mine = to_plain((await say(app, "mydata", member)).text)
    assert "21 days of allyship" not in mine
    refused = to_plain((await say(app, "challenge progress", member)).text)
    assert "not joined" in refused


async def test_bad_input_changes_nothing(make_app, shipped, clock, port):
    app = await make_app(content=shipped)
    app.ports.attach("test", port)
    assert "No challenge runs here" in (await say(app, "challenge", MEMBERS[0])).text
    assert (
        "no path by that name"
        in (await say(app, "challenge start nope 2026-03-03", MODERATOR)).text
    )
    assert "not a date" in (await say(app, "challenge start allyship-21 tomorrow", MODERATOR)).text
    assert (
        "has passed" in (await say(app, "challenge start allyship-21 2026-03-01", MODERATOR)).text
    )
    assert (
        "moderators"
        in (await say(app, "challenge start allyship-21 2026-03-03", MEMBERS[0])).text.lower()
    )
    assert await app.store.challenges.running("test", PLACE.community_id) is None
    await say(app, "challenge start allyship-21 2026-03-03", MODERATOR)
    again = await say(app, "challenge start wake-up-prep 2026-03-04", MODERATOR)
    assert "already runs here" in again.text
    assert "not paused" in (await say(app, "challenge resume", MODERATOR)).text
    assert "has not started yet" in (await say(app, "challenge today", MEMBERS[0])).text


@pytest.mark.parametrize("mode", ["kill-before-send", "kill-after-send"])
async def test_a_process_killed_mid_post_opens_the_day_once(make_app, store_target, tmp_path, mode):
    app = await make_app()  # the small fixture content: the three-day path
    started = await say(app, "challenge start three-days 2026-03-02 13:00", MODERATOR)
    assert "Challenge started" in started.text, started.text
    await app.close()
    journal = tmp_path / "journal.jsonl"
    journal.touch()

    assert worker(store_target, journal, "2026-03-02T13:00:05+00:00", mode) == -signal.SIGKILL
    assert worker(store_target, journal, "2026-03-02T13:01:06+00:00", "normal") == 0
    assert worker(store_target, journal, "2026-03-02T13:02:00+00:00", "normal") == 0
    posts = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [p["text"].split("\n")[0] for p in posts] == ["Day 1 of 3: Begin"]


def test_a_days_private_round_comes_that_evening_never_in_the_night():
    def at(hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 3, 3, hour, minute)

    assert tick_after(at(9)) == at(17)  # eight hours on
    assert tick_after(at(18)) == at(23)  # not at two in the morning
    assert tick_after(at(22, 30)) == at(23, 30)  # at least an hour to check in


async def test_nudges_and_review_questions_are_separate_opt_ins(make_app, shipped, clock, port):
    app = await make_app(content=shipped)
    app.ports.attach("test", port)
    await say(app, "challenge start allyship-21 2026-03-03 09:00", MODERATOR)
    nudged, reviewed = MEMBERS[0], MEMBERS[1]
    for actor in (nudged, reviewed):
        await say(app, "challenge join", actor)
    assert "Reminders on" in (await say(app, "challenge remind on", nudged)).text
    assert "Review questions on" in (await say(app, "challenge review on", reviewed)).text
    await run_until(app, clock, datetime(2026, 3, 15, tzinfo=UTC))

    def said(member: Actor, words: str) -> list:
        return [n for n in notices(port, member) if words in n.text]

    assert said(nudged, "is open whenever") and not said(nudged, "mean to you?")
    assert said(reviewed, "mean to you?") and not said(reviewed, "is open whenever")
    progress = to_plain((await say(app, "challenge progress", reviewed)).text)
    assert "reminders are off" in progress and "review questions are on" in progress
    await say(app, "challenge review off", reviewed)
    before = len(said(reviewed, "mean to you?"))
    await run_until(app, clock, datetime(2026, 3, 30, tzinfo=UTC))
    assert len(said(reviewed, "mean to you?")) == before


async def test_members_who_had_reminders_on_keep_review_questions_after_the_upgrade(
    store_kind, database_url, db_path, clock
):
    """`challenge remind on` used to turn on the nudges and the review questions together;
    the migration that splits them keeps both on for whoever had it on."""
    if store_kind == "sqlite":
        old = Store(await Database.open(db_path, upto=10))
    else:
        assert database_url is not None
        old = Store(await PgDatabase.open(database_url, upto=7))
    challenge_id = await old.challenges.add(
        "c:one", "test", "r:one", "allyship-21", "21 days", 21, "UTC", "u:mod", clock.now()
    )
    assert challenge_id is not None
    for member in ("u:on", "u:off"):
        await old.challenges.join(challenge_id, member, 1, clock.now())
    await old.challenges.set_remind(challenge_id, "u:on", True)
    await old.close()

    store = await Store.open(database_url or db_path)
    try:
        on = await store.challenges.member(challenge_id, "u:on")
        off = await store.challenges.member(challenge_id, "u:off")
        assert on is not None and on.remind and on.review
        assert off is not None and not off.remind and not off.review
    finally:
        await store.close()


async def test_a_member_catches_up_a_missed_day_never_a_later_one(make_app, shipped, clock, port):
    app = await make_app(content=shipped)
    app.ports.attach("test", port)
    await say(app, "challenge start allyship-21 2026-03-03 09:00", MODERATOR)
    await run_until(app, clock, datetime(2026, 3, 3, 12, tzinfo=UTC))  # day 1
    for actor in MEMBERS:
        await say(app, "challenge join", actor)
    await run_until(app, clock, datetime(2026, 3, 6, 12, tzinfo=UTC))  # day 4: 2, 3 missed
    member = MEMBERS[0]
    before = to_plain((await say(app, "challenge progress", member)).text)
    assert "Open to catch up: days 1, 2, 3" in before and "challenge catchup 1" in before

    caught = await say(app, "challenge catchup 2 I read it on the train", member)
    assert "Checked in for day 2" in caught.text and caught.private
    again = await say(app, "challenge catchup 2", member)
    assert "already checked in for day 2" in again.text
    for line in ("challenge catchup 5", "challenge catchup 30", "challenge catchup 0"):
        refused = to_plain((await say(app, line, member)).text)
        assert "Checked in" not in refused, (line, refused)
    assert "Day 5 has not opened yet" in (await say(app, "challenge catchup 5", member)).text
    assert "21 days" in (await say(app, "challenge catchup 30", member)).text
    assert "Checked in" not in (await say(app, "challenge catchup two", member)).text
    clock.advance(timedelta(minutes=1))  # past the flood limit, well before the day's round
    progress = to_plain((await say(app, "challenge progress", member)).text)
    assert "Checked in: 2." in progress and "days 1, 3;" in progress, progress
    journal = to_plain((await say(app, "journal", member)).text)
    assert "I read it on the train" in journal

    # Counts per day include catch-ups: four caught up show nothing, five show five.
    for actor in MEMBERS[1:4]:
        await say(app, "challenge catchup 2", actor)
    status = to_plain((await say(app, "challenge", member)).text)
    assert "day 2:" not in status
    await say(app, "challenge catchup 2", MEMBERS[4])
    assert "day 2: 5" in to_plain((await say(app, "challenge", member)).text)
    outsider = Actor("u:outsider", "Outsider")
    assert "not joined" in (await say(app, "challenge catchup 2", outsider)).text


async def test_while_paused_no_later_day_opens_to_members(make_app, shipped, clock, port):
    """A pause holds the path where it is: the days whose times pass during it have not
    opened (their threads are not posted), so no member can open or check them in."""
    app = await make_app(content=shipped)
    app.ports.attach("test", port)
    await say(app, "challenge start allyship-21 2026-03-03 09:00", MODERATOR)
    member = MEMBERS[0]
    await say(app, "challenge join", member)
    await run_until(app, clock, datetime(2026, 3, 5, 12, tzinfo=UTC))  # day 3 posted
    await say(app, "challenge pause", MODERATOR)
    await run_until(app, clock, datetime(2026, 3, 9, 12, tzinfo=UTC))  # day 7 would be due
    assert len(threads(port)) == 3
    status = to_plain((await say(app, "challenge", member)).text)
    assert "day 3 of 21, paused" in status, status
    assert "not opened yet" in (await say(app, "challenge day 5", member)).text
    assert "not opened yet" in (await say(app, "challenge catchup 4", member)).text
    today = to_plain((await say(app, "challenge today", member)).text)
    assert today.startswith("Day 3 of 21"), today


async def test_a_challenge_paused_before_it_starts_says_so(make_app, shipped, clock, port):
    app = await make_app(content=shipped)
    app.ports.attach("test", port)
    await say(app, "challenge start allyship-21 2026-03-03 09:00", MODERATOR)
    await say(app, "challenge pause", MODERATOR)
    status = to_plain((await say(app, "challenge", MEMBERS[0])).text)
    today = to_plain((await say(app, "challenge today", MEMBERS[0])).text)
    assert "None" not in status and "paused" in status, status
    assert "None" not in today and "not started yet" in today, today


async def test_a_start_date_too_far_ahead_is_refused(make_app, shipped, clock, port):
    app = await make_app(content=shipped)
    for far in ("9999-12-25", "9999-12-31 23:59"):
        refused = await say(app, f"challenge start allyship-21 {far}", MODERATOR)
        assert "Challenge started" not in refused.text and "error" not in refused.text.lower()
        assert "too far" in refused.text, refused.text
    assert await app.store.challenges.running("test", PLACE.community_id) is None


async def test_after_leaving_a_members_check_ins_still_show_in_mydata(
    make_app, shipped, clock, port
):
    """`challenge leave` says the check-ins stay in `mydata` until `forget me`: they do."""
    app = await make_app(content=shipped)
    await say(app, "challenge start allyship-21 2026-03-03 09:00", MODERATOR)
    await run_until(app, clock, datetime(2026, 3, 4, 12, tzinfo=UTC))
    member = MEMBERS[0]
    await say(app, "challenge join", member)
    await say(app, "challenge done", member)
    left = to_plain((await say(app, "challenge leave", member)).text)
    assert "stay in mydata" in left, left
    mine = to_plain((await say(app, "mydata", member)).text)
    assert "21 days of allyship as a practice" in mine and "checked in: 2" in mine, mine
    assert "left" in mine, mine
    await say(app, "forget me confirm", member)
    assert "21 days of allyship" not in to_plain((await say(app, "mydata", member)).text)
