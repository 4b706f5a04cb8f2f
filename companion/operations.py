"""Operator commands: `companion db backup|check` and `companion content reload`.

Kept out of cli.py so the command line stays a short list of verbs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from companion import content as content_module
from companion.config import ConfigError, Settings, default_db_path
from companion.platforms import load_settings


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("db", help="back up or check the SQLite file")
    db_sub = db.add_subparsers(required=True, metavar="ACTION")
    backup = db_sub.add_parser(
        "backup", help="a consistent copy of the database, safe while the bot runs"
    )
    backup.add_argument("path", type=Path, help="the new file to write (must not exist)")
    _where(backup)
    backup.set_defaults(func=_backup)
    check = db_sub.add_parser(
        "check", help="integrity check, migration level and row counts per table"
    )
    _where(check)
    check.set_defaults(func=_check)
    migrate = db_sub.add_parser(
        "migrate", help="copy the SQLite database into an empty PostgreSQL one, then verify"
    )
    migrate.add_argument("--to", required=True, help="postgresql://user@host/db (empty)")
    _where(migrate)
    migrate.set_defaults(func=_migrate)


def add_reload_parser(content_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reload = content_sub.add_parser(
        "reload",
        help="check the content files, then tell the running `companion run` to swap them in",
    )
    reload.add_argument("--config", type=Path, required=True, help="the running bot's config")
    reload.set_defaults(func=_reload)


def _where(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--config", type=Path, help="take the database path from this config")
    group.add_argument("--db", type=Path, help=f"the SQLite file (default: {default_db_path()})")


def _db_path(args: argparse.Namespace) -> Path:
    if args.config is not None:
        return load_settings(args.config).db_path
    return args.db or default_db_path()


def _database_url(args: argparse.Namespace) -> str | None:
    """The config's PostgreSQL [storage] url, when it names one (None: a SQLite file)."""
    if args.config is None:
        return None
    return load_settings(args.config).database_url


def _backup(args: argparse.Namespace) -> int:
    url = _database_url(args)
    if url is not None:
        from companion.store.postgres.maintenance import pg_dump_command

        key = load_settings(args.config).key_file
        print(
            "companion: no backup written: [storage] url is a PostgreSQL database, which "
            "`db backup` does not copy; back it up with pg_dump (it takes the password from "
            "PGPASSWORD or ~/.pgpass)"
            + (f" and keep a copy of {key}" if key is not None else "")
            + f"; run: {pg_dump_command(url, str(args.path))}",
            file=sys.stderr,
        )
        return 2
    from companion.store import maintenance  # not on `companion run`'s way

    source = _db_path(args)
    try:
        version = asyncio.run(maintenance.backup(source, args.path))
    except maintenance.MaintenanceError as error:
        print(f"companion: no backup written: {error}", file=sys.stderr)
        return 2
    print(f"backed up {source} to {args.path} (migration {version}, integrity ok)")
    key = Settings(db_path=source).key_file
    if key is not None and key.exists():
        print(f"also keep a copy of {key}: anonymous questions' limits and blocks need it")
    return 0


def _check(args: argparse.Namespace) -> int:
    from companion.store import maintenance  # not on `companion run`'s way

    url = _database_url(args)
    if url is not None:
        from companion.config import secret
        from companion.store.postgres import maintenance as pg_maintenance
        from companion.store.postgres.db import StoreUnavailable

        try:
            password = secret("COMPANION_DATABASE_PASSWORD")
            result = asyncio.run(pg_maintenance.check(url, password))
        except StoreUnavailable as error:
            print(f"companion: {error}", file=sys.stderr)
            return 2
    else:
        try:
            result = asyncio.run(maintenance.check(_db_path(args)))
        except maintenance.MaintenanceError as error:
            print(f"companion: {error}", file=sys.stderr)
            return 2
    print(f"database {result.path}")
    if not result.integrity_checked:
        print("  integrity: PostgreSQL checks its pages as it reads them (pg_amcheck: deeper)")
    elif result.integrity_ok:
        print("  integrity: ok")
    else:
        print("  integrity: PROBLEMS (restore a backup, or run sqlite3's .recover)")
        for line in result.integrity[:20]:
            print(f"    {line}")
    if result.version == result.shipped:
        state = "current"
    elif result.version < result.shipped:
        state = "behind: start Companion once to apply the missing migrations"
    else:
        state = "AHEAD of this Companion: a newer version wrote it; upgrade Companion"
    print(f"  migration: {result.version} of {result.shipped} ({state})")
    print("  rows:")
    for table, count in result.rows.items():
        print(f"    {table:<24} {count}")
    return 0 if result.ok else 1


