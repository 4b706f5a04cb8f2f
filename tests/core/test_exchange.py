"""A community's own prompts move to a file and back; a broken file changes nothing."""

import json
import subprocess
import sys
from dataclasses import replace

from companion import exchange
from tests.conftest import MEMBER, MODERATOR, PLACE, say


async def test_export_then_import_into_another_server(app, make_app, tmp_path):
    await say(app, "prompt add Who spoke first in your last meeting, and why? #power", MODERATOR)
    await say(app, "prompt add What did you give up this month for someone else?", MODERATOR)
    await say(app, "resource suggest https://example.org/a-talk A talk on listening #listening")
    await say(app, 'suggest term "call in" Inviting someone privately to reflect on harm done.')
    await say(app, "approve 1", MODERATOR)
    await say(app, "approve 2", MODERATOR)
    text = await exchange.export_community(app.store, "c:one")
    data = json.loads(text)
    assert [p["tags"] for p in data["prompts"]] == [["power"], []]
    assert [r["title"] for r in data["resources"]] == ["A talk on listening"]
    assert [t["term"] for t in data["terms"]] == ["call in"]

    assert await exchange.import_community(app.store, "c:new", text) == 4
    elsewhere = replace(PLACE, community_id="c:new")
    listed = (await say(app, "prompt list", MODERATOR, elsewhere)).text
    assert "Who spoke first" in listed and "What did you give up" in listed
    assert "A talk on listening" in (await say(app, "resources listening", MEMBER, elsewhere)).text
    assert "Added by this community" in (await say(app, "define call in", MEMBER, elsewhere)).text
    assert (
        "**Added by this community** (1)\ncall in"
        in (await say(app, "terms", MEMBER, elsewhere)).text
    )


async def test_a_broken_file_imports_nothing(app):
    good = {
        "title": "Fine",
        "text": "A perfectly fine prompt?",
        "tags": [],
        "created_at": "2026-03-01T10:00:00+00:00",
    }
    bad = dict(good, tags=["<b>bold</b>"])
    link = {"url": "javascript:alert(1)", "title": "x", "added_at": "2026-03-01T10:00:00+00:00"}
    text = json.dumps({"format": exchange.FORMAT, "prompts": [good], "resources": [link]})
    try:
        await exchange.import_community(app.store, "c:one", text)
    except exchange.ExchangeError as error:
        assert 'resources[1], field "url"' in str(error)
    else:
        raise AssertionError("a javascript: link was imported")
    text = json.dumps({"format": exchange.FORMAT, "prompts": [good, bad]})
    try:
        await exchange.import_community(app.store, "c:one", text)
    except exchange.ExchangeError as error:
        assert 'prompts[2], field "tags"' in str(error)
    else:
        raise AssertionError("a tag with markup was imported")
    assert await app.store.prompts.for_community("c:one") == []


def test_the_cli_round_trip(tmp_path):
    db, out = tmp_path / "c.db", tmp_path / "export.json"
    run = [sys.executable, "-m", "companion"]
    subprocess.run(
        [*run, "ask", "--db", str(db), "prompt add What will you practise this week?"],
        check=True,
        capture_output=True,
    )
    subprocess.run([*run, "content", "export", "--db", str(db), str(out)], check=True)
    other = tmp_path / "other.db"
    done = subprocess.run(
        [*run, "content", "import", "--db", str(other), str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0 and "imported 1 entries" in done.stdout
    out.write_text("{not json")
    failed = subprocess.run(
        [*run, "content", "import", "--db", str(other), str(out)], capture_output=True, text=True
    )
    assert failed.returncode == 2 and "nothing imported" in failed.stderr


async def test_a_lone_surrogate_or_nul_in_an_import_is_kept_as_text(app):
    """JSON's "\\ud800" decodes to a lone surrogate no store can encode (and PostgreSQL
    refuses NUL): such an import ended in a traceback. Its text is cleaned as typed text is."""
    prompt = {
        "title": "Odd \ud800 title\x00",
        "text": "What did you \ud800notice\x00 this week?",
        "tags": [],
        "created_at": "2026-03-01T10:00:00+00:00",
    }
    term = {
        "term": "ally\ud800",
        "definition": "Someone who acts\x00 in solidarity, again.",
        "added_at": "2026-03-01T10:00:00+00:00",
    }
    text = json.dumps({"format": exchange.FORMAT, "prompts": [prompt], "terms": [term]})
    await exchange.import_community(app.store, "c:one", text)
    (kept,) = await app.store.prompts.for_community("c:one")
    assert "notice" in kept.text and "\ud800" not in kept.text + kept.title
    assert "\x00" not in kept.text + kept.title
    assert kept.title.startswith("Odd")
    listed = await say(app, "prompt list")
    assert "notice" in listed.text
