"""Search a whole database for a value: how privacy tests prove nothing names a member."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from companion.store import Database, Store
from companion.store.postgres import PgDatabase


def columns_containing(db_path: Path | str, needle: str) -> list[str]:
    """Every table.column whose text contains ``needle`` in at least one row."""
    conn = sqlite3.connect(db_path)
    try:
        found = []
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for column in [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]:
                query = f"SELECT COUNT(*) FROM {table} WHERE CAST({column} AS TEXT) LIKE ?"  # noqa: S608
                if conn.execute(query, (f"%{needle}%",)).fetchone()[0]:
                    found.append(f"{table}.{column}")
        return found
    finally:
        conn.close()


async def store_columns_containing(store: Store, needle: str) -> list[str]:
    """The same search on whichever store an app runs on (SQLite or PostgreSQL)."""
    db = store.db
    if isinstance(db, Database):
        return columns_containing(db.path, needle)
    assert isinstance(db, PgDatabase)
    found = []
    columns = await db.fetchall(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    )
    for table, column in columns:
        query = f'SELECT COUNT(*) FROM "{table}" WHERE CAST("{column}" AS TEXT) LIKE ?'  # noqa: S608
        row = await db.fetchone(query, (f"%{needle}%",))
        if row and row[0]:
            found.append(f"{table}.{column}")
    return found
