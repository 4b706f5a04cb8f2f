"""`companion doctor --config FILE`, the local lines: config, content, database, key file.

Each broken case shows its failing line with the fix, and the exit code is 1; the
platform lines are in tests/adapters/*/test_*_doctor.py.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from companion.cli import main
from companion.identity import load_or_create_key
from companion.store import Database
from companion.store.db import migrations

FIXTURE_CONTENT = Path(__file__).resolve().parents[1] / "fixtures" / "content"


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "companion.toml"
    body = ["[storage]", 'path = "companion.db"', "", "[console]", *lines]
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    return path


def doctor(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["doctor", "--config", str(path)])
    return code, capsys.readouterr().out.splitlines()


def failing(lines: list[str]) -> list[tuple[str, str]]:
    """(the FAIL line and the lines of its detail, the fix) for every failure printed."""
    found = []
    for i, text in enumerate(lines):
        if text.startswith("FAIL  "):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("      fix: "))
            found.append(("\n".join(lines[i:end]), lines[end]))
    return found


def test_a_new_installation_passes_and_nothing_is_made(tmp_path, capsys):
    code, lines = doctor(write(tmp_path), capsys)
    assert code == 0, lines
    assert lines[-1] == "all 5 checks passed."
    db = tmp_path / "companion.db"
    assert f"ok    database: {db} does not exist yet: made at first start" in lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["companion.toml"]


def test_a_database_in_use_and_a_private_key_pass(tmp_path, capsys):
    asyncio.run(_database(tmp_path / "companion.db"))
    load_or_create_key(tmp_path / "companion.key")
    code, lines = doctor(write(tmp_path), capsys)
    assert code == 0, lines
    assert f"ok    database: {tmp_path / 'companion.db'}: intact, at migration " in lines[3]
    assert lines[4] == f"ok    key file: {tmp_path / 'companion.key'}: readable, mode 600"


def test_an_unknown_setting_is_named_with_the_closest_known_one(tmp_path, capsys):
    path = write(tmp_path, "[community]", 'default_timezon = "Europe/Berlin"')
    code, lines = doctor(path, capsys)
    assert code == 1
    assert failing(lines) == [
        (
            "FAIL  setting: [community] has no setting 'default_timezon' "
            "(did you mean default_timezone?).",
            f"      fix: rename it to default_timezone in {path}",
        )
    ]


def test_invalid_toml_is_one_failing_line(tmp_path, capsys):
    path = tmp_path / "companion.toml"
    path.write_text("[console\n")
    code, lines = doctor(path, capsys)
    assert code == 1
    [(fail, fix)] = failing(lines)
    assert fail.startswith(f"FAIL  config: {path} is not valid TOML")
    assert fix == f"      fix: correct {path} (see config.example.toml)"


@pytest.mark.parametrize("table", ["web", "metrics"])
def test_a_bind_that_is_no_ip_address_fails_as_run_would(tmp_path, capsys, table):
    """`[web] bind = "999.1.1.1"` passed every check, then `companion run` stopped when the
    dashboard could not listen; doctor now names it in the one line run prints."""
    path = write(tmp_path, f"[{table}]", 'bind = "999.1.1.1"')
    said = f"[{table}] bind must be an IP address such as 127.0.0.1, not '999.1.1.1'."
    code, lines = doctor(path, capsys)
    assert code == 1
    assert failing(lines) == [(f"FAIL  settings: {said}", f"      fix: correct it in {path}")]
    assert main(["run", "--config", str(path)]) == 2
    assert capsys.readouterr().err == f"companion: {said}\n"


def test_invalid_content_names_the_file_and_how_to_check_again(tmp_path, capsys):
    content = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, content)
    glossary = content / "glossary.toml"
    glossary.write_text(glossary.read_text().replace('related = ["privilege"]', 'related = ["x"]'))
    code, lines = doctor(write(tmp_path, "[content]", 'dir = "content"'), capsys)
    assert code == 1
    [(fail, fix)] = failing(lines)
    assert fail.startswith("FAIL  content: ") and "glossary.toml" in fail and '"x"' in fail
    assert "`companion content check " in fix and str(content) in fix


def test_a_database_behind_the_migrations_is_reported_not_migrated(tmp_path, capsys):
    db = tmp_path / "companion.db"
    asyncio.run(_database(db, upto=2))
    load_or_create_key(tmp_path / "companion.key")
    code, lines = doctor(write(tmp_path), capsys)
    assert code == 1
    latest = len(migrations())
    assert failing(lines) == [
        (
            f"FAIL  database migration: {db} is at migration 2; this Companion needs {latest}",
            "      fix: back the file up (`companion db backup`), then start `companion run` "
            "once: it applies the "
            f"migrations 3-{latest} at start",
        )
    ]
    with sqlite3.connect(db) as conn:  # doctor changed nothing
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2


def test_a_file_that_is_no_database_is_reported(tmp_path, capsys):
    (tmp_path / "companion.db").write_text("not a database, just text\n" * 100)
    code, lines = doctor(write(tmp_path), capsys)
    assert code == 1
    fails = failing(lines)
    assert fails[0][0].startswith(
        f"FAIL  database: {tmp_path / 'companion.db'} is not a readable SQLite database"
    )
    assert "restore it from a backup" in fails[0][1]


def test_a_key_file_others_can_read_is_reported_with_the_chmod(tmp_path, capsys):
    key = tmp_path / "companion.key"
    load_or_create_key(key)
    os.chmod(key, 0o644)
    code, lines = doctor(write(tmp_path), capsys)
    assert code == 1
    assert failing(lines) == [
        (
            f"FAIL  key file: {key} is mode 644: other users on this machine can read it",
            f"      fix: chmod 600 {key}",
        )
    ]


def test_a_lost_key_beside_a_database_in_use_is_reported(tmp_path, capsys):
    asyncio.run(_database(tmp_path / "companion.db"))
    code, lines = doctor(write(tmp_path), capsys)
    assert code == 1
    [(fail, fix)] = failing(lines)
    assert fail.startswith(f"FAIL  key file: {tmp_path / 'companion.key'} is missing")
    assert "restore the key file from your backup" in fix


async def _database(path: Path, upto: int | None = None) -> None:
    db = await Database.open(path, upto=upto)
    await db.close()


# --- a PostgreSQL store ---------------------------------------------------------------------


def write_pg(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "companion.toml"
    body = ["[storage]", f'url = "{url}"', 'key_path = "companion.key"', "", "[console]"]
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    return path


def pg_tables(url: str) -> list[str]:
    """The tables in the database (the test's schema) at ``url``."""
    from companion.store.postgres.db import PgDatabase

    async def names() -> list[str]:
        db = await PgDatabase.open_readonly(url)
        try:
            rows = await db.fetchall(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
            return sorted(str(row[0]) for row in rows)
        finally:
            await db.close()

    return asyncio.run(names())


def test_an_empty_postgresql_database_passes_and_is_left_empty(postgres, tmp_path, capsys):
    url = postgres.fresh_database()
    code, lines = doctor(write_pg(tmp_path, url), capsys)
    assert code == 0, lines
    assert f"ok    database: {url}: empty, made at first start" in lines
    assert any("every process on this database needs this same file" in x for x in lines)
    assert pg_tables(url) == []  # nothing made, not even the migrations table


def test_a_postgresql_database_in_use_and_one_behind(postgres, tmp_path, capsys):
    from companion.store.postgres.db import PgDatabase, migrations

    url = postgres.fresh_database()
    latest = len(migrations())

    async def migrated(upto: int | None) -> None:
        db = await PgDatabase.open(url, upto=upto)
        await db.close()

    asyncio.run(migrated(latest - 1))
    load_or_create_key(tmp_path / "companion.key")
    code, lines = doctor(write_pg(tmp_path, url), capsys)
    [(line, fix)] = failing(lines)
    assert code == 1
    assert f"is at migration {latest - 1}; this Companion needs {latest}" in line
    assert "pg_dump" in fix and f"applies the migrations {latest}-{latest}" in fix

    async def version() -> int:
        db = await PgDatabase.open_readonly(url)
        try:
            return await db.version()
        finally:
            await db.close()

    assert asyncio.run(version()) == latest - 1  # the doctor migrated nothing
    asyncio.run(migrated(None))
    code, lines = doctor(write_pg(tmp_path, url), capsys)
    assert code == 0, lines
    assert f"ok    database: {url}: reachable, at migration {latest}" in lines


def test_an_unreachable_postgresql_server_says_what_to_check(tmp_path, capsys):
    import socket

    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://companion@127.0.0.1:{port}/companion"
    code, lines = doctor(write_pg(tmp_path, url), capsys)
    [(line, fix)] = failing(lines)
    assert code == 1
    assert line.startswith(f"FAIL  database: cannot open the PostgreSQL store {url}")
    assert "[storage] url" in fix and "COMPANION_DATABASE_PASSWORD" in fix