def _migrate(args: argparse.Namespace) -> int:
    from companion.config import secret
    from companion.store.postgres import is_postgres_url
    from companion.store.postgres.copy import CopyError, copy_sqlite_to_postgres
    from companion.store.postgres.db import StoreUnavailable, redact

    if not is_postgres_url(args.to):
        print("companion: --to must be a postgresql:// url", file=sys.stderr)
        return 2
    source = _db_path(args)
    if not source.is_file():
        print(f"companion: there is no SQLite file at {source}", file=sys.stderr)
        return 2
    password = secret("COMPANION_DATABASE_PASSWORD")
    try:
        copied = asyncio.run(copy_sqlite_to_postgres(source, args.to, password))
    except (CopyError, StoreUnavailable) as error:
        print(f"companion: nothing copied: {error}", file=sys.stderr)
        return 2
    print(f"copied {source} to {redact(args.to)}; row counts verified:")
    for table, count in copied.rows.items():
        print(f"    {table:<24} {count}")
    print("now set [storage] url to it and start Companion (keep the key file: [storage] key_path)")
    return 0


# --- content reload ---------------------------------------------------------------------


def pid_file(settings: Settings) -> Path | None:
    """Where `companion run` writes its process id: beside the database, like the key."""
    if str(settings.db_path) == ":memory:":
        return None
    return settings.db_path.with_name(settings.db_path.stem + ".pid")


@contextlib.contextmanager
def running(settings: Settings, where: Path | None) -> Iterator[Callable[[], None]]:
    """The pid file ``where`` while this process runs; call what it yields once serving, to
    write this process's id there for `companion content reload`.

    On SQLite the file is also a lock, taken at once (flock, which the kernel releases when
    the process dies, however it dies): one process owns a SQLite database, and a second
    `companion run` on it would answer every command twice and resend the first one's posts
    in flight, so it refuses to start. On PostgreSQL several processes are the point.
    """
    if where is None:
        yield lambda: None
        return
    # On a host where Companion never ran, nothing has made the data directory yet (the SQLite
    # store makes it when it opens, after this; the PostgreSQL store never does).
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        handle = open(where, "a+", encoding="utf-8")  # closed by the with below
    except OSError as error:
        raise ConfigError(
            f"cannot write {where} beside the database ([storage] path): {error.strerror}."
        ) from None
    with handle:
        if settings.database_url is None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                other = handle.read().strip() or "still starting"
                raise ConfigError(
                    f"another Companion (process {other}) is running on {settings.db_path}: "
                    "stop it first, or give this one its own [storage] path (one process "
                    "per SQLite file; several share a PostgreSQL [storage] url)."
                ) from None
        handle.seek(0)
        handle.truncate()
        handle.flush()

        def serving() -> None:
            handle.write(f"{os.getpid()}\n")
            handle.flush()

        try:
            yield serving
        finally:
            where.unlink(missing_ok=True)


def _reload(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    loaded = content_module.load(settings.content_dir)  # ContentError: file:line, exit 2
    where = pid_file(settings)
    try:
        pid = int(where.read_text().strip()) if where else 0
    except (OSError, ValueError):
        pid = 0
    if pid <= 0:
        print(
            f"companion: no running `companion run` for {args.config} (no pid file {where}); "
            "nothing reloaded. Under systemd: systemctl reload companion",
            file=sys.stderr,
        )
        return 1
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        print(f"companion: {where} names process {pid}, which is not running", file=sys.stderr)
        return 1
    except PermissionError:
        print(
            f"companion: not allowed to signal process {pid}; run this as the bot's user",
            file=sys.stderr,
        )
        return 1
    print(
        f"content OK ({len(loaded.terms)} terms, {len(loaded.prompts)} prompts); "
        f"asked process {pid} to reload; its log says when it has"
    )
    return 0
