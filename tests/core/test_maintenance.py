"""`companion db backup` and `db check` on a real SQLite file, while another task writes."""

from __future__ import annotations

import asyncio
import shlex
import sqlite3
import subprocess
from pathlib import Path

import pytest

from companion.cli import main
from companion.store import Store
from companion.store.db import migrations
from companion.store.maintenance import MaintenanceError, backup, check
from companion.store.postgres.db import PgDatabase
from companion.store.postgres.db import migrations as pg_migrations
from tests.conftest import START
from tests.pg_server.server import PostgresServer

PAD = "x" * 1500  # rows big enough that the file spans many pages


async def _add(store: Store, n: int) -> None:
    await store.prompts.add("c:one", f"prompt {n}", f"{n} {PAD}", ("t",), "u:mod", START)


async def test_backup_under_writes_is_a_consistent_snapshot(tmp_path: Path) -> None:
    source = tmp_path / "live.db"
    store = await Store.open(source)
    for n in range(1, 601):
        await _add(store, n)
    written = 600
    stop = asyncio.Event()

    async def writer() -> None:
        nonlocal written
        while not stop.is_set():
            written += 1
            await _add(store, written)

    task = asyncio.create_task(writer())
    await asyncio.sleep(0.02)
    before = written
    copy = tmp_path / "copy.db"
    version = await backup(source, copy)
    after = written
    await asyncio.sleep(0.02)
    stop.set()
    await task
    assert after > before, "the writer must have been writing while the backup ran"
    assert written > after

    assert version == len(migrations())
    copied = await Store.open(copy)
    try:
        rows = await copied.prompts.for_community("c:one")
        result = await check(copy)
    finally:
        await copied.close()
    assert result.integrity_ok and result.version == len(migrations())
    ids = sorted(r.id for r in rows)
    k = len(ids)
    assert ids == list(range(1, k + 1)), "a snapshot has no gaps"
    assert before - 1 <= k <= after
    # The same first k rows of the source, read now (rows are only ever appended): equal.
    live = {r.id: r for r in await store.prompts.for_community("c:one") if r.id <= k}
    await store.close()
    assert {r.id: r for r in rows} == live
    assert all(r.text == f"{r.id} {PAD}" for r in rows)


async def test_check_reports_rows_and_a_migration_behind(tmp_path: Path) -> None:
    from companion.store.db import Database

    path = tmp_path / "old.db"
    db = await Database.open(path, upto=2)
    await db.close()
    result = await check(path)
    assert result.integrity_ok and result.version == 2 and not result.ok
    assert result.rows["prompt"] == 0 and "kv" in result.rows


