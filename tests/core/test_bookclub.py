"""A whole six-chapter book club, start to end, with the injected clock."""

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from companion.events import Actor
from companion_adapters.console import ConsoleAdapter
from tests.conftest import MEMBER, MODERATOR, PLACE, say
from tests.core.schedule_helpers import run_until
from tests.fakes import RecordingPort

BERLIN = ZoneInfo("Europe/Berlin")
OTHER = Actor("u:other", "Other member")


async def six_chapter_club(app) -> None:
    await say(app, "timezone Europe/Berlin", MODERATOR)
    await say(app, 'bookclub plan create "Six Small Chapters" 6', MODERATOR)
    for chapter in range(1, 7):
        await say(
            app,
            f"bookclub plan prompt six-small-chapters {chapter} "
            f"What in chapter {chapter} asked something of you?",
            MODERATOR,
        )
    reply = await say(
        app, "bookclub start six-small-chapters 2026-03-03 weekly thu 19:00", MODERATOR
    )
    assert "Book club started" in reply.text, reply.text


@pytest.fixture
def port(clock):
    return RecordingPort(clock=clock)


async def test_a_whole_club_from_start_to_end(make_app, port, clock):
    app = await make_app()
    app.ports.attach("test", port)
    await six_chapter_club(app)

    # Two chapters, then a restart in the middle of the club.
    await run_until(app, clock, datetime(2026, 3, 13, tzinfo=UTC))
    threads = [s for s in port.sent if s.kind == "thread"]
    assert [t.title for t in threads] == [
        "Six Small Chapters: chapter 1",
        "Six Small Chapters: chapter 2",
    ]
    await app.close()
    app = await make_app()
    app.ports.attach("test", port)

    # Pause for a week after chapter 2: the rest moves 7 days on.
    await say(app, "bookclub pause", MODERATOR)
    clock.set(datetime(2026, 3, 20, 12, tzinfo=UTC))
    assert "moved 7 days later" in (await say(app, "bookclub resume", MODERATOR)).text
    await run_until(app, clock, datetime(2026, 5, 1, tzinfo=UTC))

    threads = [s for s in port.sent if s.kind == "thread"]
    reminders = [s for s in port.sent if s.kind == "post"]
    local = [t.at.astimezone(BERLIN).strftime("%a %Y-%m-%d %H:%M") for t in threads]
    assert local == [
        "Thu 2026-03-05 19:00",
        "Thu 2026-03-12 19:00",  # before the pause
        "Thu 2026-03-26 19:00",
        "Thu 2026-04-02 19:00",  # 19 and 26 March moved a week
        "Thu 2026-04-09 19:00",
        "Thu 2026-04-16 19:00",  # 19:00 local across the DST change
    ]
    assert [t.title.rsplit(" ", 1)[1] for t in threads] == ["1", "2", "3", "4", "5", "6"]
    assert len({s.key for s in port.sent}) == len(port.sent)  # nothing twice
    assert len(reminders) == 6
    for reminder, thread in zip(reminders, threads, strict=True):
        assert thread.at - reminder.at == timedelta(days=1)
    assert "chapter 4 asked something" in threads[3].text
    assert "chapter 5" not in threads[3].text  # a thread shows only its own chapter
    assert "Every chapter has been discussed" in (await say(app, "bookclub")).text


async def test_progress_is_private_and_prompts_are_spoiler_safe(app):
    await six_chapter_club(app)
    refused = await say(app, "bookclub prompts")
    assert "how far you have read first" in refused.text and refused.private
    assert "This book has 6 chapters" in (await say(app, "bookclub progress 7")).text
    noted = await say(app, "bookclub progress 2")
    assert noted.private and "Only you can see this" in noted.text
    await say(app, "bookclub progress 5", OTHER)
    mine = (await say(app, "bookclub prompts")).text
    assert "chapter 2 asked" in mine and "chapter 3" not in mine
    theirs = (await say(app, "bookclub prompts", OTHER)).text
    assert "chapter 5 asked" in theirs and "chapter 6" not in theirs


async def test_status_counts_members_without_naming_them(app, clock):
    await six_chapter_club(app)
    await say(app, "bookclub progress 1")
    await say(app, "bookclub progress 3", OTHER)
    status = (await say(app, "bookclub")).text
    # Two readers are too few to show: as for challenges, counts show from five on.
    assert "Fewer than five members have marked chapter 1 done" in status
    assert "2 members" not in status
    assert MEMBER.display_name not in status and OTHER.display_name not in status
    assert "Next discussion: chapter 1, Thu 05 Mar 2026, 19:00 Europe/Berlin" in status
    for n in range(3):
        await say(app, "bookclub progress 2", Actor(f"u:reader{n}", f"Reader {n}"))
    status = (await say(app, "bookclub")).text
    assert "5 members have marked chapter 1 done" in status


