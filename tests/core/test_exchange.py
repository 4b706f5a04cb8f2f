"""A community's own prompts move to a file and back; a broken file changes nothing."""

import io
import json
import subprocess
import sys

import pytest

from companion import exchange
from companion.cli import main
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
    elsewhere = PLACE._replace(community_id="c:new")
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


def test_a_file_that_is_not_an_export_gets_one_line_and_imports_nothing(
    tmp_path, capsys, monkeypatch
):
    """Whatever a moderator points `content import` at: one line on stderr naming the file
    and why, exit 2, never a traceback, and nothing in the database."""
    db = str(tmp_path / "c.db")
    export = {
        "format": exchange.FORMAT,
        "prompts": [{"text": "Café: what did you notice?", "created_at": "2026-03-01T10:00:00"}],
    }
    files: dict[str, bytes | None] = {
        "latin1.json": json.dumps(export, ensure_ascii=False).encode("latin-1"),
        "utf16.json": json.dumps(export).encode("utf-16"),
        "photo.jpg": bytes([0xFF, 0xD8, 0xFF, 0xE0]) + bytes(range(256)) * 8,
        "empty.json": b"",
        "blank.toml": b"  \n\n",
        "folder": None,  # a directory
        "huge.json": b"{" + b" " * 8 * 1024 * 1024 + b"}",
        "broken.json": b'{"format": ',
        "broken.toml": b"[[path]\nid = ",
        "digits.json": b'{"format": ' + b"9" * 5000 + b"}",
        "digits.toml": b"[[path]]\nid = " + b"9" * 5000 + b"\n",
        "half.json": json.dumps(export).replace("Caf\\u00e9", "\\ud800").encode(),
    }
    expected = {
        "latin1.json": "latin1.json: not UTF-8 text (byte 0xe9",
        "utf16.json": "utf16.json: not UTF-8 text (byte 0xff at offset 0)",
        "photo.jpg": "photo.jpg: not UTF-8 text",
        "empty.json": "empty.json: the file is empty",
        "blank.toml": "blank.toml: the file is empty",
        "folder": "folder: cannot read it (Is a directory)",
        "huge.json": "huge.json: larger than 8 MiB, too large to import",
        "broken.json": "not valid JSON",
        "broken.toml": "broken.toml:1: not valid TOML",
        "digits.json": "not valid JSON: a number with too many digits",
        "digits.toml": "digits.toml: not valid TOML: a number with too many digits",
        "half.json": "not valid text: an escape for half a character",
        "missing.json": "missing.json: cannot read it (No such file or directory)",
    }
    for name, data in files.items():
        if data is None:
            (tmp_path / name).mkdir()
        else:
            (tmp_path / name).write_bytes(data)
    for name, message in expected.items():
        code = main(["content", "import", "--db", db, str(tmp_path / name)])
        out, err = capsys.readouterr()
        assert (code, out) == (2, ""), name
        assert err.startswith(f"companion: nothing imported: {message}"), err
        assert err.count("\n") == 1, err

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(files["latin1.json"] or b"")))
    assert main(["content", "import", "--db", db, "-"]) == 2
    assert capsys.readouterr().err.startswith("companion: nothing imported: <stdin>: not UTF-8")

    assert main(["content", "export", "--db", db, "-"]) == 0
    assert json.loads(capsys.readouterr().out)["prompts"] == []
    bom = b"\xef\xbb\xbf" + json.dumps(export).encode()  # UTF-8 as Windows Notepad saves it
    (tmp_path / "bom.json").write_bytes(bom)
    assert main(["content", "import", "--db", db, str(tmp_path / "bom.json")]) == 0
    assert "imported 1 entries" in capsys.readouterr().out


async def test_a_nul_in_an_import_is_cleaned_and_a_lone_surrogate_refused(app):
    """PostgreSQL refuses NUL: an import's text is cleaned as typed text is. JSON's "\ud800"
    decodes to a lone surrogate, no character at all: the file is refused, nothing imported
    (both once ended in a traceback)."""
    prompt = {
        "title": "Odd title\x00",
        "text": "What did you notice\x00 this week?",
        "tags": [],
        "created_at": "2026-03-01T10:00:00+00:00",
    }
    term = {
        "term": "ally",
        "definition": "Someone who acts\x00 in solidarity, again.",
        "added_at": "2026-03-01T10:00:00+00:00",
    }
    text = json.dumps({"format": exchange.FORMAT, "prompts": [prompt], "terms": [term]})
    await exchange.import_community(app.store, "c:one", text)
    (kept,) = await app.store.prompts.for_community("c:one")
    assert "\x00" not in kept.text + kept.title
    assert kept.title.startswith("Odd") and "notice" in kept.text
    listed = await say(app, "prompt list")
    assert "notice" in listed.text

    prompt["text"] = "What did you \ud800notice this week?"
    text = json.dumps({"format": exchange.FORMAT, "prompts": [prompt]})
    with pytest.raises(exchange.ExchangeError, match="half a character"):
        await exchange.import_community(app.store, "c:two", text)
    assert await app.store.prompts.for_community("c:two") == []
