"""A community's own discussion prompts, and which prompts its discussions have used."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from companion.store.base import Db
from companion.store.schedules import iso


class PromptRow(NamedTuple):
    id: int
    community_id: str
    title: str
    text: str
    tags: tuple[str, ...]
    author_id: str | None
    created_at: str


class PromptRepo:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def add(
        self,
        community_id: str,
        title: str,
        text: str,
        tags: tuple[str, ...],
        author_id: str,
        now: datetime,
    ) -> int:
        async with self.db.transaction() as tx:
            new_id = await tx.insert(
                "INSERT INTO prompt (community_id, title, text, tags, author_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (community_id, title, text, " ".join(tags), author_id, iso(now)),
            )
            return new_id or 0

    async def for_community(self, community_id: str) -> list[PromptRow]:
        rows = await self.db.fetchall(
            "SELECT id, community_id, title, text, tags, author_id, created_at FROM prompt "
            "WHERE community_id = ? AND removed_at IS NULL ORDER BY id",
            (community_id,),
        )
        return [PromptRow(r[0], r[1], r[2], r[3], tuple(r[4].split()), r[5], r[6]) for r in rows]

    async def remove(self, community_id: str, prompt_id: int, now: datetime) -> bool:
        changed = await self.db.execute(
            "UPDATE prompt SET removed_at = ? WHERE id = ? AND community_id = ? "
            "AND removed_at IS NULL",
            (iso(now), prompt_id, community_id),
        )
        return changed == 1

    async def used(self, community_id: str) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT prompt_ref FROM prompt_use WHERE community_id = ?", (community_id,)
        )
        return {r[0] for r in rows}

    async def mark_used(self, community_id: str, ref: str, now: datetime) -> None:
        await self.db.execute(
            "INSERT INTO prompt_use (community_id, prompt_ref, used_at) VALUES (?, ?, ?) "
            "ON CONFLICT (community_id, prompt_ref) DO UPDATE SET used_at = excluded.used_at",
            (community_id, ref, iso(now)),
        )

    async def reset_used(self, community_id: str) -> None:
        await self.db.execute("DELETE FROM prompt_use WHERE community_id = ?", (community_id,))
