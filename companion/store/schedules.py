"""Schedules and their occurrences: claim before send, mark sent after.

(The ``# noqa: S608`` lines build statements from the constant column list and ``?`` marks
only; every value is bound as a parameter.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NamedTuple

from companion.store.base import Db

_COLUMNS = (
    "id, community_id, platform, room_id, thread_id, kind, rule, days, start_date, at_time, "
    "timezone, payload, status, status_reason, next_run, grace_seconds, created_by, created_at, "
    "outbox"
)


class ScheduleRow(NamedTuple):
    id: int
    community_id: str
    platform: str
    room_id: str
    thread_id: str | None
    kind: str
    rule: str
    days: str
    start_date: str
    at_time: str
    timezone: str
    payload: str
    status: str
    status_reason: str | None
    next_run: str | None
    grace_seconds: int | None
    created_by: str | None
    created_at: str
    outbox: int  # 1: a one-off post a command made (see NewSchedule), not a planned schedule


class NewSchedule(NamedTuple):
    community_id: str
    platform: str
    room_id: str
    thread_id: str | None
    kind: str
    rule: str
    days: str
    start_date: str
    at_time: str
    timezone: str
    payload: str
    next_run: str
    created_by: str
    created_at: str
    grace_seconds: int | None = None
    # The outbox: a post a command decided, sent once like any occurrence (claimed, keyed,
    # retried) but no schedule a moderator planned, so no listing shows it and no
    # cancel, pause or resume touches it.
    outbox: bool = False


class OccurrenceRow(NamedTuple):
    key: str
    schedule_id: int
    due_at: str
    state: str
    attempts: int
    retry_at: str | None
    detail: str | None
    claimed_by: str | None = None  # the process whose lease this is
    lease_until: str | None = None


_OCCURRENCE = "key, schedule_id, due_at, state, attempts, retry_at, detail, claimed_by, lease_until"


class Skip(NamedTuple):
    key: str
    due_at: str
    detail: str


class Claim(NamedTuple):
    """What one due schedule becomes: maybe an occurrence to send, skipped ones, a next run."""

    schedule_id: int
    expected_next: str
    next_run: str | None
    key: str | None = None
    due_at: str | None = None
    skipped: tuple[Skip, ...] = ()

    @property
    def status(self) -> str:
        return "active" if self.next_run else "done"


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


class Lease(NamedTuple):
    """Who claims (a process's name), until when, and which shards of a platform it serves.

    Each of ``shards`` is (platform, shard_count, shard ids): that platform's claims are
    limited to communities whose shard, ``(community_id >> 22) % shard_count`` (Discord's
    split of a bot's guilds), is in the ids; other platforms' schedules are unaffected.
    """

    holder: str
    until: datetime
    shards: tuple[tuple[str, int, tuple[int, ...]], ...] = ()

    @property
    def shard_filter(self) -> str:
        # CASE, not OR: only the sharded platform's community ids are cast to a number.
        return "".join(
            " AND CASE WHEN platform = ? THEN "
            f"(CAST(community_id AS BIGINT) / 4194304) % ? IN ({', '.join('?' for _ in ids)}) "
            "ELSE TRUE END"
            for _, _, ids in self.shards
        )

    @property
    def shard_params(self) -> tuple[object, ...]:
        return tuple(
            value for platform, count, ids in self.shards for value in (platform, count, *ids)
        )


_INSERT = (
    "INSERT INTO schedule (community_id, platform, room_id, thread_id, kind, rule, days, "
    "start_date, at_time, timezone, payload, next_run, grace_seconds, created_by, created_at, "
    "outbox) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _values(new: NewSchedule) -> tuple[object, ...]:
    return (
        new.community_id,
        new.platform,
        new.room_id,
        new.thread_id,
        new.kind,
        new.rule,
        new.days,
        new.start_date,
        new.at_time,
        new.timezone,
        new.payload,
        new.next_run,
        new.grace_seconds,
        new.created_by,
        new.created_at,
        int(new.outbox),
    )


class ScheduleRepo:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def add(self, new: NewSchedule) -> int:
        async with self.db.transaction() as tx:
            new_id = await tx.insert(f"{_INSERT} RETURNING id", _values(new))
            return new_id or 0

    async def add_many(self, news: Sequence[NewSchedule]) -> None:
        """The same rows as ``add`` one by one, in one statement batch (bulk loads)."""
        async with self.db.transaction() as tx:
            await tx.executemany(_INSERT, [_values(new) for new in news])

    async def get(self, schedule_id: int) -> ScheduleRow | None:
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM schedule WHERE id = ?",  # noqa: S608
            (schedule_id,),
        )
        return ScheduleRow(*row) if row else None

    async def for_community(self, community_id: str) -> list[ScheduleRow]:
        """The community's planned schedules, active or paused (never the outbox)."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM schedule WHERE community_id = ? "  # noqa: S608
            "AND status IN ('active', 'paused') AND outbox = 0 ORDER BY id",
            (community_id,),
        )
        return [ScheduleRow(*row) for row in rows]

    async def planned(self, community_id: str, schedule_id: int) -> ScheduleRow | None:
        """One of ``for_community``'s schedules by id: what a moderator may cancel, pause or
        resume (None for another community's, a finished one or an outbox post)."""
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM schedule WHERE id = ? AND community_id = ? "  # noqa: S608
            "AND status IN ('active', 'paused') AND outbox = 0",
            (schedule_id, community_id),
        )
        return ScheduleRow(*row) if row else None

    async def for_platform(self, platform: str) -> list[ScheduleRow]:
        """The active and paused schedules on one platform, every community (for checks)."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM schedule WHERE platform = ? "  # noqa: S608
            "AND status IN ('active', 'paused') ORDER BY community_id, room_id, id",
            (platform,),
        )
        return [ScheduleRow(*row) for row in rows]

    async def set_status(
        self, schedule_id: int, status: str, *, reason: str | None, next_run: str | None
    ) -> None:
        """A moderator's (or a book club's) change; the outbox is not theirs to change."""
        await self.db.execute(
            "UPDATE schedule SET status = ?, status_reason = ?, next_run = ? "
            "WHERE id = ? AND outbox = 0",
            (status, reason, next_run, schedule_id),
        )

    async def claim_due(
        self,
        now: datetime,
        platforms: Sequence[str],
        limit: int,
        plan: Callable[[ScheduleRow], Claim],
        lease: Lease,
    ) -> tuple[int, list[tuple[ScheduleRow, Claim]]]:
        """Claim up to ``limit`` due schedules in one transaction: (how many were due, won).

        Each due row is planned (``plan``), advanced by a compare-and-set on next_run and its
        occurrences recorded, the one to send leased to ``lease.holder``. On PostgreSQL the
        due rows are read ``FOR UPDATE SKIP LOCKED``, so processes claiming together take
        disjoint batches; on SQLite the write transaction admits one claimer at a time.
        """
        marks = ", ".join("?" for _ in platforms)
        lock = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgresql" else ""
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(
                f"SELECT {_COLUMNS} FROM schedule WHERE status = 'active' "  # noqa: S608
                f"AND next_run <= ? AND platform IN ({marks}){lease.shard_filter} "
                f"ORDER BY next_run LIMIT ?{lock}",
                (iso(now), *platforms, *lease.shard_params, limit),
            )
            due = [ScheduleRow(*row) for row in rows]
            claims = [plan(row) for row in due]
            won: set[int] = set()
            for start in range(0, len(claims), 200):
                chunk = claims[start : start + 200]
                values = ", ".join("(CAST(? AS INTEGER), ?, ?, ?)" for _ in chunk)
                params: list[object] = []
                for c in chunk:
                    params += [c.schedule_id, c.expected_next, c.next_run, c.status]
                changed = await tx.fetchall(
                    "UPDATE schedule SET next_run = v.column3, status = v.column4 "  # noqa: S608
                    f"FROM (VALUES {values}) AS v WHERE schedule.id = v.column1 "
                    "AND schedule.next_run = v.column2 AND schedule.status = 'active' "
                    "RETURNING schedule.id",
                    params,
                )
                won.update(int(row[0]) for row in changed)
            mine = [(row, c) for row, c in zip(due, claims, strict=True) if row.id in won]
            await tx.executemany(
                "INSERT INTO occurrence (key, schedule_id, due_at, state, detail, updated_at) "
                "VALUES (?, ?, ?, 'skipped', ?, ?) ON CONFLICT DO NOTHING",
                [
                    (s.key, c.schedule_id, s.due_at, s.detail, iso(now))
                    for _, c in mine
                    for s in c.skipped
                ],
            )
            await tx.executemany(
                "INSERT INTO occurrence (key, schedule_id, due_at, state, attempts, claimed_by, "
                "lease_until, updated_at) VALUES (?, ?, ?, 'claimed', 1, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                [
                    (c.key, c.schedule_id, c.due_at, lease.holder, iso(lease.until), iso(now))
                    for _, c in mine
                    if c.key
                ],
            )
        return len(due), mine

    async def take_over(
        self, now: datetime, platforms: Sequence[str], lease: Lease, limit: int = 500
    ) -> list[tuple[OccurrenceRow, ScheduleRow]]:
        """Lease the claimed occurrences that are free to (re)send, counting one more attempt.

        Free means a retry whose time has come, or a claim whose lease ran out: the process
        holding it died between claim and mark, so this one sends it, with the same key.
        """
        marks = ", ".join("?" for _ in platforms)
        lock = " FOR UPDATE OF o SKIP LOCKED" if self.db.dialect == "postgresql" else ""
        async with self.db.transaction() as tx:
            taken = await tx.fetchall(
                "UPDATE occurrence SET claimed_by = ?, lease_until = ?, retry_at = NULL, "  # noqa: S608
                "attempts = attempts + 1, updated_at = ? WHERE key IN (SELECT o.key "
                "FROM occurrence o JOIN schedule s ON s.id = o.schedule_id "
                "WHERE o.state = 'claimed' AND ((o.retry_at IS NOT NULL AND o.retry_at <= ?) "
                "OR (o.retry_at IS NULL AND (o.lease_until IS NULL OR o.lease_until <= ?))) "
                f"AND s.platform IN ({marks}){lease.shard_filter} "
                f"ORDER BY o.due_at LIMIT ?{lock}) "
                f"RETURNING {_OCCURRENCE}",
                (
                    lease.holder,
                    iso(lease.until),
                    iso(now),
                    iso(now),
                    iso(now),
                    *platforms,
                    *lease.shard_params,
                    limit,
                ),
            )
            if not taken:
                return []
            ids = sorted({int(row[1]) for row in taken})
            schedules = await tx.fetchall(
                f"SELECT {_COLUMNS} FROM schedule WHERE id IN "  # noqa: S608
                f"({', '.join('CAST(? AS INTEGER)' for _ in ids)})",
                ids,
            )
        by_id = {int(row[0]): ScheduleRow(*row) for row in schedules}
        occurrences = sorted((OccurrenceRow(*row) for row in taken), key=lambda o: o.due_at)
        return [(occ, by_id[occ.schedule_id]) for occ in occurrences]

    async def earliest_wake(
        self, platforms: Sequence[str], lease: Lease | None = None
    ) -> str | None:
        """When the next schedule falls due, a retry is due or a lease runs out (None: no
        platform is served yet, so nothing can fall due here)."""
        if not platforms:
            return None  # and "IN ()" is no SQL PostgreSQL accepts
        marks = ", ".join("?" for _ in platforms)
        shard = lease.shard_filter if lease else ""
        shard_params = lease.shard_params if lease else ()
        row = await self.db.fetchone(
            "SELECT MIN(t) FROM ("  # noqa: S608
            f"SELECT MIN(next_run) AS t FROM schedule WHERE status = 'active' "
            f"AND platform IN ({marks}){shard} "
            "UNION ALL SELECT MIN(COALESCE(o.retry_at, o.lease_until)) FROM occurrence o "
            "JOIN schedule s ON s.id = o.schedule_id WHERE o.state = 'claimed' "
            f"AND s.platform IN ({marks}){shard}) AS w",
            (*platforms, *shard_params, *platforms, *shard_params),
        )
        return row[0] if row and row[0] else None

    async def recover_claimed(self, now: datetime, holder: str, dead: Sequence[str] = ()) -> int:
        """Claims a stopped process left behind, freed to be sent again now.

        SQLite serves one process, so every claim in the file is a stopped one's. On
        PostgreSQL only this process's own earlier claims and those of the ``dead`` holders
        (processes on this host that no longer run) are known dead; the others' are taken
        over when their lease runs out.
        """
        holders = [holder, *dead]
        marks = ", ".join("?" for _ in holders)
        mine = "" if self.db.dialect == "sqlite" else f" AND claimed_by IN ({marks})"
        return await self.db.execute(
            "UPDATE occurrence SET lease_until = ?, detail = 'recovered after a restart' "  # noqa: S608
            f"WHERE state = 'claimed' AND retry_at IS NULL{mine}",
            (iso(now), *(() if not mine else holders)),
        )

    async def claim_holders(self) -> list[str]:
        """Who holds the claims not yet sent (host:pid each)."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT claimed_by FROM occurrence "
            "WHERE state = 'claimed' AND claimed_by IS NOT NULL"
        )
        return [str(row[0]) for row in rows]

    async def mark_sent(self, keys: Sequence[str], now: datetime) -> None:
        if not keys:
            return
        async with self.db.transaction() as tx:
            await tx.executemany(
                "UPDATE occurrence SET state = 'sent', retry_at = NULL, detail = NULL, "
                "updated_at = ? WHERE key = ?",
                [(iso(now), key) for key in keys],
            )

    async def retry_later(self, key: str, retry_at: datetime, detail: str, now: datetime) -> None:
        """Release the lease: whichever process serves the platform at retry_at retries."""
        await self.db.execute(
            "UPDATE occurrence SET retry_at = ?, claimed_by = NULL, detail = ?, updated_at = ? "
            "WHERE key = ?",
            (iso(retry_at), detail, iso(now), key),
        )

    async def give_up(
        self, key: str, state: str, detail: str, now: datetime, *, pause: int | None = None
    ) -> None:
        """End an occurrence as failed or skipped; optionally pause its schedule with the reason."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE occurrence SET state = ?, retry_at = NULL, detail = ?, updated_at = ? "
                "WHERE key = ?",
                (state, detail, iso(now), key),
            )
            if pause is not None:
                await tx.execute(
                    "UPDATE schedule SET status = 'paused', status_reason = ? "
                    "WHERE id = ? AND status = 'active'",
                    (detail, pause),
                )

    async def occurrences(self, schedule_id: int) -> list[OccurrenceRow]:
        rows = await self.db.fetchall(
            f"SELECT {_OCCURRENCE} FROM occurrence WHERE schedule_id = ? "  # noqa: S608
            "ORDER BY due_at",
            (schedule_id,),
        )
        return [OccurrenceRow(*row) for row in rows]
