"""A community writes its own learning path: the format of content/paths.toml, imported
(`content import`, the exchange the dashboard uses too), validated with errors that name the
file and line, walked by `challenge start` in its own community only, and exported back.
On SQLite and PostgreSQL (make_app runs each test on both), with the shipped content."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest

from companion import exchange
from companion.markup import to_plain
from tests.conftest import MEMBER, MODERATOR, PLACE, say
from tests.core.schedule_helpers import run_until
from tests.fakes import RecordingPort

OTHER = PLACE._replace(community_id="c:other", room_id="r:other")
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)

DAY = """
[[path.day]]
number = {n}
title = "Listening first, day {n}"
short = "Before you answer anyone today, ask one more question than usual."
deeper = "Write about a time you spoke before you understood. What would listening change?"
question = "What helps you listen before you answer?"
{sources}
"""


def paths_file(days: list[str], path_id: str = "circle-care") -> str:
    head = f"""# Our circle's own path.
[[path]]
id = "{path_id}"
title = "Care in our circle"
summary = "Two days on listening, in our own words."
"""
    return head + "".join(DAY.format(n=n, sources=sources) for n, sources in enumerate(days, 1))


GOOD = paths_file(
    ['terms = ["allyship", "circle-care"]', 'practices = ["dont-do-the-bare-minimum"]']
)


async def add_own_term(app) -> None:
    """The community's own glossary term "Circle care" (a suggestion a moderator approved)."""
    await say(app, 'suggest term "Circle care" Looking after each other as we learn together.')
    approved = await say(app, "approve 1", MODERATOR)
    assert "pproved" in approved.text, approved.text


@pytest.fixture
def port(clock):
    return RecordingPort(clock=clock)


async def test_a_communitys_own_path_is_walked_only_there(make_app, shipped, clock, port):
    app = await make_app(content=shipped)
    app.ports.attach("test", port)
    await add_own_term(app)
    ids = await exchange.import_paths(
        app.store, shipped, PLACE.community_id, GOOD, "ours.toml", NOW
    )
    assert ids == ["circle-care"]

    listed = to_plain((await say(app, "challenge paths", MEMBER)).text)
    assert "circle-care Care in our circle, 2 days (this community's own)" in listed, listed
    assert "allyship-21" in listed
    elsewhere = to_plain((await say(app, "challenge paths", MEMBER, OTHER)).text)
    assert "circle-care" not in elsewhere and "allyship-21" in elsewhere
    refused = await say(app, "challenge start circle-care 2026-03-03 09:00", MODERATOR, OTHER)
    assert "no path by that name" in refused.text
    assert await app.store.challenges.running("test", OTHER.community_id) is None

    started = await say(app, "challenge start circle-care 2026-03-03 09:00", MODERATOR)
    assert "Challenge started" in started.text and "2 days" in started.text, started.text
    await run_until(app, clock, datetime(2026, 3, 6, tzinfo=UTC))
    posted = [s for s in port.sent if s.kind == "thread"]
    assert [t.title for t in posted] == [
        "Day 1 of 2: Listening first, day 1",
        "Day 2 of 2: Listening first, day 2",
    ]
    first = to_plain(posted[0].text)
    assert "glossary: allyship" in first and "glossary: Circle care" in first, first
    await say(app, "challenge join", MEMBER)
    assert "Listening first, day 1" in to_plain((await say(app, "challenge day 1", MEMBER)).text)


async def test_a_broken_paths_file_names_the_file_and_line_and_changes_nothing(make_app, shipped):
    app = await make_app(content=shipped)
    cases = {
        # day 2's sources: an id nothing ships (line 21 of the file)
        paths_file(['terms = ["allyship"]', 'terms = ["circle-care"]']): (
            "ours.toml:21:",
            'path "circle-care" day 2 field "terms": unknown id "circle-care"',
        ),
        # days 1 and 3: the numbering has a gap
        paths_file(['terms = ["allyship"]']) + DAY.format(n=3, sources='terms = ["allyship"]'): (
            "ours.toml:16:",
            "should be 2",
        ),
        # a shipped path's id
        paths_file(['terms = ["allyship"]'], path_id="allyship-21"): (
            "ours.toml:3:",
            "a shipped path has this id",
        ),
        'id = "loose"\n[[path]]\nid = = "x"\n': ("ours.toml:3:", "not valid TOML"),
        "[[path]]\nid = 3\n": ("ours.toml:2:", 'field "id"'),
    }
    for text, (where, what) in cases.items():
        with pytest.raises(exchange.ExchangeError) as raised:
            await exchange.import_paths(
                app.store, shipped, PLACE.community_id, text, "ours.toml", NOW
            )
        message = str(raised.value)
        assert where in message and what in message, (where, what, message)
    assert await app.store.challenges.own_paths(PLACE.community_id) == []


