"""Polls and their votes: one vote per member, the latest counting, whatever way it came
(the `vote` command now; a platform's own poll answers through the same ``record_vote``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import NamedTuple

from companion.store.base import Db
from companion.store.schedules import iso

_COLUMNS = (
    "id, community_id, platform, room_id, question, options, closes_at, status, created_by, "
    "created_at, native_ref, purpose"
)


class PollRow(NamedTuple):
    id: int
    community_id: str
    platform: str
    room_id: str
    question: str
    options_json: str
    closes_at: str
    status: str
    created_by: str | None
    created_at: str
    native_ref: str | None = None  # the platform's own poll (a Matrix event, a Discord message)
    purpose: str | None = None  # JSON: what the poll decides when it closes, if anything

    @property
    def options(self) -> list[str]:
        return [str(option) for option in json.loads(self.options_json)]


class PollRepo:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def add(
        self,
        community_id: str,
        platform: str,
        room_id: str,
        question: str,
        options: list[str],
        closes_at: datetime,
        created_by: str,
        now: datetime,
        purpose: str | None = None,
    ) -> int:
        async with self.db.transaction() as tx:
            new_id = await tx.insert(
                "INSERT INTO poll (community_id, platform, room_id, question, options, "
                "closes_at, created_by, created_at, purpose) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    community_id,
                    platform,
                    room_id,
                    question,
                    json.dumps(options, ensure_ascii=False),
                    iso(closes_at),
                    created_by,
                    iso(now),
                    purpose,
                ),
            )
            return new_id or 0

    async def get(self, community_id: str, poll_id: int) -> PollRow | None:
        """The community's poll ``poll_id`` (None for another community's)."""
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM poll WHERE id = ? AND community_id = ?",  # noqa: S608
            (poll_id, community_id),
        )
        return PollRow(*row) if row else None

    async def set_native_ref(self, community_id: str, poll_id: int, ref: str) -> None:
        """Remember the platform's own poll this one was opened as."""
        await self.db.execute(
            "UPDATE poll SET native_ref = ? WHERE id = ? AND community_id = ?",
            (ref, poll_id, community_id),
        )

    async def by_native_ref(self, community_id: str, platform: str, ref: str) -> PollRow | None:
        """The poll opened as the platform's ``ref`` in that community (None elsewhere)."""
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM poll WHERE community_id = ? AND platform = ? "  # noqa: S608
            "AND native_ref = ?",
            (community_id, platform, ref),
        )
        return PollRow(*row) if row else None

    async def latest_open(self, platform: str, room_id: str) -> PollRow | None:
        """The newest open poll in a room: the one a bare `vote N` there answers."""
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM poll WHERE platform = ? AND room_id = ? "  # noqa: S608
            "AND status = 'open' ORDER BY id DESC LIMIT 1",
            (platform, room_id),
        )
        return PollRow(*row) if row else None

    async def record_vote(
        self, community_id: str, poll_id: int, member_id: str, choice: int, now: datetime
    ) -> bool:
        """Count ``member_id``'s vote for answer ``choice`` (1-based), replacing an earlier
        one. False (nothing written) when the poll is closed, has no such answer or is not
        the community's."""
        poll = await self.get(community_id, poll_id)
        if poll is None or poll.status != "open" or not 1 <= choice <= len(poll.options):
            return False
        # Whether it is still open is asked by the INSERT itself: a vote that arrives while
        # the result is being counted (``close`` then ``counts``) is refused, never stored
        # after the count.
        written = await self.db.execute(
            "INSERT INTO poll_vote (poll_id, member_id, choice, voted_at) "
            "SELECT id, ?, ?, ? FROM poll WHERE id = ? AND community_id = ? AND status = 'open' "
            "ON CONFLICT (poll_id, member_id) DO UPDATE SET choice = excluded.choice, "
            "voted_at = excluded.voted_at",
            (member_id, choice, iso(now), poll_id, community_id),
        )
        return written > 0

    async def withdraw_vote(self, poll_id: int, member_id: str, choice: int | None = None) -> None:
        """A platform's own poll lets a member take a vote back (only if it is still for
        ``choice``, when given)."""
        if choice is None:
            await self.db.execute(
                "DELETE FROM poll_vote WHERE poll_id = ? AND member_id = ?", (poll_id, member_id)
            )
            return
        await self.db.execute(
            "DELETE FROM poll_vote WHERE poll_id = ? AND member_id = ? AND choice = ?",
            (poll_id, member_id, choice),
        )

    async def counts(self, poll_id: int) -> dict[int, int]:
        """Votes per answer number: numbers only, never who."""
        rows = await self.db.fetchall(
            "SELECT choice, COUNT(*) FROM poll_vote WHERE poll_id = ? GROUP BY choice",
            (poll_id,),
        )
        return {int(choice): int(count) for choice, count in rows}

    async def close(self, community_id: str, poll_id: int) -> bool:
        """Mark the poll closed; True only for the call that closed it."""
        changed = await self.db.execute(
            "UPDATE poll SET status = 'closed' WHERE id = ? AND community_id = ? "
            "AND status = 'open'",
            (poll_id, community_id),
        )
        return changed > 0

    async def member_votes(self, member_id: str) -> list[tuple[int, str, int]]:
        """(poll id, question, answer number) for ``mydata``."""
        rows = await self.db.fetchall(
            "SELECT p.id, p.question, v.choice FROM poll_vote v JOIN poll p ON p.id = v.poll_id "
            "WHERE v.member_id = ? ORDER BY p.id",
            (member_id,),
        )
        return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]
