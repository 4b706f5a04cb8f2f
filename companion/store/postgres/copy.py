"""`companion db migrate --to postgresql://...`: copy a SQLite database into an empty
PostgreSQL one, every table with its keys, move the id counters past the copied ids, and
verify the row counts.

Tables are copied parents first (by their foreign keys) in one PostgreSQL transaction with
binary COPY, so a failure part-way leaves the target as empty as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from companion.store.db import Database
from companion.store.postgres.db import PgDatabase


class CopyError(Exception):
    """The copy cannot be made; nothing was written. The message says why."""


class Copied(NamedTuple):
    rows: dict[str, int]  # table -> rows, in copy order


def _quote(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise CopyError(f"unexpected table or column name {name!r}")
    return f'"{name}"'


async def _sqlite_tables(db: Database) -> dict[str, tuple[list[str], set[str]]]:
    """table -> (columns, tables it references), from SQLite's own catalogue."""
    names = [
        str(row[0])
        for row in await db.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    tables: dict[str, tuple[list[str], set[str]]] = {}
    for name in names:
        columns = [str(r[1]) for r in await db.fetchall(f"PRAGMA table_info({_quote(name)})")]
        parents = {str(r[2]) for r in await db.fetchall(f"PRAGMA foreign_key_list({_quote(name)})")}
        tables[name] = (columns, parents - {name})
    return tables


def _parents_first(tables: dict[str, tuple[list[str], set[str]]]) -> list[str]:
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(tables):
        ready = sorted(
            t for t, (_, parents) in tables.items() if t not in placed and parents <= placed
        )
        if not ready:
            raise CopyError("the tables' foreign keys form a cycle; cannot order the copy")
        order += ready
        placed.update(ready)
    return order


async def copy_sqlite_to_postgres(source: Path, url: str, password: str | None) -> Copied:
    sqlite = await Database.open(source)  # brings it to the latest migration first
    try:
        pg = await PgDatabase.open(url, password=password)
    except BaseException:
        await sqlite.close()
        raise
    try:
        return await _copy(sqlite, pg)
    finally:
        await pg.close()
        await sqlite.close()


async def _copy(sqlite: Database, pg: PgDatabase) -> Copied:
    tables = await _sqlite_tables(sqlite)
    present = {
        str(r[0])
        for r in await pg.fetchall(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE'"
        )
    }
    missing = sorted(set(tables) - present)
    if missing:
        raise CopyError(f"the PostgreSQL schema lacks table(s) {', '.join(missing)}")
    for table in tables:
        row = await pg.fetchone(f"SELECT EXISTS (SELECT 1 FROM {_quote(table)})")  # noqa: S608
        if row and row[0]:
            raise CopyError(f"the PostgreSQL database is not empty: {table} has rows")
    order = _parents_first(tables)
    copied: dict[str, int] = {}
    async with pg.transaction() as tx:
        for table in order:
            columns = tables[table][0]
            rows = await sqlite.fetchall(
                f"SELECT {', '.join(_quote(c) for c in columns)} FROM {_quote(table)}"  # noqa: S608
            )
            if rows:
                await tx.conn.copy_records_to_table(
                    table, records=[tuple(r) for r in rows], columns=columns
                )
            copied[table] = len(rows)
            if "id" in columns:
                await tx.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"COALESCE(MAX(id), 0) + 1, false) FROM {_quote(table)}"
                )
        for table in order:
            row = await tx.fetchone(f"SELECT COUNT(*) FROM {_quote(table)}")  # noqa: S608
            counted = int(row[0]) if row else -1
            if counted != copied[table]:
                raise CopyError(
                    f"{table}: copied {copied[table]} rows but PostgreSQL counts {counted}"
                )
    return Copied(copied)
