"""Adding a community's exported entries back, all in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from companion.store.base import Db


@dataclass(frozen=True, slots=True)
class Entries:
    prompts: Sequence[tuple[str, str, tuple[str, ...], str]]  # title, text, tags, created_at
    resources: Sequence[tuple[str, str, str, tuple[str, ...], str]]  # url, key, title, tags, at
    terms: Sequence[tuple[str, str, str]]  # term, definition, added_at


class ExchangeRepo:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def add_all(self, community_id: str, entries: Entries) -> None:
        """Everything or nothing; a link the community already has is skipped, not doubled."""
        async with self.db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO prompt (community_id, title, text, tags, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(community_id, t, x, " ".join(g), at) for t, x, g, at in entries.prompts],
            )
            await tx.executemany(
                "INSERT INTO community_resource (community_id, url, url_key, title, tags, "
                "added_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(community_id, u, k, t, " ".join(g), at) for u, k, t, g, at in entries.resources],
            )
            await tx.executemany(
                "INSERT INTO community_term (community_id, term, definition, added_at) "
                "VALUES (?, ?, ?, ?)",
                [(community_id, *term) for term in entries.terms],
            )
