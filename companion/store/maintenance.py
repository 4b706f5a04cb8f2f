"""Operator tools for the SQLite file: an online backup and a health check.

Both run on plain sqlite3 connections in a worker thread (asyncio.to_thread), so a running
bot's event loop never waits for them, and both work while another process writes.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from companion.store.db import migrations


class MaintenanceError(Exception):
    """The database cannot be backed up or checked; the message says why."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    path: Path | str  # the SQLite file, or the PostgreSQL url without its password
    integrity: list[str]  # ["ok"] when SQLite finds nothing wrong
    version: int  # PRAGMA user_version (PostgreSQL: schema_migration): the last one applied
    shipped: int  # the last migration this version of Companion ships
    rows: dict[str, int] = field(default_factory=dict)
    integrity_checked: bool = True  # False on PostgreSQL, which checks pages as it reads

    @property
    def integrity_ok(self) -> bool:
        return not self.integrity_checked or self.integrity == ["ok"]

    @property
    def ok(self) -> bool:
        return self.integrity_ok and self.version == self.shipped


def _open_read_only(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise MaintenanceError(f"No database at {path}.")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA schema_version").fetchone()  # fails here if it is no database
    except sqlite3.DatabaseError as error:
        raise MaintenanceError(f"{path} is not a readable SQLite database: {error}") from None
    return conn


def _backup(source: Path, target: Path) -> int:
    """Copy source to target in one backup step: one read snapshot, writers carry on (WAL)."""
    if target.exists():
        raise MaintenanceError(f"{target} exists already; choose a new file name.")
    if not target.parent.is_dir():
        raise MaintenanceError(f"No directory {target.parent} to write the backup into.")
    partial = target.with_name(target.name + ".partial")
    src = _open_read_only(source)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # pages=-1: the whole file under one read transaction
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            (result,) = dst.execute("PRAGMA quick_check").fetchone()
            (version,) = dst.execute("PRAGMA user_version").fetchone()
        finally:
            dst.close()
    except (sqlite3.Error, OSError) as error:  # a directory it may not write in (/proc, ro)
        partial.unlink(missing_ok=True)
        raise MaintenanceError(f"cannot write {partial}: {error}.") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    if result != "ok":
        partial.unlink(missing_ok=True)
        raise MaintenanceError(f"The copy of {source} failed its check: {result}")
    os.chmod(partial, 0o600)
    os.replace(partial, target)
    return int(version)


async def backup(source: Path, target: Path) -> int:
    """A consistent copy of a live database (SQLite's online backup API, not a file copy).

    Returns the copy's migration level. The copy appears under its name only when complete.
    """
    return await asyncio.to_thread(_backup, source, target)


def _check(path: Path) -> CheckResult:
    conn = _open_read_only(path)
    rows: dict[str, int] = {}
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        try:
            integrity = [str(row[0]) for row in conn.execute("PRAGMA integrity_check")]
            tables = [
                str(name)
                for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            for table in tables:
                quoted = '"' + table.replace('"', '""') + '"'  # a name from sqlite_master
                (count,) = conn.execute(f"SELECT count(*) FROM {quoted}").fetchone()  # noqa: S608
                rows[table] = int(count)
        except sqlite3.DatabaseError as error:  # too damaged to finish the check
            integrity = [f"{error}"]
    finally:
        conn.close()
    return CheckResult(path, integrity, int(version), len(migrations()), rows)


async def check(path: Path) -> CheckResult:
    """PRAGMA integrity_check, the migration level against the shipped ones, rows per table."""
    return await asyncio.to_thread(_check, path)
