"""What Companion keeps about one member: the journal, notices, and privacy (export, forget)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from companion.store.base import Db
from companion.store.challenges import ChallengeRepo, MyChallenge
from companion.store.schedules import iso


class JournalRow(NamedTuple):
    id: int
    community_id: str
    day: str
    reflection_id: str
    text: str
    created_at: str


class NoticeRow(NamedTuple):
    id: int
    platform: str
    community_id: str
    text: str
    created_at: str
    delivered_at: str | None


@dataclass(frozen=True, slots=True)
class MemberData:
    journal: list[JournalRow]
    progress: list[tuple[str, int]]  # (club title, chapter)
    suggestions: list[tuple[int, str, str, str]]  # (id, kind, status, created_at)
    prompts: list[tuple[int, str]]  # (id, text) added under their name
    notices: list[NoticeRow]
    created: list[tuple[str, str]]  # (what, detail): schedules, plans and clubs they set up
    challenges: list[MyChallenge] = field(default_factory=list)  # joined, with check-ins


# Every column that can hold a member id, and what forgetting does to it.
_FORGET = (
    ("DELETE FROM journal WHERE member_id = ?", "journal"),
    ("DELETE FROM club_progress WHERE member_id = ?", "progress"),
    ("DELETE FROM notice WHERE member_id = ?", "notices"),
    ("DELETE FROM challenge_checkin WHERE member_id = ?", "challenge check-ins"),
    ("DELETE FROM challenge_message WHERE member_id = ?", ""),
    ("DELETE FROM challenge_member WHERE member_id = ?", "challenges"),
    ("UPDATE challenge SET created_by = NULL WHERE created_by = ?", ""),
    ("UPDATE suggestion SET author_id = NULL WHERE author_id = ?", "suggestions"),
    ("UPDATE suggestion SET decided_by = NULL WHERE decided_by = ?", ""),
    ("UPDATE prompt SET author_id = NULL WHERE author_id = ?", "prompts"),
    ("UPDATE schedule SET created_by = NULL WHERE created_by = ?", ""),
    ("UPDATE reading_plan SET created_by = NULL WHERE created_by = ?", ""),
    ("UPDATE club SET created_by = NULL WHERE created_by = ?", ""),
    ("UPDATE audit SET actor_id = NULL WHERE actor_id = ?", ""),
    ("UPDATE suggester_block SET blocked_by = NULL WHERE blocked_by = ?", ""),
    ("DELETE FROM web_login WHERE member_id = ?", ""),
    ("DELETE FROM web_session WHERE member_id = ?", ""),
    ("DELETE FROM event_rsvp WHERE member_id = ?", "rsvps"),
    ("DELETE FROM event_notice WHERE member_id = ?", ""),
    ("DELETE FROM poll_vote WHERE member_id = ?", "votes"),
    ("UPDATE event SET created_by = NULL WHERE created_by = ?", ""),
    ("UPDATE poll SET created_by = NULL WHERE created_by = ?", ""),
)


class MemberRepo:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def add_journal(
        self,
        community_id: str,
        member_id: str,
        day: str,
        reflection_id: str,
        text: str,
        now: datetime,
    ) -> None:
        await self.db.execute(
            "INSERT INTO journal (community_id, member_id, day, reflection_id, text, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (community_id, member_id, day, reflection_id, text, iso(now)),
        )

    async def journal(self, member_id: str, limit: int = 10, offset: int = 0) -> list[JournalRow]:
        rows = await self.db.fetchall(
            "SELECT id, community_id, day, reflection_id, text, created_at FROM journal "
            "WHERE member_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
            (member_id, limit, offset),
        )
        return [JournalRow(*row) for row in rows]

    async def add_notice(
        self, platform: str, community_id: str, member_id: str, text: str, now: datetime
    ) -> int:
        async with self.db.transaction() as tx:
            new_id = await tx.insert(
                "INSERT INTO notice (platform, community_id, member_id, text, created_at) "
                "VALUES (?, ?, ?, ?, ?) RETURNING id",
                (platform, community_id, member_id, text, iso(now)),
            )
            return new_id or 0

    async def mark_delivered(self, notice_id: int, now: datetime) -> None:
        await self.db.execute(
            "UPDATE notice SET delivered_at = ? WHERE id = ?", (iso(now), notice_id)
        )

    async def notices(self, member_id: str, limit: int = 20) -> list[NoticeRow]:
        rows = await self.db.fetchall(
            "SELECT id, platform, community_id, text, created_at, delivered_at FROM notice "
            "WHERE member_id = ? ORDER BY id DESC LIMIT ?",
            (member_id, limit),
        )
        return [NoticeRow(*row) for row in rows]

    async def everything(self, member_id: str) -> MemberData:
        journal = await self.journal(member_id, limit=1000)
        progress = await self.db.fetchall(
            "SELECT c.title, p.chapter FROM club_progress p JOIN club c ON c.id = p.club_id "
            "WHERE p.member_id = ? ORDER BY c.id",
            (member_id,),
        )
        suggestions = await self.db.fetchall(
            "SELECT id, kind, status, created_at FROM suggestion WHERE author_id = ? ORDER BY id",
            (member_id,),
        )
        prompts = await self.db.fetchall(
            "SELECT id, text FROM prompt WHERE author_id = ? ORDER BY id", (member_id,)
        )
        created = await self.db.fetchall(
            "SELECT 'schedule', '#' || id || ' ' || kind FROM schedule WHERE created_by = ? "
            "UNION ALL SELECT 'reading plan', slug FROM reading_plan WHERE created_by = ? "
            "UNION ALL SELECT 'book club', title FROM club WHERE created_by = ? "
            "UNION ALL SELECT 'challenge', title FROM challenge WHERE created_by = ? "
            "UNION ALL SELECT 'moderation', action || ' ' || target FROM audit WHERE actor_id = ?",
            (member_id,) * 5,
        )
        return MemberData(
            journal=journal,
            progress=[(str(r[0]), int(r[1])) for r in progress],
            suggestions=[(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in suggestions],
            prompts=[(int(r[0]), str(r[1])) for r in prompts],
            notices=await self.notices(member_id, limit=1000),
            created=[(str(r[0]), str(r[1])) for r in created],
            challenges=await ChallengeRepo(self.db).mine(member_id),
        )

    async def forget(self, member_id: str) -> dict[str, int]:
        """Delete the member's own data and their name everywhere else, in one transaction."""
        counts: dict[str, int] = {}
        async with self.db.transaction() as tx:
            for statement, label in _FORGET:
                count = await tx.execute(statement, (member_id,))
                if label:
                    counts[label] = count
        return counts