async def test_export_imports_back_and_a_walked_path_is_not_replaced(make_app, shipped):
    app = await make_app(content=shipped)
    await add_own_term(app)
    await exchange.import_paths(app.store, shipped, PLACE.community_id, GOOD, "ours.toml", NOW)
    exported = await exchange.export_paths(app.store, PLACE.community_id)
    assert exchange.is_paths_file(exported) and 'id = "circle-care"' in exported
    # Another community has no "Circle care" of its own: the same file names what is missing.
    with pytest.raises(exchange.ExchangeError, match='unknown id "circle-care"'):
        await exchange.import_paths(
            app.store, shipped, OTHER.community_id, exported, "paths.toml", NOW
        )
    again = exported.replace("Two days on listening", "Two days of listening")
    await exchange.import_paths(app.store, shipped, PLACE.community_id, again, "paths.toml", NOW)
    assert await exchange.export_paths(app.store, PLACE.community_id) == again

    await say(app, "challenge start circle-care 2026-03-03 09:00", MODERATOR)
    with pytest.raises(exchange.ExchangeError, match="a challenge here walks"):
        await exchange.import_paths(
            app.store, shipped, PLACE.community_id, exported, "paths.toml", NOW
        )
    assert await exchange.export_paths(app.store, PLACE.community_id) == again


def test_content_import_takes_a_paths_file(tmp_path):
    db, ours, out = tmp_path / "c.db", tmp_path / "ours.toml", tmp_path / "back.toml"
    run = [sys.executable, "-m", "companion", "content"]
    ours.write_text(paths_file(['terms = ["allyship"]', 'terms = ["alyship"]']), "utf-8")
    failed = subprocess.run(
        [*run, "import", "--db", str(db), str(ours), "--community", "c:one"],
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 2, failed.stderr
    assert 'ours.toml:21: path "circle-care" day 2 field "terms": unknown id "alyship"' in (
        failed.stderr
    )
    assert '(did you mean "allyship"?)' in failed.stderr

    ours.write_text(paths_file(['terms = ["allyship"]', 'terms = ["allyship"]']), "utf-8")
    done = subprocess.run(
        [*run, "import", "--db", str(db), str(ours), "--community", "c:one"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "imported 1 path(s) into c:one: circle-care" in done.stdout
    subprocess.run(
        [*run, "export", "--paths", "--db", str(db), str(out), "--community", "c:one"], check=True
    )
    assert 'title = "Listening first, day 2"' in out.read_text("utf-8")


async def test_a_paths_file_of_the_wrong_shape_is_refused_and_changes_nothing(make_app, shipped):
    """Files a moderator might upload by mistake get a message naming the file, never a
    traceback, and a path without days (which `challenge start` could not plan) is refused."""
    app = await make_app(content=shipped)
    cases = {
        "path = [1]\n": "ours.toml",
        "[[path]]\n" + "x = " + "[" * 3000 + "]" * 3000 + "\n": "ours.toml",
        '[[path]]\nid = "empty"\ntitle = "Nothing"\nsummary = "No days."\nday = []\n': (
            "ours.toml:5:"
        ),
        "[[path]]\nid = [1]\n": "ours.toml:2:",
        "[[path]]\nid = { a = 1 }\n": "ours.toml:2:",
        GOOD + GOOD.replace("# Our circle's own path.", ""): "ours.toml:24:",  # id twice
    }
    for text, where in cases.items():
        with pytest.raises(exchange.ExchangeError) as raised:
            await exchange.import_paths(
                app.store, shipped, PLACE.community_id, text, "ours.toml", NOW
            )
        assert str(raised.value).startswith(where), str(raised.value)
    assert await app.store.challenges.own_paths(PLACE.community_id) == []


async def test_a_day_cannot_send_members_to_a_review_that_quotes_the_whole_book(make_app, shipped):
    """A day is shown to every member, whatever a book club here has read: a review quoting
    The Wake Up from beginning to end is as much a spoiler as a chapter's prompt."""
    app = await make_app(content=shipped)
    text = paths_file(['resources = ["waking-up-to-better-allyship"]'])
    with pytest.raises(exchange.ExchangeError) as raised:
        await exchange.import_paths(app.store, shipped, PLACE.community_id, text, "ours.toml", NOW)
    assert "ours.toml:" in str(raised.value) and "shown to everyone" in str(raised.value)
    assert await app.store.challenges.own_paths(PLACE.community_id) == []


async def test_a_day_cannot_send_members_to_a_piece_that_quotes_a_later_chapter(make_app, shipped):
    """Revisiting Allyship ends with the question of chapter 11 of The Wake Up: a day citing
    it would put that question in front of readers at chapter 3."""
    app = await make_app(content=shipped)
    text = paths_file(['resources = ["revisiting-allyship-2024"]'])
    with pytest.raises(exchange.ExchangeError) as raised:
        await exchange.import_paths(app.store, shipped, PLACE.community_id, text, "ours.toml", NOW)
    assert '"revisiting-allyship-2024" is tied to a chapter of a book' in str(raised.value)
    assert await app.store.challenges.own_paths(PLACE.community_id) == []
