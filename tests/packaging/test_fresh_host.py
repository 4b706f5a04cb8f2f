"""A new operator on a new host: the installed wheel, a HOME with no data directory yet.

Each documented way to start either works or stops with one clear line and exit 2 (what to
install, what to set), never a traceback: the terminal, ``run`` on SQLite, ``run`` on
PostgreSQL with the ``postgresql`` extra and without it, Matrix and Discord configs without
their extras, and the dashboard. The venv of ``installed`` has the wheel and its base
dependencies only, so the missing extras are really missing, not hidden by an import blocker.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.pg_server.server import PostgresServer

pytestmark = pytest.mark.slow


def _companion(
    bin_dir: Path, *args: str, env: dict[str, str], cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "companion"), *args],
        input=stdin,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _config(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _stops_with_one_line(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    shown = f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    assert "Traceback" not in done.stderr, shown
    assert done.returncode == 2, shown
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("companion: "), shown
    for text in expected:
        assert text in lines[0], shown


def _fresh(env: dict[str, str]) -> Path:
    data = Path(env["XDG_DATA_HOME"]) / "companion"
    assert not data.exists() and not Path(env["HOME"]).exists(), "not a fresh HOME"
    return data


def test_the_terminal_starts_on_a_fresh_host(
    installed: Path, elsewhere: dict[str, str], tmp_path: Path
) -> None:
    data = _fresh(elsewhere)
    done = _companion(installed, "console", env=elsewhere, cwd=tmp_path, stdin="define allyship\n")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "Allyship" in done.stdout, done.stdout
    assert (data / "companion.db").is_file()


def test_run_on_sqlite_starts_on_a_fresh_host(
    installed: Path, elsewhere: dict[str, str], tmp_path: Path
) -> None:
    """No [storage] path: the database, key and pid file go to the user's data directory,
    which nothing has made yet. The terminal's input ends, so `run` ends by itself."""
    data = _fresh(elsewhere)
    config = _config(tmp_path, "sqlite", "[console]\n")
    done = _companion(
        installed, "run", "--config", str(config), env=elsewhere, cwd=tmp_path,
        stdin="define allyship\n",
    )  # fmt: skip
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "Allyship" in done.stdout, done.stdout
    assert (data / "companion.db").is_file()
    assert not (data / "companion.pid").exists(), "the pid file outlived the process"


