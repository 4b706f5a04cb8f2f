"""Content edits without a restart: SIGHUP to `companion run`, or `companion content reload`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from companion import content as content_module
from companion.events import Invocation
from companion.reload import Reloader
from tests.conftest import FIXTURE_CONTENT, MEMBER, PLACE, AppFactory, say
from tests.core.running import Running

NEW_TERM = """
[[term]]
id = "solidarity"
term = "solidarity"
definition = "Standing with others in a shared struggle, on their terms."
sources = ["awaken-allyship-2019"]
"""
BROKEN = '\n[[term]]\nid = "broken"\nterm = broken\n'  # a value without its quotes


def _content_copy(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, target)
    return target


def _broken_line(glossary: Path) -> int:
    return len(glossary.read_text(encoding="utf-8").splitlines())


async def test_reload_swaps_content_every_feature_sees_and_keeps_it_on_errors(
    tmp_path: Path, make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    directory = _content_copy(tmp_path)
    app = await make_app(content=content_module.load(directory))  # its own, not the session's
    reloader = Reloader(app.content, directory)
    assert "solidarity" not in (await say(app, "terms")).text
    glossary = directory / "glossary.toml"
    glossary.write_text(glossary.read_text(encoding="utf-8") + NEW_TERM, encoding="utf-8")
    assert await reloader.reload()
    assert "shared struggle" in (await say(app, "define solidarity")).text
    assert "solidarity" in (await say(app, "terms")).text
    define = Invocation("define", {}, MEMBER, PLACE, app.clock.now())
    assert "solidarity" in await app.dispatcher.complete(define, "term", "solid")  # its index

    glossary.write_text(glossary.read_text(encoding="utf-8") + BROKEN, encoding="utf-8")
    assert not await reloader.reload()
    assert f"glossary.toml:{_broken_line(glossary)}" in caplog.text
    assert "keeping the content loaded before" in caplog.text
    assert "shared struggle" in (await say(app, "define solidarity")).text


async def test_an_edited_definition_is_answered_anew_after_reload(
    tmp_path: Path, make_app: AppFactory
) -> None:
    """Answers are kept once rendered; a reload must not leave the old text in use."""
    directory = _content_copy(tmp_path)
    app = await make_app(content=content_module.load(directory))
    assert "Unearned advantages" in (await say(app, "define privilege")).text
    glossary = directory / "glossary.toml"
    text = glossary.read_text(encoding="utf-8")
    glossary.write_text(text.replace("Unearned advantages", "Advantages nobody earned"))
    assert await Reloader(app.content, directory).reload()
    answer = (await say(app, "define privilege")).text
    assert "Advantages nobody earned" in answer and "Unearned" not in answer


def _reload(config: Path) -> subprocess.CompletedProcess[str]:
    """`companion content reload`, from another process as an operator runs it."""
    command = [sys.executable, "-m", "companion.cli", "content", "reload", "--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_sighup_to_companion_run_reloads_and_a_broken_file_keeps_the_old(tmp_path: Path) -> None:
    directory = _content_copy(tmp_path)
    config = tmp_path / "companion.toml"
    config.write_text(
        f'[storage]\npath = "{tmp_path / "companion.db"}"\n'
        f'[content]\ndir = "{directory}"\n[console]\nenabled = true\n',
        encoding="utf-8",
    )
    pid_file = tmp_path / "companion.pid"
    bot = Running(["run", "--config", str(config)])
    try:
        bot.say("define allyship", "again and again")
        assert int(pid_file.read_text()) == bot.process.pid
        glossary = directory / "glossary.toml"
        glossary.write_text(glossary.read_text(encoding="utf-8") + NEW_TERM, encoding="utf-8")
        reload = _reload(config)
        assert reload.returncode == 0, reload.stderr
        assert f"process {bot.process.pid}" in reload.stdout
        bot.log("content reloaded")
        bot.say("define solidarity", "shared struggle")

        glossary.write_text(glossary.read_text(encoding="utf-8") + BROKEN, encoding="utf-8")
        refused = _reload(config)
        where = f"glossary.toml:{_broken_line(glossary)}"
        assert refused.returncode == 2 and where in refused.stderr  # checked, never sent

        os.kill(bot.process.pid, signal.SIGHUP)  # as `systemctl reload` does
        bot.log("content reload failed")
        bot.log(where)
        bot.say("define solidarity", "shared struggle")  # the old content stays
        assert bot.stop() == 0
        assert not pid_file.exists()
    finally:
        bot.kill()


def test_content_reload_without_a_running_bot_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from companion.cli import main

    config = tmp_path / "companion.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "c.db"}"\n[console]\n', encoding="utf-8")
    assert main(["content", "reload", "--config", str(config)]) == 1
    assert "no running `companion run`" in capsys.readouterr().err
    (tmp_path / "c.pid").write_text("999999999\n")  # a process that cannot exist
    assert main(["content", "reload", "--config", str(config)]) == 1
    assert "not running" in capsys.readouterr().err
