"""One unit of work spans repositories: a failure part-way leaves nothing half-made."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from companion.dispatch import APOLOGY
from companion.store import Store
from companion.store.bookclubs import BookClubRepo
from companion.store.members import MemberRepo
from companion.store.schedules import ScheduleRepo
from tests.conftest import MEMBER, MODERATOR, PLACE, say
from tests.core.test_bookclub import six_chapter_club
from tests.fakes import RecordingPort

ROOT = Path(__file__).resolve().parents[2]


class Injected(RuntimeError):
    """The failure a test injects into the second write of a unit."""


async def test_a_unit_commits_together_and_rolls_back_together(store_target):
    store = await Store.open(store_target)
    async with store.unit_of_work() as uow:
        await uow.kv.set("a", "1")
        await uow.communities.set_timezone("c:one", "Europe/Berlin")
        assert await uow.kv.get("a") == "1"  # the unit reads its own writes
    with pytest.raises(Injected):
        async with store.unit_of_work() as uow:
            await uow.kv.set("b", "2")
            raise Injected
    assert await store.kv.get("a") == "1"
    assert await store.kv.get("b") is None
    assert await store.communities.timezones() == {"c:one": "Europe/Berlin"}
    await store.close()


async def test_a_unit_refuses_the_stores_own_repositories_and_use_after_it_ends(store_target):
    store = await Store.open(store_target)
    async with store.unit_of_work() as uow:
        with pytest.raises(RuntimeError, match="use its repositories"):
            await store.kv.get("a")  # would otherwise wait for the unit forever
        kept = uow
    with pytest.raises(RuntimeError, match="has ended"):
        await kept.kv.get("a")
    assert await store.kv.get("a") is None  # the store works again after the unit
    await store.close()


async def test_a_repository_transaction_inside_a_unit_is_a_savepoint(store_target):
    store = await Store.open(store_target)
    with pytest.raises(Injected):
        async with store.unit_of_work() as uow:
            await uow.kv.set("first", "1")
            async with uow.schedules.db.transaction() as conn:
                await conn.execute("INSERT INTO kv (key, value) VALUES ('inner', 'x')")
            raise Injected
    assert await store.kv.get("first") is None and await store.kv.get("inner") is None
    await store.close()


def fail_in(monkeypatch: pytest.MonkeyPatch, cls: type, name: str) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise Injected(f"{cls.__name__}.{name} failed")

    monkeypatch.setattr(cls, name, broken)


async def schedules_by_status(app) -> dict[str, int]:
    counts: dict[str, int] = {}
    rows = await app.store.db.fetchall("SELECT status, count(*) FROM schedule GROUP BY status")
    for status, count in rows:
        counts[status] = count
    return counts


async def test_a_club_whose_own_row_fails_leaves_no_chapter_schedules(app, monkeypatch):
    await say(app, 'bookclub plan create "Six Small Chapters" 6', MODERATOR)
    fail_in(monkeypatch, BookClubRepo, "add_club")  # after twelve schedules were written
    reply = await say(app, "bookclub start six-small-chapters 2026-03-10", MODERATOR)
    assert "Book club started" not in reply.text
    assert await schedules_by_status(app) == {}
    assert await app.store.bookclubs.club_in_room(PLACE.platform, PLACE.room_id) is None


@pytest.mark.parametrize(
    ("command", "cls", "method"),
    [
        ("bookclub pause", BookClubRepo, "set_status"),
        ("bookclub end", BookClubRepo, "set_status"),
        ("bookclub skip", BookClubRepo, "update_sessions"),
    ],
)
async def test_pause_end_and_skip_are_all_or_nothing(app, monkeypatch, command, cls, method):
    await six_chapter_club(app)
    before = await schedules_by_status(app)
    club = await app.store.bookclubs.club_in_room(PLACE.platform, PLACE.room_id)
    fail_in(monkeypatch, cls, method)
    reply = await say(app, command, MODERATOR)
    assert reply.text == APOLOGY
    assert await schedules_by_status(app) == before == {"active": 12}
    assert await app.store.bookclubs.club_in_room(PLACE.platform, PLACE.room_id) == club


async def test_resume_is_all_or_nothing(app, clock, monkeypatch):
    await six_chapter_club(app)
    await say(app, "bookclub pause", MODERATOR)
    before = await schedules_by_status(app)
    sessions = await app.store.bookclubs.sessions(1)
    clock.advance(timedelta(days=2))
    fail_in(monkeypatch, BookClubRepo, "update_sessions")  # after the new schedules
    assert (await say(app, "bookclub resume", MODERATOR)).text == APOLOGY
    assert await schedules_by_status(app) == before == {"paused": 12}
    assert await app.store.bookclubs.sessions(1) == sessions
    club = await app.store.bookclubs.club_in_room(PLACE.platform, PLACE.room_id)
    assert club is not None and club.status == "paused"
    monkeypatch.undo()
    assert "Resumed" in (await say(app, "bookclub resume", MODERATOR)).text


KILLED_START = """
import asyncio, os, signal, sys
from pathlib import Path
from companion import content
from companion.app import build
from companion.config import Settings
from companion.store.schedules import ScheduleRepo
from tests.conftest import FIXTURE_CONTENT, MODERATOR, START, say
from tests.fakes import FakeClock

