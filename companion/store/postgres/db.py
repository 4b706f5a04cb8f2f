"""PostgreSQL through an asyncpg pool: migrations in a table, transactions, lost connections.

The repositories' shared statements carry ``?`` marks; ``numbered`` turns them into asyncpg's
``$1, $2, ...`` once per statement (asyncpg then prepares and caches it per connection).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from importlib import resources
from typing import Any

from companion.store.base import StoreUnavailable, is_postgres_url

__all__ = ["PgDatabase", "StoreUnavailable", "is_postgres_url", "migrations", "redact"]

log = logging.getLogger(__name__)

_MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_MIGRATION_LOCK = 7_140_014  # pg_advisory_xact_lock key: one process migrates at a time


@lru_cache(maxsize=1024)
def numbered(sql: str) -> str:
    """``?`` marks outside quotes become ``$1, $2, ...``."""
    out: list[str] = []
    count = 0
    quoted = False
    for char in sql:
        if char == "'":
            quoted = not quoted
        if char == "?" and not quoted:
            count += 1
            out.append(f"${count}")
        else:
            out.append(char)
    return "".join(out)


def migrations() -> list[tuple[int, str, str]]:
    """(number, name, sql) for every file in companion/store/postgres/migrations, in order."""
    found = []
    folder = resources.files("companion.store.postgres").joinpath("migrations")
    for item in folder.iterdir():
        match = _MIGRATION.match(item.name)
        if match:
            found.append((int(match.group(1)), item.name, item.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..N without gaps, found {numbers}")
    return found


def _lost_connection() -> tuple[type[BaseException], ...]:
    """What asyncpg raises when the server went away (a restart, the network)."""
    import asyncpg

    return (
        asyncpg.PostgresConnectionError,  # includes "the connection was closed mid-command"
        asyncpg.InterfaceError,
        asyncpg.exceptions.AdminShutdownError,  # the server is shutting down or restarting
        asyncpg.exceptions.CannotConnectNowError,  # ... and not accepting connections yet
        OSError,  # refused, reset
        TimeoutError,  # no answer within command_timeout (a server that is unreachable)
    )


def _count(status: str) -> int:
    """asyncpg's command status ("UPDATE 3", "INSERT 0 1") -> rows changed."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class PgTx:
    """Statements on one pooled connection (inside a transaction when one is open)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        return _count(await self.conn.execute(numbered(sql), *params))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            await self.conn.executemany(numbered(sql), rows)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        return list(await self.conn.fetch(numbered(sql), *params))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Any | None:
        return await self.conn.fetchrow(numbered(sql), *params)

    async def insert(self, sql: str, params: Iterable[Any] = ()) -> int | None:
        value = await self.conn.fetchval(numbered(sql), *params)
        return None if value is None else int(value)


class PgDatabase:
    """A pool of connections to one PostgreSQL database."""

    dialect = "postgresql"

    def __init__(self, pool: Any, url: str) -> None:
        self.pool = pool
        self.url = url
        self._unit_owners: set[asyncio.Task[Any]] = set()
        self.available = True  # False from a lost connection until the next one works

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        password: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
        command_timeout: float = 10.0,
        upto: int | None = None,
    ) -> PgDatabase:
        import asyncpg  # an optional extra: only a PostgreSQL store needs it

        try:
            pool = await asyncpg.create_pool(
                url,
                password=password,
                min_size=min_size,
                max_size=max_size,
                timeout=command_timeout,
                command_timeout=command_timeout,
                max_inactive_connection_lifetime=300,
            )
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            raise StoreUnavailable(
                f"cannot open the PostgreSQL store {redact(url)}: {error}"
            ) from (error)
        db = cls(pool, url)
        try:
            await db.migrate(upto)
        except BaseException:
            await pool.close()
            raise
        return db

    @classmethod
    async def open_readonly(
        cls, url: str, *, password: str | None = None, command_timeout: float = 10.0
    ) -> PgDatabase:
        """An existing database, not migrated, every transaction read only (the server
        refuses any write): for checks that must change nothing."""
        import asyncpg

        try:
            pool = await asyncpg.create_pool(
                url,
                password=password,
                min_size=1,
                max_size=2,
                timeout=command_timeout,
                command_timeout=command_timeout,
                server_settings={"default_transaction_read_only": "on"},
            )
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            raise StoreUnavailable(
                f"cannot open the PostgreSQL store {redact(url)}: {error}"
            ) from error
        return cls(pool, url)

    async def close(self) -> None:
        await self.pool.close()

    async def version(self) -> int:
        async with self._conn() as tx:
            exists = await tx.conn.fetchval("SELECT to_regclass('schema_migration') IS NOT NULL")
            if not exists:
                return 0
            return int(
                await tx.conn.fetchval("SELECT COALESCE(MAX(number), 0) FROM schema_migration")
            )

    async def migrate(self, upto: int | None = None) -> int:
        """Apply the migrations not yet in schema_migration, each in its own transaction.

        An advisory lock makes processes starting together take turns.
        """
        current = 0
        for number, name, sql in migrations():
            if upto is not None and number > upto:
                break
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migration (number INTEGER PRIMARY KEY, "
                    "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
                done = await conn.fetchval(
                    "SELECT 1 FROM schema_migration WHERE number = $1", number
                )
                if not done:
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO schema_migration (number, name) VALUES ($1, $2)", number, name
                    )
            current = number
        return current

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[PgTx]:
        if asyncio.current_task() in self._unit_owners:
            # It would take a second pooled connection and could wait on the unit's own locks.
            raise RuntimeError(
                "this task holds a unit of work: use its repositories, not the store's"
            )
        try:
            async with self.pool.acquire() as conn:
                yield PgTx(conn)
        except _lost_connection() as error:
            # The server went away (restarted, network): drop every pooled connection so the
            # next command connects afresh instead of failing on a dead one, and say so as
            # the one type callers wait on (issue 22: a bare ConnectionRefusedError from
            # saving the sync token ended the process).
            if self.available:
                log.warning("lost the PostgreSQL connection (%s); reconnecting on next use", error)
            self.available = False
            await self.pool.expire_connections()
            raise StoreUnavailable(
                f"the PostgreSQL store {redact(self.url)} is unreachable: "
                f"{type(error).__name__}: {error}"
            ) from error
        if not self.available:
            log.warning("the PostgreSQL store is reachable again")
            self.available = True

    async def ping(self) -> bool:
        """Whether the server answers now (for /healthz); never raises."""
        try:
            async with self._conn() as tx:
                await tx.conn.fetchval("SELECT 1", timeout=2)
        except (StoreUnavailable, TimeoutError):
            return False
        return True

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgTx]:
        async with self._conn() as tx, tx.conn.transaction():
            yield tx

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[PgBound]:
        """One transaction on one pooled connection for several repositories.

        Commits when the block ends normally, rolls back on any exception (a cancelled task
        included). A repository's own transaction inside it is a savepoint.
        """
        task = asyncio.current_task()
        async with self._conn() as tx, tx.conn.transaction():
            bound = PgBound(tx.conn)
            if task is not None:
                self._unit_owners.add(task)
            try:
                yield bound
            finally:
                bound.closed = True
                self._unit_owners.discard(task)

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        async with self._conn() as tx:
            return await tx.execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        async with self._conn() as tx:
            return await tx.fetchall(sql, params)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Any | None:
        async with self._conn() as tx:
            return await tx.fetchone(sql, params)

    async def insert(self, sql: str, params: Iterable[Any] = ()) -> int | None:
        async with self._conn() as tx:
            return await tx.insert(sql, params)


class PgBound(PgTx):
    """The connection inside a unit of work, seen as a database by the repositories."""

    dialect = "postgresql"

    def __init__(self, conn: Any) -> None:
        super().__init__(conn)
        self.closed = False

    def _check(self) -> None:
        if self.closed:
            raise RuntimeError("this unit of work has ended; its repositories are closed")

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        self._check()
        return await super().execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._check()
        await super().executemany(sql, rows)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        self._check()
        return await super().fetchall(sql, params)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Any | None:
        self._check()
        return await super().fetchone(sql, params)

    async def insert(self, sql: str, params: Iterable[Any] = ()) -> int | None:
        self._check()
        return await super().insert(sql, params)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgTx]:
        self._check()
        async with self.conn.transaction():  # nested: asyncpg makes it a savepoint
            yield self

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[PgBound]:
        raise RuntimeError("a unit of work cannot start another inside itself")
        yield self  # pragma: no cover  (makes this a generator)

    async def close(self) -> None:
        self.closed = True


def redact(url: str) -> str:
    """The url without a password (``user:PASSWORD@`` or a ``password=`` parameter, which
    libpq and asyncpg both read), for messages and logs."""
    url = re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", url, flags=re.IGNORECASE)
