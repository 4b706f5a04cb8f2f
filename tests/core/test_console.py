"""The terminal adapter driven as a user would: a subprocess, lines on stdin, output read."""

import io
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

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
    console = ConsoleAdapter(app.gateway, stdout=out, interactive=False)
    app.ports.attach("console", console)
    await console.handle("schedule reflection 12:30")
    await console.handle("schedule discussion daily 13:00 next")
    await run_until(app, clock, clock.now() + timedelta(hours=2))
    text = out.getvalue()
    assert "[scheduled post]\nToday's reflection" in text
    assert "[new discussion thread: " in text


def serving(tmp_path: Path, **pipes: Any) -> subprocess.Popen[bytes]:
    config = tmp_path / "companion.toml"
    config.write_text('[storage]\npath = "bot.db"\n[console]\nenabled = true\n')
    return subprocess.Popen(
        [sys.executable, "-m", "companion", "run", "--config", str(config)],
        stdin=subprocess.PIPE,
        **({"stdout": subprocess.PIPE, "stderr": subprocess.PIPE} | pipes),
    )


def test_sigterm_while_waiting_for_input_stops_cleanly(tmp_path):
    """Nothing typed yet, the input still open: the reader is blocked on stdin. (Output to
    files, as under a service manager: with pipes the abort did not show.)"""
    out, err_file = (tmp_path / "out").open("wb"), (tmp_path / "err").open("w+b")
    process = serving(tmp_path, stdout=out, stderr=err_file)
    deadline = time.monotonic() + 60
    pid = tmp_path / "bot.pid"  # created at start, its process id written once it serves
    while not (pid.exists() and pid.read_text().strip()):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.2)  # the reader thread is in its read by now
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)
    out.close()
    err_file.seek(0)
    err = err_file.read()
    err_file.close()
    assert process.returncode == 0, err.decode()
    assert b"Fatal Python error" not in err


def test_output_nobody_reads_any_more_ends_the_run_quietly(tmp_path):
    """`companion run | head -1`: the reader of the output goes away; no traceback."""
    process = serving(tmp_path)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"define privilege\n")
    process.stdin.flush()
    assert process.stdout.readline().startswith(b"Privilege")
    process.stdout.close()
    for _ in range(3):  # the next answers have nowhere to go
        process.stdin.write(b"help\n")
        process.stdin.flush()
    process.stdin.close()
    assert process.wait(timeout=20) == 0
    assert process.stderr is not None
    err = process.stderr.read()
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()


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


def wait_for_pid_file(tmp_path: Path, process: subprocess.Popen[bytes]) -> None:
    """Until the pid file names ``process`` (a stale one may name a dead process)."""
    deadline = time.monotonic() + 60
    pid_file = tmp_path / "bot.pid"
    while not (pid_file.exists() and pid_file.read_text().strip() == str(process.pid)):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)


def test_a_second_run_on_the_same_sqlite_file_refuses_to_start(tmp_path):
    """One process owns a SQLite database: a second would answer everything twice."""
    first = serving(tmp_path)
    try:
        wait_for_pid_file(tmp_path, first)
        second = serving(tmp_path)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2
        assert f"another Companion (process {first.pid}) is running on" in err.decode()
        assert first.poll() is None  # the first one goes on
        assert (tmp_path / "bot.pid").read_text().strip() == str(first.pid)

        first.kill()  # however it dies, the kernel releases its lock
        first.wait(timeout=10)
        assert (tmp_path / "bot.pid").exists()  # left behind, naming a dead process
        third = serving(tmp_path)
        wait_for_pid_file(tmp_path, third)
        third.send_signal(signal.SIGTERM)
        _, err = third.communicate(timeout=10)
        assert third.returncode == 0, err.decode()
        assert not (tmp_path / "bot.pid").exists()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()


async def test_commands_named_in_posts_and_replies_are_bare_in_the_terminal(
    make_app, shipped, clock
):
    """The terminal takes a command without a prefix, so what the bot names is the bare
    command: not the ``!`` of Matrix nor the ``/`` of Discord, which the same app knows."""
    app = await make_app(content=shipped)
    out = io.StringIO()
    console = ConsoleAdapter(app.gateway, stdout=out, interactive=False)
    app.ports.attach("console", console)
    await console.handle("challenge start allyship-21 2026-03-02 13:00")
    await console.handle("poll Tea or coffee? | Tea | Coffee for 1d")
    await console.handle("define zzqx")
    await run_until(app, clock, clock.now() + timedelta(hours=2))
    text = out.getvalue()
    assert "Look up the definition with define allyship and read it slowly" in text, text
    assert "challenge done [note] checks in privately" in text, text
    assert "Vote with vote 1 (the answer's number)" in text, text
    assert "terms lists every entry" in text, text
    for prefixed in ("!define", "/define", "!vote", "/vote", "!terms", "/challenge"):
        assert prefixed not in text, prefixed
