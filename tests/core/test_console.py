"""The terminal adapter driven as a user would: a subprocess, lines on stdin, output read."""

import io
import signal
import subprocess
import sys
from datetime import timedelta

from companion_adapters.console import ConsoleAdapter
from tests.core.schedule_helpers import run_until


def run_console(db, stdin: bytes) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "companion", "console", "--db", str(db)],
        input=stdin,
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def test_a_conversation_in_the_terminal(db_path):
    out = run_console(db_path, b"help\ndefine alyship\n!reflect\n/myth 2\nquit\ndefine power\n")
    assert "What I can do" in out
    assert "an active and consistent practice of using power and privilege" in out
    assert "Michelle MiJung Kim" in out
    assert "Today's reflection" in out
    assert "Myth 2 of 4" in out
    assert "Power\n" not in out  # nothing after quit is answered


def test_bad_bytes_and_nonsense_get_one_line_each_and_the_session_goes_on(db_path):
    out = run_console(db_path, b"\xff\xfe\x00garbage\n\n'unbalanced\nfrobnicate\nterms\n")
    lines = out.splitlines()
    assert "That line was not valid UTF-8 text, so I ignored it." in lines
    assert any("Type a command" in line for line in lines)
    assert any("I don't know" in line for line in lines)
    assert "The glossary" in out


def test_the_same_question_after_a_restart(db_path):
    first = run_console(db_path, b"reflect\n")
    second = run_console(db_path, b"reflect\n")
    assert first == second and "Today's reflection" in first


def test_ask_prints_one_reply(db_path):
    done = subprocess.run(
        [sys.executable, "-m", "companion", "ask", "--db", str(db_path), "define allyship"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0
    assert "an active and consistent practice of using power and privilege" in done.stdout
    assert "Michelle MiJung Kim" in done.stdout


async def test_scheduled_posts_are_printed_as_they_fall_due(app, clock):
    out = io.StringIO()
    console = ConsoleAdapter(app, stdout=out, interactive=False)
    app.ports.attach("console", console)
    await console.handle("schedule reflection 12:30")
    await console.handle("schedule discussion daily 13:00 next")
    await run_until(app, clock, clock.now() + timedelta(hours=2))
    text = out.getvalue()
    assert "[scheduled post]\nToday's reflection" in text
    assert "[new discussion thread: " in text


def test_run_with_a_config_stops_cleanly_on_sigterm(tmp_path):
    config = tmp_path / "companion.toml"
    config.write_text('[storage]\npath = "bot.db"\n[console]\nenabled = true\n')
    process = subprocess.Popen(
        [sys.executable, "-m", "companion", "run", "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"define privilege\n")
    process.stdin.flush()
    first = process.stdout.readline()  # the answer: the bot is up and serving
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=10)
    assert process.returncode == 0, err.decode()
    assert first.startswith(b"Privilege")
    assert (tmp_path / "bot.key").exists()  # the anonymity key sits beside the database
