"""`companion db migrate --to postgresql://...`: a SQLite database made by the fixtures moves
to PostgreSQL whole, and Companion carries on there."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from companion.app import build
from companion.config import Settings
from tests.conftest import MEMBER, MODERATOR, say
from tests.core.schedule_helpers import run_until
from tests.core.test_bookclub import six_chapter_club
from tests.fakes import RecordingPort

ROOT = Path(__file__).resolve().parents[2]
LINK = "https://www.example.org/listening-talk/"


def migrate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "companion.cli", "db", "migrate", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def fill(app, clock) -> None:
    """A bit of everything a community leaves in the database."""
    port = RecordingPort(clock=clock)
    app.ports.attach("test", port)
    await six_chapter_club(app)
    await say(app, "schedule reflection 13:00", MODERATOR)
    await say(app, "reflect answer I noticed who spoke first.")
    await say(app, f"resource suggest {LINK} A talk on listening")
    await say(app, "suggest prompt Where did you take a risk for someone else?")
    await say(app, "ask anonymously How do I speak up without centring myself?")
    await say(app, "approve 1", MODERATOR)
    await say(app, "reject 2 We have one like it already", MODERATOR)
    await say(app, "prompt add Who is missing from this room, and why? #inclusion", MODERATOR)
    await say(app, "bookclub progress 2")
    await run_until(app, clock, clock.now() + timedelta(days=9))


async def test_a_fixture_database_moves_to_postgresql_whole(postgres, tmp_path, clock, small):
    sqlite_file = tmp_path / "companion.db"
    app = await build(Settings(db_path=sqlite_file), clock=clock, content=small)
    await fill(app, clock)
    before = {
        line: (await say(app, line, who)).text
        for line, who in (
            ("schedule list", MEMBER),
            ("journal", MEMBER),
            ("mydata", MEMBER),
            ("audit", MODERATOR),
            ("bookclub schedule", MEMBER),
            ("resources listening", MEMBER),
        )
    }
    counts = {
        str(r[0]): None
        for r in await app.store.db.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    }
    for table in counts:
        counts[table] = (await app.store.db.fetchone(f'SELECT COUNT(*) FROM "{table}"'))[0]  # noqa: S608
    await app.close()

    url = postgres.fresh_database()
    done = migrate("--db", str(sqlite_file), "--to", url)
    assert done.returncode == 0, done.stderr
    for table, count in counts.items():
        assert f"{table} " in done.stdout and f" {count}\n" in done.stdout
    assert counts["schedule"] >= 13 and counts["occurrence"] >= 2 and counts["journal"] == 1

    moved = await build(Settings(db_path=sqlite_file, database_url=url), clock=clock, content=small)
    for line, text in before.items():
        who = MODERATOR if line == "audit" else MEMBER
        assert (await say(moved, line, who)).text == text, line
    for table, count in counts.items():
        assert (await moved.store.db.fetchone(f'SELECT COUNT(*) FROM "{table}"'))[0] == count  # noqa: S608
    copied_max = (await moved.store.db.fetchone("SELECT MAX(id) FROM prompt"))[0]
    added = await say(moved, "prompt add One more question for the group, please? #x", MODERATOR)
    assert f"Added prompt `{copied_max + 1}`" in added.text  # the counter moved past the copy
    await moved.close()

    again = migrate("--db", str(sqlite_file), "--to", url)
    assert again.returncode == 2 and "not empty" in again.stderr  # never into a used database
