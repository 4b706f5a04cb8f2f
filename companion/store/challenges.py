"""Challenges: a community's walk along a learning path, its days, members and check-ins.

Members' rows are private: features show a member their own and everyone else counts only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from companion.store.base import Db
from companion.store.schedules import iso

_CHALLENGE = (
    "id, community_id, platform, room_id, path_id, title, days, timezone, status, paused_at, "
    "created_by, created_at"
)


class ChallengeRow(NamedTuple):
    id: int
    community_id: str
    platform: str
    room_id: str
    path_id: str
    title: str
    days: int
    timezone: str
    status: str
    paused_at: str | None
    created_by: str | None
    created_at: str


class SlotRow(NamedTuple):
    """A day's thread ('day') or its evening round of private messages ('tick')."""

    challenge_id: int
    kind: str
    day: int
    at: str  # UTC ISO-8601
    schedule_id: int | None


class ChallengeMember(NamedTuple):
    member_id: str
    joined_day: int
    remind: bool  # a private nudge on a day not checked in
    review: bool  # the spaced review questions (N+3, N+10)


class MyChallenge(NamedTuple):
    """One challenge as the member's own data (mydata)."""

    title: str
    status: str
    joined_day: int | None  # None: left, with check-ins kept
    remind: bool
    checked: tuple[int, ...]
    review: bool = False


class OwnPathRow(NamedTuple):
    """A community's own learning path; ``days`` is its validated [[path.day]] tables, JSON."""

    path_id: str
    title: str
    summary: str
    days: str
    added_at: str


