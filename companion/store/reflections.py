"""The reflection rotation's history: one question per community per local day."""

from __future__ import annotations

from companion.store.base import Db


class ReflectionRepo:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def use_counts(self, community_id: str) -> dict[str, int]:
        rows = await self.db.fetchall(
            "SELECT reflection_id, COUNT(*) FROM reflection_day WHERE community_id = ? "
            "GROUP BY reflection_id",
            (community_id,),
        )
        return {row[0]: int(row[1]) for row in rows}

    async def use_counts_many(self, community_ids: list[str]) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {c: {} for c in community_ids}
        for start in range(0, len(community_ids), 500):
            chunk = community_ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = await self.db.fetchall(
                "SELECT community_id, reflection_id, COUNT(*) FROM reflection_day "  # noqa: S608
                f"WHERE community_id IN ({marks}) GROUP BY community_id, reflection_id",
                chunk,
            )
            for community_id, reflection_id, count in rows:
                counts[community_id][reflection_id] = int(count)
        return counts

    async def claim_days(self, picks: list[tuple[str, str, str]]) -> dict[tuple[str, str], str]:
        """Store each (community, day, candidate) unless that day has one; return the days' ids.

        One statement per 300 picks, so two processes (or a post and a command) racing agree.
        """
        chosen: dict[tuple[str, str], str] = {}
        for start in range(0, len(picks), 300):
            chunk = picks[start : start + 300]
            values = ", ".join("(?, ?, ?)" for _ in chunk)
            rows = await self.db.fetchall(
                "INSERT INTO reflection_day (community_id, day, reflection_id) "  # noqa: S608
                f"VALUES {values} ON CONFLICT (community_id, day) "
                "DO UPDATE SET reflection_id = reflection_day.reflection_id "
                "RETURNING community_id, day, reflection_id",
                [value for pick in chunk for value in pick],
            )
            chosen.update({(row[0], row[1]): str(row[2]) for row in rows})
        return chosen