calls = 0
original = ScheduleRepo.add

async def add_then_die(self, new):
    global calls
    calls += 1
    if calls == 3:  # two schedules are written inside the unit: die before the rest
        os.kill(os.getpid(), signal.SIGKILL)
    return await original(self, new)

async def main():
    target = sys.argv[1]
    url = target if target.startswith("postgresql://") else None
    settings = Settings(db_path=Path(sys.argv[2]), database_url=url)
    app = await build(settings, clock=FakeClock(START), content=content.load(FIXTURE_CONTENT))
    ScheduleRepo.add = add_then_die
    await say(app, "bookclub start the-wake-up 2026-03-10", MODERATOR)

asyncio.run(main())
"""


def start_a_club_and_die(store_target: Path | str, db_path: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILLED_START), str(store_target), str(db_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    return done.returncode


async def test_a_process_killed_inside_a_unit_leaves_nothing(make_app, store_target, db_path):
    app = await make_app()
    await app.close()
    start_a_club_and_die(store_target, db_path)
    again = await make_app()
    assert await schedules_by_status(again) == {}
    assert await again.store.bookclubs.club_in_room(PLACE.platform, PLACE.room_id) is None
    started = await say(again, "bookclub start the-wake-up 2026-03-10", MODERATOR)
    assert "Book club started" in started.text


async def test_approving_a_question_whose_post_cannot_be_written_leaves_it_pending(
    app, monkeypatch
):
    await say(app, "ask anonymously How do I speak up without centring myself?")
    fail_in(monkeypatch, ScheduleRepo, "add")  # the post, after the decision was written
    assert (await say(app, "approve 1", MODERATOR)).text == APOLOGY
    [item] = await app.store.contributions.pending(PLACE.community_id)
    assert item.id == 1 and item.status == "pending"
    assert await app.store.contributions.audit(PLACE.community_id) == []
    assert await schedules_by_status(app) == {}
    monkeypatch.undo()
    assert "approved" in (await say(app, "approve 1", MODERATOR)).text


async def test_approving_whose_notice_cannot_be_written_adds_nothing(app, monkeypatch):
    await say(app, "suggest term solidarity Standing with others, in deeds as well as words.")
    fail_in(monkeypatch, MemberRepo, "add_notice")  # after the term and the audit row
    assert (await say(app, "approve 1", MODERATOR)).text == APOLOGY
    assert await app.store.contributions.terms(PLACE.community_id) == []
    assert await app.store.contributions.count_pending(PLACE.community_id) == 1
    assert await app.store.members.notices(MEMBER.id) == []


async def test_an_approved_question_is_posted_once_even_across_a_restart(make_app, clock):
    app = await make_app()
    await say(app, "ask anonymously How do I speak up without centring myself?")
    await say(app, "approve 1", MODERATOR)
    await app.close()  # stopped before the scheduler sent it
    port = RecordingPort(clock=clock)
    again = await make_app()
    again.ports.attach(PLACE.platform, port)
    await again.scheduler.run_due()
    clock.advance(timedelta(hours=1))
    await again.scheduler.run_due()
    [post] = port.sent
    assert post.place == PLACE and "How do I speak up" in post.text
