"""`companion doctor`'s store lines: the database (SQLite file or PostgreSQL server) and the
key file. Nothing here changes anything: the database is opened read only, never migrated."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from companion.checklist import Check, failed, passed
from companion.config import Settings, secret
from companion.identity import read_key
from companion.store import Store, maintenance
from companion.store.maintenance import MaintenanceError
from companion.store.postgres.db import PgDatabase, StoreUnavailable, migrations, redact

PASSWORD_VARIABLE = "COMPANION_DATABASE_PASSWORD"


@dataclass(slots=True)
class Found:
    store: Store | None  # read only; None when missing, unreadable or not at this version
    checks: list[Check]
    in_use: bool  # it holds a community's data (so losing the key would cost something)


async def database(settings: Settings) -> Found:
    if settings.database_url is not None:
        return await _postgres(settings.database_url)
    return await _sqlite(settings)


def _migration(shown: str, version: int, latest: int, backup: str) -> Check | None:
    """The failing line for a database at another migration than this Companion's."""
    if version < latest:
        fix = (
            f"{backup}, then start `companion run` once: it applies the migrations "
            f"{version + 1}-{latest} at start"
        )
        detail = f"{shown} is at migration {version}; this Companion needs {latest}"
        return failed("database migration", detail, fix)
    if version > latest:
        detail = f"{shown} is at migration {version}, newer than this Companion ({latest})"
        fix = "install the Companion version that wrote it (or a newer one)"
        return failed("database migration", detail, fix)
    return None


async def _postgres(url: str) -> Found:
    shown = redact(url)
    reach = (
        "check [storage] url (host, port, database, user), that the server runs and lets "
        f"this user in, and {PASSWORD_VARIABLE} (or {PASSWORD_VARIABLE}_FILE) if it needs one"
    )
    try:  # without asyncpg: ModuleNotFoundError, one line from `companion` (companion.extras)
        db = await PgDatabase.open_readonly(url, password=secret(PASSWORD_VARIABLE))
    except StoreUnavailable as error:
        return Found(None, [failed("database", str(error), reach)], False)
    store = Store(db)
    found = await _postgres_checks(db, shown, reach)
    if found.in_use and all(check.ok for check in found.checks):
        found.store = store  # for the platform checks; they close it
    else:
        await store.close()
    return found


async def _postgres_checks(db: PgDatabase, shown: str, reach: str) -> Found:
    try:
        version = await db.version()
        row = await db.fetchone(
            "SELECT current_schema(), "
            "COALESCE(has_schema_privilege(current_schema(), 'CREATE'), FALSE), "
            "COALESCE(has_table_privilege(to_regclass('schedule')::oid, "
            "'INSERT, UPDATE, DELETE'), FALSE)"
        )
        assert row is not None
        schema, can_create, can_write = row
    except Exception as error:  # the server went away, or refused the user a catalog read
        return Found(None, [failed("database", f"{shown}: {error}", reach)], False)
    if version == 0:
        if schema is None or not can_create:
            detail = f"{shown} is empty and this user may not create tables in it"
            fix = "GRANT CREATE ON SCHEMA public TO the user, or use a database it owns"
            return Found(None, [failed("database", detail, fix)], False)
        return Found(None, [passed("database", f"{shown}: empty, made at first start")], False)
    behind = _migration(shown, version, len(migrations()), "back it up (pg_dump)")
    if behind is not None:
        return Found(None, [behind], True)
    if not can_write:
        detail = f"{shown}: this user may read Companion's tables but not change them"
        fix = "GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO the user"
        return Found(None, [failed("database", detail, fix)], True)
    return Found(None, [passed("database", f"{shown}: reachable, at migration {version}")], True)


async def _sqlite(settings: Settings) -> Found:
    path = settings.db_path
    if str(path) == ":memory:":
        return Found(None, [passed("database", "in memory: nothing is kept between runs")], False)
    if not path.exists():
        parent = _existing_parent(path)
        if not os.access(parent, os.W_OK | os.X_OK):
            detail = f"{path} does not exist and {parent} is not writable, so it cannot be made"
            fix = "let the user that runs Companion write there, or set [storage] path"
            return Found(None, [failed("database", detail, fix)], False)
        return Found(
            None, [passed("database", f"{path} does not exist yet: made at first start")], False
        )
    try:
        found = await maintenance.check(path)
    except MaintenanceError as error:
        fix = "set [storage] path to Companion's database, or restore it from a backup"
        return Found(None, [failed("database", str(error), fix)], True)
    checks = []
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        checks.append(
            failed(
                "database",
                f"{path} (or its directory, where SQLite keeps its journal) is read only",
                f"let the user that runs Companion write {path} and {path.parent}",
            )
        )
    if not found.integrity_ok:
        checks.append(
            failed(
                "database integrity",
                f"{path} fails SQLite's integrity check: {'; '.join(found.integrity[:3])}",
                "stop Companion and put back your latest backup of the database",
            )
        )
    backup = "back the file up (`companion db backup`)"
    behind = _migration(str(path), found.version, found.shipped, backup)
    if behind is not None:
        return Found(None, [*checks, behind], True)
    checks.append(passed("database", f"{path}: intact, at migration {found.version}"))
    return Found(await Store.open_readonly(path), checks, True)


def key_file(settings: Settings, in_use: bool) -> Check:
    check = _key_file(settings, in_use)
    if check.ok and settings.database_url is not None and settings.key_file is not None:
        shared = "; every process on this database needs this same file"
        return passed(check.name, check.detail + shared)
    return check


def _key_file(settings: Settings, in_use: bool) -> Check:
    path = settings.key_file
    if path is None:
        return passed("key file", "in memory, with the database")
    if not path.exists():
        if in_use:
            return failed(
                "key file",
                f"{path} is missing but the database exists: a new key would be made, and "
                "the anonymous-question limits and direct rooms kept under the old one lost",
                f"restore the key file from your backup to {path} (chmod 600), or set "
                "[storage] key_path to where it is",
            )
        return passed("key file", f"{path} does not exist yet: made at first start (mode 600)")
    try:
        read_key(path)
    except (OSError, ValueError) as error:
        return failed(
            "key file",
            f"cannot use {path}: {error}",
            "let the user that runs Companion read it, or restore it from your backup",
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return failed(
            "key file",
            f"{path} is mode {mode:o}: other users on this machine can read it",
            f"chmod 600 {path}",
        )
    return passed("key file", f"{path}: readable, mode {mode:o}")


def _existing_parent(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path("/")