async def test_skip_and_end(app, port, clock):
    app.ports.attach("test", port)
    await six_chapter_club(app)
    assert "Skipped the chapter 1" in (await say(app, "bookclub skip", MODERATOR)).text
    await run_until(app, clock, datetime(2026, 3, 13, tzinfo=UTC))
    assert [s.title for s in port.sent if s.kind == "thread"] == ["Six Small Chapters: chapter 2"]
    assert "Ended" in (await say(app, "bookclub end", MODERATOR)).text
    await run_until(app, clock, datetime(2026, 5, 1, tzinfo=UTC))
    assert len([s for s in port.sent if s.kind == "thread"]) == 1
    assert "no book club" in (await say(app, "bookclub")).text


@pytest.mark.parametrize(
    ("line", "actor", "expected"),
    [
        ("bookclub start no-such-book 2026-03-10", MODERATOR, "no reading plan"),
        ("bookclub start six-small-chapters 2026-03-01", MODERATOR, "start date has passed"),
        ("bookclub start six-small-chapters 2026-03-10 chapters 9", MODERATOR, "has 6 chapters"),
        ("bookclub start six-small-chapters 2026-03-10 hourly", MODERATOR, "Give the pace"),
        ("bookclub start six-small-chapters 2026-03-10", MEMBER, "Only moderators"),
        ("bookclub end", MEMBER, "Only moderators"),
        ("bookclub progress 999", MEMBER, "at most 200"),
        ("bookclub progress 7", MEMBER, "no book club"),
    ],
)
async def test_bad_input_changes_nothing(app, line, actor, expected):
    await say(app, 'bookclub plan create "Six Small Chapters" 6', MODERATOR)
    assert expected in (await say(app, line, actor)).text
    assert await app.store.bookclubs.club_in_room(PLACE.platform, PLACE.room_id) is None
    assert await app.store.schedules.for_community(PLACE.community_id) == []


async def test_one_club_per_channel_several_per_community(app):
    await six_chapter_club(app)
    again = await say(app, "bookclub start six-small-chapters 2026-03-10", MODERATOR)
    assert "already has a book club" in again.text
    other_room = PLACE._replace(room_id="r:other")
    started = await say(app, "bookclub start the-wake-up 2026-03-10", MODERATOR, other_room)
    assert "11 chapters" in started.text and "if your copy has more" in started.text
    listed = (await say(app, "bookclub schedule", MEMBER, other_room)).text
    assert "- chapter 10: Disrupt the Pattern · " in listed  # the one verified title
    assert "- chapter 11 · " in listed  # no invented title


async def test_the_club_in_the_terminal(app, clock):
    out = io.StringIO()
    console = ConsoleAdapter(app.gateway, stdout=out, interactive=False)
    app.ports.attach("console", console)
    for line in (
        "timezone Europe/Berlin",
        "bookclub start the-wake-up 2026-03-03 every 7 days 18:30",
        "bookclub progress 1",
        "bookclub prompts",
    ):
        await console.handle(line)
    await run_until(app, clock, datetime(2026, 3, 18, tzinfo=UTC))
    text = out.getvalue()
    assert "[new discussion thread: The Wake Up: Closing the Gap" in text
    assert "chapter 1]" in text and "chapter 2]" in text and "chapter 3]" not in text
    assert "Reminder: the discussion of chapter 2" in text


async def test_skip_works_when_a_reminder_was_already_too_late(app):
    # Reading starts today; chapter 1 opens tomorrow 10:00, so today's 10:00 reminder is past.
    reply = await say(app, "bookclub start the-wake-up 2026-03-02 every 1 day 10:00", MODERATOR)
    assert "Book club started" in reply.text
    assert "Skipped the chapter 1" in (await say(app, "bookclub skip", MODERATOR)).text
    assert "Ended" in (await say(app, "bookclub end", MODERATOR)).text


async def test_resuming_after_the_hour_of_a_discussion_due_on_the_pause_day(app, port, clock):
    """Paused at 18:00 before the 19:00 discussion, resumed the next evening after 19:00:
    one day's shift would put it in the past, so it moves a day more (this was an apology:
    the scheduler refused the past date with a ValueError)."""
    app.ports.attach("test", port)
    await six_chapter_club(app)  # chapter 1: Thu 05 Mar, 19:00 Berlin
    clock.set(datetime(2026, 3, 5, 17, tzinfo=UTC))  # 18:00 Berlin
    await say(app, "bookclub pause", MODERATOR)
    clock.set(datetime(2026, 3, 6, 19, 30, tzinfo=UTC))  # Friday, 20:30 Berlin
    resumed = await say(app, "bookclub resume", MODERATOR)
    assert "moved 2 days later" in resumed.text, resumed.text
    listed = (await say(app, "bookclub schedule")).text
    assert "chapter 1 · Sat 07 Mar 2026, 19:00 Europe/Berlin" in listed
    assert "chapter 2 · Sat 14 Mar 2026, 19:00 Europe/Berlin" in listed
    await run_until(app, clock, datetime(2026, 3, 8, tzinfo=UTC))
    assert [s.title for s in port.sent if s.kind == "thread"] == ["Six Small Chapters: chapter 1"]