class ChallengeRepo:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def add(
        self,
        community_id: str,
        platform: str,
        room_id: str,
        path_id: str,
        title: str,
        days: int,
        timezone: str,
        by: str,
        now: datetime,
    ) -> int | None:
        """None when a challenge already runs in this community."""
        async with self.db.transaction() as tx:
            return await tx.insert(
                "INSERT INTO challenge (community_id, platform, room_id, path_id, title, days, "
                "timezone, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING RETURNING id",
                (community_id, platform, room_id, path_id, title, days, timezone, by, iso(now)),
            )

    async def running(self, platform: str, community_id: str) -> ChallengeRow | None:
        row = await self.db.fetchone(
            f"SELECT {_CHALLENGE} FROM challenge WHERE platform = ? AND community_id = ? "  # noqa: S608
            "AND status != 'ended' ORDER BY id DESC LIMIT 1",
            (platform, community_id),
        )
        return ChallengeRow(*row) if row else None

    async def get(self, challenge_id: int) -> ChallengeRow | None:
        row = await self.db.fetchone(
            f"SELECT {_CHALLENGE} FROM challenge WHERE id = ?",  # noqa: S608
            (challenge_id,),
        )
        return ChallengeRow(*row) if row else None

    async def set_status(self, challenge_id: int, status: str, paused_at: str | None) -> None:
        await self.db.execute(
            "UPDATE challenge SET status = ?, paused_at = ? WHERE id = ?",
            (status, paused_at, challenge_id),
        )

    # --- days ---------------------------------------------------------------------------

    async def put_slots(self, slots: Sequence[SlotRow]) -> None:
        """Add or move days and ticks (a resume moves them to their new times)."""
        async with self.db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO challenge_slot (challenge_id, kind, day, at, schedule_id) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (challenge_id, kind, day) "
                "DO UPDATE SET at = excluded.at, schedule_id = excluded.schedule_id",
                [(s.challenge_id, s.kind, s.day, s.at, s.schedule_id) for s in slots],
            )

    async def slots(self, challenge_id: int) -> list[SlotRow]:
        rows = await self.db.fetchall(
            "SELECT challenge_id, kind, day, at, schedule_id FROM challenge_slot "
            "WHERE challenge_id = ? ORDER BY at, kind",
            (challenge_id,),
        )
        return [SlotRow(*row) for row in rows]

    async def reached(self, challenge: ChallengeRow, now: datetime) -> int:
        """The last day that has opened by ``now`` (0 before the first); while paused, by
        the pause (the days due since have not opened)."""
        until = min(iso(now), challenge.paused_at or iso(now))
        row = await self.db.fetchone(
            "SELECT MAX(day) FROM challenge_slot WHERE challenge_id = ? AND kind = 'day' "
            "AND at <= ?",
            (challenge.id, until),
        )
        return int(row[0]) if row and row[0] is not None else 0

    async def slot_at(self, challenge_id: int, kind: str, day: int) -> SlotRow | None:
        row = await self.db.fetchone(
            "SELECT challenge_id, kind, day, at, schedule_id FROM challenge_slot "
            "WHERE challenge_id = ? AND kind = ? AND day = ?",
            (challenge_id, kind, day),
        )
        return SlotRow(*row) if row else None

    # --- members ------------------------------------------------------------------------

    async def join(self, challenge_id: int, member_id: str, day: int, now: datetime) -> bool:
        async with self.db.transaction() as tx:
            added = await tx.insert(
                "INSERT INTO challenge_member (challenge_id, member_id, joined_day, joined_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING joined_day",
                (challenge_id, member_id, day, iso(now)),
            )
            return added is not None

    async def leave(self, challenge_id: int, member_id: str) -> bool:
        return (
            await self.db.execute(
                "DELETE FROM challenge_member WHERE challenge_id = ? AND member_id = ?",
                (challenge_id, member_id),
            )
            > 0
        )

    async def member(self, challenge_id: int, member_id: str) -> ChallengeMember | None:
        row = await self.db.fetchone(
            "SELECT member_id, joined_day, remind, review FROM challenge_member "
            "WHERE challenge_id = ? AND member_id = ?",
            (challenge_id, member_id),
        )
        return _member(row) if row else None

    async def members(self, challenge_id: int) -> list[ChallengeMember]:
        rows = await self.db.fetchall(
            "SELECT member_id, joined_day, remind, review FROM challenge_member "
            "WHERE challenge_id = ? ORDER BY joined_at, member_id",
            (challenge_id,),
        )
        return [_member(r) for r in rows]

    async def set_remind(self, challenge_id: int, member_id: str, on: bool) -> None:
        await self.db.execute(
            "UPDATE challenge_member SET remind = ? WHERE challenge_id = ? AND member_id = ?",
            (1 if on else 0, challenge_id, member_id),
        )

    async def set_review(self, challenge_id: int, member_id: str, on: bool) -> None:
        await self.db.execute(
            "UPDATE challenge_member SET review = ? WHERE challenge_id = ? AND member_id = ?",
            (1 if on else 0, challenge_id, member_id),
        )

    async def check_in(self, challenge_id: int, member_id: str, day: int, now: datetime) -> bool:
        """False when the member had already checked in that day."""
        async with self.db.transaction() as tx:
            added = await tx.insert(
                "INSERT INTO challenge_checkin (challenge_id, member_id, day, at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING day",
                (challenge_id, member_id, day, iso(now)),
            )
            return added is not None

    async def checked(self, challenge_id: int, member_id: str) -> list[int]:
        rows = await self.db.fetchall(
            "SELECT day FROM challenge_checkin WHERE challenge_id = ? AND member_id = ? "
            "ORDER BY day",
            (challenge_id, member_id),
        )
        return [int(r[0]) for r in rows]

    async def checked_on(self, challenge_id: int, day: int) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT member_id FROM challenge_checkin WHERE challenge_id = ? AND day = ?",
            (challenge_id, day),
        )
        return {str(r[0]) for r in rows}

    async def counts(self, challenge_id: int) -> tuple[int, dict[int, int]]:
        """How many joined, and how many checked in on each day: numbers, never names."""
        joined = await self.db.fetchone(
            "SELECT COUNT(*) FROM challenge_member WHERE challenge_id = ?", (challenge_id,)
        )
        rows = await self.db.fetchall(
            "SELECT day, COUNT(*) FROM challenge_checkin WHERE challenge_id = ? GROUP BY day",
            (challenge_id,),
        )
        return int(joined[0]) if joined else 0, {int(r[0]): int(r[1]) for r in rows}

    async def claim_message(
        self, challenge_id: int, member_id: str, kind: str, day: int, now: datetime
    ) -> bool:
        """Claim one nudge or review for a member and day; False if it was claimed before."""
        async with self.db.transaction() as tx:
            added = await tx.insert(
                "INSERT INTO challenge_message (challenge_id, member_id, kind, day, at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING day",
                (challenge_id, member_id, kind, day, iso(now)),
            )
            return added is not None

    async def mine(self, member_id: str) -> list[MyChallenge]:
        rows = await self.db.fetchall(
            "SELECT c.id, c.title, c.status, m.joined_day, m.remind, m.review FROM challenge c "
            "LEFT JOIN challenge_member m ON m.challenge_id = c.id AND m.member_id = ? "
            "WHERE m.member_id IS NOT NULL OR c.id IN "
            "(SELECT challenge_id FROM challenge_checkin WHERE member_id = ?) ORDER BY c.id",
            (member_id, member_id),
        )
        found = []
        for row in rows:
            checked = await self.checked(int(row[0]), member_id)
            found.append(
                MyChallenge(
                    str(row[1]),
                    str(row[2]),
                    None if row[3] is None else int(row[3]),
                    bool(row[4]),
                    tuple(checked),
                    bool(row[5]),
                )
            )
        return found

    # --- a community's own paths ----------------------------------------------------------

    async def put_paths(
        self, community_id: str, paths: Sequence[tuple[str, str, str, str]], now: datetime
    ) -> None:
        """Add (path_id, title, summary, days JSON) rows, all or nothing; a path with the
        same id in this community is replaced."""
        async with self.db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO community_path (community_id, path_id, title, summary, days, "
                "added_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (community_id, path_id) "
                "DO UPDATE SET title = excluded.title, summary = excluded.summary, "
                "days = excluded.days, added_at = excluded.added_at",
                [(community_id, i, t, s, d, iso(now)) for i, t, s, d in paths],
            )

    async def own_paths(self, community_id: str) -> list[OwnPathRow]:
        rows = await self.db.fetchall(
            "SELECT path_id, title, summary, days, added_at FROM community_path "
            "WHERE community_id = ? ORDER BY path_id",
            (community_id,),
        )
        return [OwnPathRow(*row) for row in rows]

    async def own_path(self, community_id: str, path_id: str) -> OwnPathRow | None:
        row = await self.db.fetchone(
            "SELECT path_id, title, summary, days, added_at FROM community_path "
            "WHERE community_id = ? AND path_id = ?",
            (community_id, path_id),
        )
        return OwnPathRow(*row) if row else None

    async def paths_walked(self, community_id: str) -> set[str]:
        """The paths a challenge not yet ended walks in this community (on any platform)."""
        rows = await self.db.fetchall(
            "SELECT path_id FROM challenge WHERE community_id = ? AND status != 'ended'",
            (community_id,),
        )
        return {str(r[0]) for r in rows}


def _member(row: Sequence[object]) -> ChallengeMember:
    return ChallengeMember(str(row[0]), int(str(row[1])), bool(row[2]), bool(row[3]))
