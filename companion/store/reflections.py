"""The reflection rotation's history: one question per community per local day."""

from __future__ import annotations

from companion.store.db import Database


class ReflectionRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def use_counts(self, community_id: str) -> dict[str, int]:
        rows = await self.db.fetchall(
            "SELECT reflection_id, COUNT(*) FROM reflection_day WHERE community_id = ? "
            "GROUP BY reflection_id",
            (community_id,),
        )
        return {row[0]: int(row[1]) for row in rows}

    async def claim_day(self, community_id: str, day: str, candidate: str) -> str:
        """Store ``candidate`` for the day unless one is stored already; return the day's id.

        One statement, so two processes (or a post and a command) racing agree on the answer.
        """
        row = await self.db.fetchone(
            "INSERT INTO reflection_day (community_id, day, reflection_id) VALUES (?, ?, ?) "
            "ON CONFLICT (community_id, day) DO UPDATE SET reflection_id = reflection_id "
            "RETURNING reflection_id",
            (community_id, day, candidate),
        )
        assert row is not None
        return str(row[0])
