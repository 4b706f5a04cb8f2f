"""The moderation queue, blocks, the audit log, and approved community resources and terms."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

from companion.store.base import Db
from companion.store.schedules import iso

_SUGGESTION = (
    "id, community_id, kind, payload, url_key, author_id, author_hash, platform, room_id, "
    "status, reason, decided_by, decided_at, created_at"
)


class SuggestionRow(NamedTuple):
    id: int
    community_id: str
    kind: str
    payload: str
    url_key: str | None
    author_id: str | None
    author_hash: str
    platform: str
    room_id: str
    status: str
    reason: str | None
    decided_by: str | None
    decided_at: str | None
    created_at: str

    @property
    def data(self) -> dict[str, Any]:
        return dict(json.loads(self.payload))


class CommunityResourceRow(NamedTuple):
    id: int
    url: str
    title: str
    tags: tuple[str, ...]
    added_at: str


class AuditRow(NamedTuple):
    actor_id: str | None
    action: str
    target: str
    detail: str | None
    at: str


class ContributionRepo:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def suggest(
        self,
        community_id: str,
        kind: str,
        data: dict[str, Any],
        *,
        author_id: str | None,
        author_hash: str,
        platform: str,
        room_id: str,
        url_key: str | None,
        now: datetime,
    ) -> int:
        async with self.db.transaction() as tx:
            new_id = await tx.insert(
                "INSERT INTO suggestion (community_id, kind, payload, url_key, author_id, "
                "author_hash, platform, room_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "RETURNING id",
                (
                    community_id,
                    kind,
                    json.dumps(data, ensure_ascii=False),
                    url_key,
                    author_id,
                    author_hash,
                    platform,
                    room_id,
                    iso(now),
                ),
            )
            return new_id or 0

    async def standing(
        self, community_id: str, author_hash: str, since: datetime
    ) -> tuple[bool, int]:
        """(blocked, suggestions made since) for one member, in one query."""
        row = await self.db.fetchone(
            "SELECT EXISTS (SELECT 1 FROM suggester_block WHERE community_id = ? "
            "AND author_hash = ?), (SELECT COUNT(*) FROM suggestion WHERE community_id = ? "
            "AND author_hash = ? AND created_at >= ?)",
            (community_id, author_hash, community_id, author_hash, iso(since)),
        )
        assert row is not None
        return bool(row[0]), int(row[1])

    async def find_link(self, community_id: str, url_key: str) -> tuple[str, str] | None:
        """Where a link already is: ("library", title) or ("queue", status)."""
        row = await self.db.fetchone(
            "SELECT title FROM community_resource WHERE community_id = ? AND url_key = ?",
            (community_id, url_key),
        )
        if row:
            return ("library", str(row[0]))
        row = await self.db.fetchone(
            "SELECT id FROM suggestion WHERE community_id = ? AND url_key = ? "
            "AND status = 'pending'",
            (community_id, url_key),
        )
        return ("queue", f"#{row[0]}") if row else None

    async def get(self, community_id: str, suggestion_id: int) -> SuggestionRow | None:
        row = await self.db.fetchone(
            f"SELECT {_SUGGESTION} FROM suggestion WHERE id = ? AND community_id = ?",  # noqa: S608
            (suggestion_id, community_id),
        )
        return SuggestionRow(*row) if row else None

    async def waiting(self, community_id: str, kind: str, data: dict[str, Any]) -> int | None:
        """The id of a pending suggestion of exactly this kind and content (a retry)."""
        row = await self.db.fetchone(
            "SELECT id FROM suggestion WHERE community_id = ? AND kind = ? "
            "AND status = 'pending' AND payload = ? ORDER BY id LIMIT 1",
            (community_id, kind, json.dumps(data, ensure_ascii=False)),
        )
        return int(row[0]) if row else None

    async def pending(self, community_id: str, limit: int = 20) -> list[SuggestionRow]:
        rows = await self.db.fetchall(
            f"SELECT {_SUGGESTION} FROM suggestion WHERE community_id = ? "  # noqa: S608
            "AND status = 'pending' ORDER BY id LIMIT ?",
            (community_id, limit),
        )
        return [SuggestionRow(*row) for row in rows]

    async def count_pending(self, community_id: str) -> int:
        row = await self.db.fetchone(
            "SELECT COUNT(*) FROM suggestion WHERE community_id = ? AND status = 'pending'",
            (community_id,),
        )
        return int(row[0]) if row else 0

    async def decide(
        self,
        item: SuggestionRow,
        status: str,
        moderator_id: str,
        reason: str | None,
        now: datetime,
        *,
        add_resource: tuple[str, str, str, tuple[str, ...]] | None = None,
        add_term: tuple[str, str] | None = None,
        add_prompt: tuple[str, str, tuple[str, ...]] | None = None,
    ) -> bool:
        """Approve or reject a pending item, add what it adds, and audit it: all or nothing.

        False when the item was no longer pending (another moderator decided first).
        """
        async with self.db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE suggestion SET status = ?, reason = ?, decided_by = ?, decided_at = ? "
                "WHERE id = ? AND status = 'pending'",
                (status, reason, moderator_id, iso(now), item.id),
            )
            if changed != 1:
                return False
            if add_resource is not None:
                url, url_key, title, tags = add_resource
                await tx.execute(
                    "INSERT INTO community_resource (community_id, url, url_key, title, tags, "
                    "added_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (item.community_id, url, url_key, title, " ".join(tags), iso(now)),
                )
            if add_term is not None:
                await tx.execute(
                    "INSERT INTO community_term (community_id, term, definition, added_at) "
                    "VALUES (?, ?, ?, ?)",
                    (item.community_id, *add_term, iso(now)),
                )
            if add_prompt is not None:
                title, text, tags = add_prompt
                await tx.execute(
                    "INSERT INTO prompt (community_id, title, text, tags, author_id, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (item.community_id, title, text, " ".join(tags), item.author_id, iso(now)),
                )
            await tx.execute(
                "INSERT INTO audit (community_id, actor_id, action, target, detail, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    item.community_id,
                    moderator_id,
                    status,
                    f"{item.kind} #{item.id}",
                    reason,
                    iso(now),
                ),
            )
        return True

    async def set_block(
        self,
        community_id: str,
        author_hash: str,
        moderator_id: str,
        blocked: bool,
        target: str,
        now: datetime,
    ) -> bool:
        async with self.db.transaction() as tx:
            if blocked:
                count = await tx.execute(
                    "INSERT INTO suggester_block (community_id, author_hash, blocked_by, "
                    "created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (community_id, author_hash, moderator_id, iso(now)),
                )
            else:
                count = await tx.execute(
                    "DELETE FROM suggester_block WHERE community_id = ? AND author_hash = ?",
                    (community_id, author_hash),
                )
            changed = count == 1
            if changed:
                await tx.execute(
                    "INSERT INTO audit (community_id, actor_id, action, target, at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        community_id,
                        moderator_id,
                        "block" if blocked else "unblock",
                        target,
                        iso(now),
                    ),
                )
        return changed

    async def note(
        self, community_id: str, actor_id: str, action: str, target: str, detail: str, at: datetime
    ) -> None:
        """One line in the audit log that no review made (the bot paused a schedule)."""
        await self.db.execute(
            "INSERT INTO audit (community_id, actor_id, action, target, detail, at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (community_id, actor_id, action, target, detail, iso(at)),
        )

    async def audit(self, community_id: str, limit: int = 30) -> list[AuditRow]:
        rows = await self.db.fetchall(
            "SELECT actor_id, action, target, detail, at FROM audit WHERE community_id = ? "
            "ORDER BY id DESC LIMIT ?",
            (community_id, limit),
        )
        return [AuditRow(*row) for row in rows]

    async def resources(self, community_id: str) -> list[CommunityResourceRow]:
        rows = await self.db.fetchall(
            "SELECT id, url, title, tags, added_at FROM community_resource "
            "WHERE community_id = ? ORDER BY id DESC",
            (community_id,),
        )
        return [CommunityResourceRow(r[0], r[1], r[2], tuple(r[3].split()), r[4]) for r in rows]

    async def terms(self, community_id: str) -> list[tuple[str, str]]:
        return [(term, definition) for term, definition, _ in await self.terms_added(community_id)]

    async def terms_added(self, community_id: str) -> list[tuple[str, str, str]]:
        """(term, definition, added_at) of the community's own glossary additions."""
        rows = await self.db.fetchall(
            "SELECT term, definition, added_at FROM community_term WHERE community_id = ? "
            "ORDER BY id",
            (community_id,),
        )
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]
