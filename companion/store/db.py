"""One SQLite file through aiosqlite: PRAGMAs, migrations by user_version, transactions."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiosqlite

from companion.config import ConfigError

_MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str]]:
    """(number, sql) for every file in companion/store/migrations, in order."""
    found = []
    for item in resources.files("companion.store").joinpath("migrations").iterdir():
        match = _MIGRATION.match(item.name)
        if match:
            found.append((int(match.group(1)), item.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..N without gaps, found {numbers}")
    return found


class SqliteTx:
    """Statements on the connection while its transaction (and the lock) is held."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        cursor = await self.conn.execute(sql, tuple(params))
        count = cursor.rowcount
        await cursor.close()
        return count

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.conn.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        return list(await self.conn.execute_fetchall(sql, tuple(params)))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def insert(self, sql: str, params: Iterable[Any] = ()) -> int | None:
        row = await self.fetchone(sql, params)
        return None if row is None or row[0] is None else int(row[0])


async def _connect(database: str, **options: Any) -> aiosqlite.Connection:
    pending = aiosqlite.connect(database, isolation_level=None, **options)
    # The worker thread must not keep the process alive if a close is ever missed (a
    # cancelled shutdown): SQLite's transactions make an abrupt exit safe.
    worker = getattr(pending, "_thread", None)
    if worker is not None and not worker.is_alive():
        worker.daemon = True
    return await pending


class Database:
    """The connection, plus a lock so one task's transaction never mixes with another's."""

    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self.conn = conn
        self.path = path
        self._lock = asyncio.Lock()
        self._unit_owner: asyncio.Task[Any] | None = None

    @classmethod
    async def open(cls, path: str | Path, *, upto: int | None = None) -> Database:
        path = str(path)
        try:
            if path != ":memory:":
                # Before aiosqlite, whose failed connect leaves its thread behind; one stat
                # at start, as the mkdir below.
                if Path(path).is_dir():  # noqa: ASYNC240
                    raise IsADirectoryError(f"{path} is a directory")
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = await _connect(path)
        except (OSError, ValueError, sqlite3.Error) as error:  # a directory, /proc, a NUL
            raise ConfigError(
                f"cannot open the SQLite file {path} ([storage] path, or --db): {error}."
            ) from None
        try:
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await conn.execute("PRAGMA busy_timeout = 5000")
            await conn.execute("PRAGMA synchronous = NORMAL")
            db = cls(conn, path)
            await db.migrate(upto)
        except BaseException:
            await conn.close()
            raise
        return db

    @classmethod
    async def open_readonly(cls, path: str | Path) -> Database:
        """An existing file as it is, read only and never migrated (for checks)."""
        uri = f"file:{quote(str(path))}?mode=ro"
        conn = await _connect(uri, uri=True)
        try:
            await conn.execute("PRAGMA busy_timeout = 5000")
            await conn.execute("PRAGMA schema_version")  # fails here if it is no database
        except BaseException:
            await conn.close()
            raise
        return cls(conn, str(path))

    async def close(self) -> None:
        await self.conn.close()

    async def version(self) -> int:
        rows = await self.conn.execute_fetchall("PRAGMA user_version")
        return int(list(rows)[0][0])

    async def migrate(self, upto: int | None = None) -> int:
        """Apply the migrations above user_version, each in its own transaction."""
        current = await self.version()
        for number, sql in migrations():
            if number <= current or (upto is not None and number > upto):
                continue
            async with self._lock:
                try:
                    await self.conn.executescript(
                        f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number:d};\nCOMMIT;"
                    )
                except Exception:
                    if self.conn.in_transaction:
                        await self.conn.execute("ROLLBACK")
                    raise
            current = number
        return current

    @asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        """Hold the connection for one statement or transaction."""
        if self._unit_owner is not None and self._unit_owner is asyncio.current_task():
            raise RuntimeError(
                "this task holds a unit of work: use its repositories, not the store's"
            )
        async with self._lock:
            yield

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTx]:
        async with self._guard():
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteTx(self.conn)
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            await self.conn.execute("COMMIT")

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[Database]:
        """One transaction for several repositories: a Database bound to it.

        Commits when the block ends normally and rolls back on any exception (a cancelled
        task included). Other tasks wait for the connection meanwhile, so keep the block to
        database work: no network calls inside.
        """
        async with self._guard():
            self._unit_owner = asyncio.current_task()
            bound = _BoundDatabase(self.conn, self.path)
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield bound
                except BaseException:
                    await self.conn.execute("ROLLBACK")
                    raise
                await self.conn.execute("COMMIT")
            finally:
                bound.closed = True
                self._unit_owner = None

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self._guard():
            return list(await self.conn.execute_fetchall(sql, tuple(params)))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """One write statement on its own; returns the number of rows changed."""
        async with self._guard():
            return await SqliteTx(self.conn).execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    async def insert(self, sql: str, params: Iterable[Any] = ()) -> int | None:
        async with self.transaction() as tx:
            return await tx.insert(sql, params)


class _BoundDatabase(Database):
    """The connection inside a unit of work: no lock of its own (the unit holds it), and a
    repository's own transaction becomes a savepoint, so its all-or-nothing still holds."""

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        super().__init__(conn, path)
        self.closed = False
        self._savepoints = 0

    @asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        if self.closed:
            raise RuntimeError("this unit of work has ended; its repositories are closed")
        yield

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTx]:
        async with self._guard():
            self._savepoints += 1
            name = f"repo_{self._savepoints:d}"
            await self.conn.execute(f"SAVEPOINT {name}")
            try:
                yield SqliteTx(self.conn)
            except BaseException:
                await self.conn.execute(f"ROLLBACK TO {name}")
                await self.conn.execute(f"RELEASE {name}")
                raise
            await self.conn.execute(f"RELEASE {name}")

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[Database]:
        raise RuntimeError("a unit of work cannot start another inside itself")
        yield self  # pragma: no cover  (makes this a generator)
