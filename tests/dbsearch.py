"""Search a whole SQLite file for a value: how privacy tests prove nothing names a member."""

from __future__ import annotations

import sqlite3
from pathlib import Path


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
