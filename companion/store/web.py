"""The web dashboard's login links and sessions, stored by the sha256 of their secret."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from companion.store.base import Db
from companion.store.schedules import iso


class LoginRow(NamedTuple):
    platform: str
    member_id: str
    display_name: str
    community_id: str
    room_id: str


class SessionRow(NamedTuple):
    platform: str
    member_id: str
    display_name: str
    expires_at: str
    communities: dict[str, str]  # community id -> the room the dashboard acts in


class WebRepo:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def add_login(
        self, token_hash: str, login: LoginRow, now: datetime, expires: datetime
    ) -> None:
        """A new one-time link; links and sessions past their time are swept away first."""
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM web_login WHERE expires_at <= ?", (iso(now),))
            await tx.execute("DELETE FROM web_session WHERE expires_at <= ?", (iso(now),))
            await tx.execute(
                "INSERT INTO web_login (token_hash, platform, member_id, display_name, "
                "community_id, room_id, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    token_hash,
                    login.platform,
                    login.member_id,
                    login.display_name,
                    login.community_id,
                    login.room_id,
                    iso(expires),
                ),
            )

    async def take_login(self, token_hash: str, now: datetime) -> LoginRow | None:
        """Use a link once: the first caller before it expires gets it, nobody after."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE web_login SET used_at = ? "
                "WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? "
                "RETURNING platform, member_id, display_name, community_id, room_id",
                (iso(now), token_hash, iso(now)),
            )
        return None if row is None else LoginRow(*row)

    async def peek_login(self, token_hash: str, now: datetime) -> LoginRow | None:
        """Whose a link is, while it is still unused and current, without using it."""
        row = await self.db.fetchone(
            "SELECT platform, member_id, display_name, community_id, room_id FROM web_login "
            "WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
            (token_hash, iso(now)),
        )
        return None if row is None else LoginRow(*row)

    async def open_session(
        self, session_hash: str, login: LoginRow, now: datetime, expires: datetime
    ) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO web_session (session_hash, platform, member_id, display_name, "
                "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    session_hash,
                    login.platform,
                    login.member_id,
                    login.display_name,
                    iso(now),
                    iso(expires),
                ),
            )
            await tx.execute(
                "INSERT INTO web_session_community (session_hash, community_id, room_id) "
                "VALUES (?, ?, ?)",
                (session_hash, login.community_id, login.room_id),
            )

    async def add_community(self, session_hash: str, community_id: str, room_id: str) -> None:
        """A second link opened by the same member adds its community to their session."""
        await self.db.execute(
            "INSERT INTO web_session_community (session_hash, community_id, room_id) "
            "VALUES (?, ?, ?) ON CONFLICT (session_hash, community_id) "
            "DO UPDATE SET room_id = excluded.room_id",
            (session_hash, community_id, room_id),
        )

    async def session(self, session_hash: str, now: datetime) -> SessionRow | None:
        rows = await self.db.fetchall(
            "SELECT s.platform, s.member_id, s.display_name, s.expires_at, c.community_id, "
            "c.room_id FROM web_session s JOIN web_session_community c "
            "ON c.session_hash = s.session_hash WHERE s.session_hash = ? AND s.expires_at > ? "
            "ORDER BY c.community_id",
            (session_hash, iso(now)),
        )
        if not rows:
            return None
        first = rows[0]
        return SessionRow(
            first[0], first[1], first[2], first[3], {str(r[4]): str(r[5]) for r in rows}
        )

    async def drop_community(self, session_hash: str, community_id: str) -> None:
        """The member is no longer a moderator there: the session stops reaching it."""
        await self.db.execute(
            "DELETE FROM web_session_community WHERE session_hash = ? AND community_id = ?",
            (session_hash, community_id),
        )

    async def end_session(self, session_hash: str) -> None:
        await self.db.execute("DELETE FROM web_session WHERE session_hash = ?", (session_hash,))
