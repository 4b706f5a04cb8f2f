"""Community settings."""

from __future__ import annotations

from companion.store.base import Db


class CommunityRepo:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def timezones(self) -> dict[str, str]:
        rows = await self.db.fetchall(
            "SELECT community_id, timezone FROM community WHERE timezone IS NOT NULL"
        )
        return {row[0]: row[1] for row in rows}

    async def set_timezone(self, community_id: str, timezone: str) -> None:
        await self.db.execute(
            "INSERT INTO community (community_id, timezone) VALUES (?, ?) "
            "ON CONFLICT (community_id) DO UPDATE SET timezone = excluded.timezone",
            (community_id, timezone),
        )