def test_run_on_postgresql_starts_on_a_fresh_host(
    installed_with_extras: Path,
    elsewhere: dict[str, str],
    tmp_path: Path,
    postgres: PostgresServer,
) -> None:
    """Issue 21 item 1: the PostgreSQL store makes no data directory, and the pid file and the
    anonymity key live there: the first run ended in FileNotFoundError."""
    data = _fresh(elsewhere)
    url = postgres.fresh_database()
    config = _config(tmp_path, "pg", f'[console]\n[storage]\nurl = "{url}"\n')
    done = _companion(
        installed_with_extras, "run", "--config", str(config), env=elsewhere, cwd=tmp_path,
        stdin="reflect answer I listened first\n",
    )  # fmt: skip
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert not (data / "companion.db").exists(), "wrote a SQLite file beside PostgreSQL"
    doctor = _companion(
        installed_with_extras, "doctor", "--config", str(config), env=elsewhere, cwd=tmp_path
    )
    assert doctor.returncode == 0 and "Traceback" not in doctor.stderr, doctor.stdout
    again = _companion(
        installed_with_extras, "run", "--config", str(config), env=elsewhere, cwd=tmp_path,
        stdin="journal\n",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "I listened first" in again.stdout, "the reflection did not outlive the process"


def test_run_with_postgresql_down_says_so_in_one_line(
    installed_with_extras: Path, elsewhere: dict[str, str], tmp_path: Path
) -> None:
    """A server that is not there: one line naming it, exit 1 (a supervisor tries again)."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        port = closed.getsockname()[1]
        url = f"postgresql://companion@127.0.0.1:{port}/companion"
        config = _config(tmp_path, "pg", f'[console]\n[storage]\nurl = "{url}"\n')
        done = _companion(
            installed_with_extras, "run", "--config", str(config), env=elsewhere, cwd=tmp_path
        )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0], lines


@pytest.mark.parametrize("command", ["run", "doctor"])
def test_postgresql_without_its_extra_says_what_to_install(
    installed: Path, elsewhere: dict[str, str], tmp_path: Path, command: str
) -> None:
    """Issue 21 item 2: ModuleNotFoundError: No module named 'asyncpg', with a traceback."""
    config = _config(
        tmp_path, "pg", '[console]\n[storage]\nurl = "postgresql://companion@127.0.0.1/c"\n'
    )
    done = _companion(installed, command, "--config", str(config), env=elsewhere, cwd=tmp_path)
    _stops_with_one_line(done, "pip install 'companion[postgresql]'")


def test_db_migrate_without_the_postgresql_extra_says_what_to_install(
    installed: Path, elsewhere: dict[str, str], tmp_path: Path
) -> None:
    db = tmp_path / "old.db"
    made = _companion(installed, "ask", "--db", str(db), "help", env=elsewhere, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    done = _companion(
        installed, "db", "migrate", "--db", str(db), "--to", "postgresql://c@127.0.0.1/c",
        env=elsewhere, cwd=tmp_path,
    )  # fmt: skip
    _stops_with_one_line(done, "pip install 'companion[postgresql]'")


@pytest.mark.parametrize("command", ["run", "doctor"])
@pytest.mark.parametrize(
    ("platform", "table", "secret"),
    [
        ("discord", "[discord]\n", "COMPANION_DISCORD_TOKEN"),
        (
            "matrix",
            '[matrix]\nhomeserver = "http://127.0.0.1:9"\nuser_id = "@bot:localhost"\n',
            "COMPANION_MATRIX_ACCESS_TOKEN",
        ),
    ],
    ids=["discord", "matrix"],
)
def test_a_platform_without_its_extra_says_what_to_install(
    installed: Path,
    elsewhere: dict[str, str],
    tmp_path: Path,
    command: str,
    platform: str,
    table: str,
    secret: str,
) -> None:
    config = _config(tmp_path, platform, table)
    env = {**elsewhere, secret: "not-a-real-token"}
    done = _companion(installed, command, "--config", str(config), env=env, cwd=tmp_path)
    _stops_with_one_line(done, f"pip install 'companion[{platform}]'")


def test_encryption_without_the_e2e_extra_says_what_to_install(
    installed_with_extras: Path, elsewhere: dict[str, str], tmp_path: Path
) -> None:
    """matrix-nio is there, vodozemac is not: encryption = true names the e2e extra."""
    config = _config(
        tmp_path,
        "matrix",
        '[matrix]\nhomeserver = "http://127.0.0.1:9"\nuser_id = "@bot:localhost"\n'
        "encryption = true\n",
    )
    env = {**elsewhere, "COMPANION_MATRIX_ACCESS_TOKEN": "not-a-real-token"}
    done = _companion(installed_with_extras, "run", "--config", str(config), env=env, cwd=tmp_path)
    _stops_with_one_line(done, "pip install 'companion[e2e]'")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_dashboard_starts_on_a_fresh_host(
    installed: Path, elsewhere: dict[str, str], tmp_path: Path
) -> None:
    """`run` with [web] and [metrics]: /healthz answers, and the dashboard asks to sign in."""
    _fresh(elsewhere)
    web, metrics = _free_port(), _free_port()
    config = _config(
        tmp_path,
        "web",
        f"[console]\n[web]\nenabled = true\nport = {web}\n"
        f"[metrics]\nenabled = true\nport = {metrics}\n",
    )
    process = subprocess.Popen(
        [str(installed / "companion"), "run", "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=elsewhere,
        cwd=tmp_path,
        text=True,
    )
    try:
        page = health = None
        deadline = time.monotonic() + 30
        while page is None and time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/healthz", timeout=2) as r:
                    health = r.status
                urllib.request.urlopen(f"http://127.0.0.1:{web}/", timeout=2)
            except urllib.error.HTTPError as refused:  # not signed in: the sign-in page
                page = refused.code, refused.read().decode()
            except OSError:
                time.sleep(0.1)
        assert health == 200, health
        assert page is not None and page[0] == 401 and "Please sign in" in page[1], page
    finally:
        _, err = process.communicate("", timeout=30)  # the terminal's input ends: it stops
    assert process.returncode == 0 and "Traceback" not in err, err
    assert "dashboard on 127.0.0.1" in err, err