class Cli:
    """`companion ...` run in this process, as the console script runs it."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = self.capsys.readouterr()
        return code, out, err


def test_cli_backup_refuses_to_overwrite_and_check_names_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _cli = Cli(capsys)
    source = tmp_path / "companion.db"
    done = _cli("ask", "--db", str(source), "prompt add A question about listening #listening")
    assert done[0] == 0, done[2]
    target = tmp_path / "backup.db"
    first = _cli("db", "backup", str(target), "--db", str(source))
    assert first[0] == 0, first[2]
    assert "integrity ok" in first[1] and "companion.key" in first[1]
    target_bytes = target.read_bytes()
    again = _cli("db", "backup", str(target), "--db", str(source))
    assert again[0] == 2 and "exists already" in again[2]
    assert target.read_bytes() == target_bytes, "a refused backup changes nothing"
    good = _cli("db", "check", "--db", str(target))
    assert good[0] == 0, good[2]
    assert "integrity: ok" in good[1] and f"{len(migrations())} (current)" in good[1]
    assert any(line.split() == ["prompt", "1"] for line in good[1].splitlines())

    broken = tmp_path / "broken.db"
    data = bytearray(target.read_bytes())
    page = sqlite3.connect(target).execute("PRAGMA page_size").fetchone()[0]
    data[page * 2 : page * 3] = b"\x55" * page  # scribble over a page of the copy
    broken.write_bytes(bytes(data))
    bad = _cli("db", "check", "--db", str(broken))
    assert bad[0] != 0
    assert "PROBLEMS" in bad[1] or "not a readable SQLite database" in bad[2]
    with pytest.raises(MaintenanceError, match="No database at"):
        asyncio.run(check(tmp_path / "nothing.db"))


def test_check_and_backup_with_a_postgresql_config_speak_of_that_database(
    postgres: PostgresServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--config` naming a PostgreSQL [storage] url: `db check` reads that database, and
    `db backup` writes nothing and gives the pg_dump command, which works as shown."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no SQLite file to fall back on
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / "data"))
    url = postgres.fresh_database()
    behind = postgres.fresh_database()

    async def fill() -> None:
        store = await Store.open(url)
        for n in (1, 2):
            await _add(store, n)
        await store.close()
        await (await PgDatabase.open(behind, upto=2)).close()

    asyncio.run(fill())
    config = tmp_path / "companion.toml"
    config.write_text(f'[console]\n[storage]\nurl = "{url}"\n', encoding="utf-8")
    _cli = Cli(capsys)
    shipped = len(pg_migrations())

    code, out, err = _cli("db", "check", "--config", str(config))
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"database {url}"
    assert f"  migration: {shipped} of {shipped} (current)" in out.splitlines()
    assert any(line.split() == ["prompt", "2"] for line in out.splitlines())
    assert any(line.split() == ["schedule", "0"] for line in out.splitlines())
    config.write_text(f'[console]\n[storage]\nurl = "{behind}"\n', encoding="utf-8")
    code, out, _ = _cli("db", "check", "--config", str(config))
    assert code == 1 and f"  migration: 2 of {shipped} (behind: " in out

    config.write_text(f'[console]\n[storage]\nurl = "{url}"\n', encoding="utf-8")
    target = tmp_path / "companion.dump"
    code, out, err = _cli("db", "backup", str(target), "--config", str(config))
    assert code == 2 and out == ""
    [line] = err.splitlines()
    assert "PostgreSQL" in line and "pg_dump" in line
    assert not target.exists() and not list((tmp_path / "home").rglob("*.db"))
    command = shlex.split(line.split("; run: ", 1)[1])
    assert command[0] == "pg_dump" and "--file=" + str(target) in command
    done = subprocess.run(
        [str(postgres.bindir / "pg_dump"), *command[1:]],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        [str(postgres.bindir / "pg_restore"), "--list", str(target)],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    schema = url.rsplit("search_path=", 1)[1]
    assert f"TABLE DATA {schema} prompt " in listed  # the bot's tables, and only its schema
    assert "TABLE DATA public" not in listed


def test_files_that_cannot_be_written_or_read_are_one_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An operator's slip (a directory for a file, a place nobody may write): each of these
    ended in a traceback (sqlite3.OperationalError, IsADirectoryError, FileNotFoundError)."""
    _cli = Cli(capsys)
    source = tmp_path / "companion.db"
    assert _cli("ask", "--db", str(source), "prompt add A question about listening #x")[0] == 0
    unwritable = Path("/proc/self/companion-backup.db")  # a directory no one can add to
    backup = _cli("db", "backup", str(unwritable), "--db", str(source))
    assert backup[0] == 2 and "no backup written: cannot write" in backup[2], backup
    assert not Path(str(unwritable) + ".partial").exists()
    export = _cli("content", "export", "--db", str(source), str(tmp_path))
    assert export[0] == 2 and "nothing exported" in export[2], export
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    for path in (tmp_path / "missing.json", tmp_path, binary):
        done = _cli("content", "import", "--db", str(source), str(path))
        assert done[0] == 2 and "nothing imported" in done[2], done
    assert "Traceback" not in capsys.readouterr().err
