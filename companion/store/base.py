"""What every repository sees of a database: the same few calls on SQLite and PostgreSQL.

Repositories write their statements with ``?`` marks in the SQL both engines share; each
database binds them its own way (sqlite3 takes ``?``; the PostgreSQL store numbers them
``$1, $2, ...``). What the engines do differently (the schema and its migrations, leases
with ``FOR UPDATE SKIP LOCKED``) each store writes in its own SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol


class StoreUnavailable(RuntimeError):
    """The database server cannot be reached (stopped, restarting, the network); the message
    says which and why. Every lost connection surfaces as this one type, so callers can wait
    and try again (the scheduler, the sync token) or apologise (a command), whatever the
    driver raised underneath."""


def is_postgres_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


Row = Any  # a sqlite3 row or an asyncpg Record: both index and unpack like a tuple


class Tx(Protocol):
    """Statements inside one transaction."""

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int: ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]: ...

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None: ...

    async def insert(self, sql: str, params: Iterable[Any] = ()) -> int | None:
        """An INSERT ... RETURNING id: the new id, or None when nothing was inserted."""
        ...


class Db(Tx, Protocol):
    """A database: each call on its own, or several in ``transaction()``."""

    dialect: str  # "sqlite" or "postgresql"

    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...

    def unit(self) -> AbstractAsyncContextManager[Db]:
        """One transaction for several repositories (Store.unit_of_work)."""
        ...

    async def close(self) -> None: ...
