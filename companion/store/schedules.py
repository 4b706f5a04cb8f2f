"""Schedules and their occurrences: claim before send, mark sent after.

(The ``# noqa: S608`` lines build statements from the constant column list and ``?`` marks
only; every value is bound as a parameter.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from companion.store.db import Database

_COLUMNS = (
    "id, community_id, platform, room_id, thread_id, kind, rule, days, start_date, at_time, "
    "timezone, payload, status, status_reason, next_run, grace_seconds, created_by, created_at"
)


@dataclass(frozen=True, slots=True)
class ScheduleRow:
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


@dataclass(frozen=True, slots=True)
class NewSchedule:
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


@dataclass(frozen=True, slots=True)
class OccurrenceRow:
    key: str
    schedule_id: int
    due_at: str
    state: str
    attempts: int
    retry_at: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class Skip:
    key: str
    due_at: str
    detail: str


@dataclass(frozen=True, slots=True)
class Claim:
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


class ScheduleRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, new: NewSchedule) -> int:
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO schedule (community_id, platform, room_id, thread_id, kind, rule, "
                "days, start_date, at_time, timezone, payload, next_run, grace_seconds, "
                "created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
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
                ),
            )
            return int(cursor.lastrowid or 0)

    async def get(self, schedule_id: int) -> ScheduleRow | None:
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM schedule WHERE id = ?",  # noqa: S608
            (schedule_id,),
        )
        return ScheduleRow(*row) if row else None

    async def for_community(self, community_id: str) -> list[ScheduleRow]:
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM schedule WHERE community_id = ? "  # noqa: S608
            "AND status IN ('active', 'paused') ORDER BY id",
            (community_id,),
        )
        return [ScheduleRow(*row) for row in rows]

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
        await self.db.execute(
            "UPDATE schedule SET status = ?, status_reason = ?, next_run = ? WHERE id = ?",
            (status, reason, next_run, schedule_id),
        )

    async def due(self, now: datetime, platforms: Sequence[str], limit: int) -> list[ScheduleRow]:
        marks = ", ".join("?" for _ in platforms)
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM schedule WHERE status = 'active' AND next_run <= ? "  # noqa: S608
            f"AND platform IN ({marks}) ORDER BY next_run LIMIT ?",
            (iso(now), *platforms, limit),
        )
        return [ScheduleRow(*row) for row in rows]

    async def earliest_wake(self, platforms: Sequence[str]) -> str | None:
        marks = ", ".join("?" for _ in platforms)
        row = await self.db.fetchone(
            "SELECT MIN(t) FROM ("  # noqa: S608
            f"SELECT MIN(next_run) AS t FROM schedule WHERE status = 'active' "
            f"AND platform IN ({marks}) "
            "UNION ALL SELECT MIN(o.retry_at) FROM occurrence o JOIN schedule s "
            f"ON s.id = o.schedule_id WHERE o.state = 'claimed' AND s.platform IN ({marks}))",
            (*platforms, *platforms),
        )
        return row[0] if row and row[0] else None

    async def claim_many(self, claims: Sequence[Claim], now: datetime) -> set[int]:
        """Advance schedules and record their occurrences, all in one transaction.

        The compare-and-set on next_run means two processes can never claim the same one;
        the returned ids are the schedules this call won.
        """
        won: set[int] = set()
        async with self.db.transaction() as conn:
            for start in range(0, len(claims), 200):
                chunk = claims[start : start + 200]
                values = ", ".join("(?, ?, ?, ?)" for _ in chunk)
                params: list[object] = []
                for c in chunk:
                    params += [c.schedule_id, c.expected_next, c.next_run, c.status]
                rows = await conn.execute_fetchall(
                    "UPDATE schedule SET next_run = v.column3, status = v.column4 "  # noqa: S608
                    f"FROM (VALUES {values}) AS v WHERE schedule.id = v.column1 "
                    "AND schedule.next_run = v.column2 AND schedule.status = 'active' "
                    "RETURNING schedule.id",
                    params,
                )
                won.update(int(row[0]) for row in rows)
            mine = [c for c in claims if c.schedule_id in won]
            await conn.executemany(
                "INSERT OR IGNORE INTO occurrence (key, schedule_id, due_at, state, detail, "
                "updated_at) VALUES (?, ?, ?, 'skipped', ?, ?)",
                [
                    (s.key, c.schedule_id, s.due_at, s.detail, iso(now))
                    for c in mine
                    for s in c.skipped
                ],
            )
            await conn.executemany(
                "INSERT OR IGNORE INTO occurrence (key, schedule_id, due_at, state, attempts, "
                "updated_at) VALUES (?, ?, ?, 'claimed', 1, ?)",
                [(c.key, c.schedule_id, c.due_at, iso(now)) for c in mine if c.key],
            )
        return won

    async def retries_due(
        self, now: datetime, platforms: Sequence[str]
    ) -> list[tuple[OccurrenceRow, ScheduleRow]]:
        marks = ", ".join("?" for _ in platforms)
        columns = ", ".join(f"s.{c.strip()}" for c in _COLUMNS.split(","))
        rows = await self.db.fetchall(
            "SELECT o.key, o.schedule_id, o.due_at, o.state, o.attempts, o.retry_at, o.detail, "  # noqa: S608
            f"{columns} FROM occurrence o JOIN schedule s ON s.id = o.schedule_id "
            "WHERE o.state = 'claimed' AND o.retry_at IS NOT NULL AND o.retry_at <= ? "
            f"AND s.platform IN ({marks}) ORDER BY o.retry_at",
            (iso(now), *platforms),
        )
        return [(OccurrenceRow(*row[:7]), ScheduleRow(*row[7:])) for row in rows]

    async def recover_claimed(self, now: datetime) -> int:
        """Occurrences claimed by a process that stopped before marking them: retry now."""
        return await self.db.execute(
            "UPDATE occurrence SET retry_at = ?, detail = 'recovered after a restart' "
            "WHERE state = 'claimed' AND retry_at IS NULL",
            (iso(now),),
        )

    async def start_attempt(self, key: str, now: datetime) -> int:
        """Count one more attempt (and hold the occurrence while in flight); return the count."""
        async with self.db.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "UPDATE occurrence SET attempts = attempts + 1, retry_at = NULL, "
                    "updated_at = ? WHERE key = ? RETURNING attempts",
                    (iso(now), key),
                )
            )
        return int(rows[0][0]) if rows else 1

    async def mark_sent(self, keys: Sequence[str], now: datetime) -> None:
        if not keys:
            return
        async with self.db.transaction() as conn:
            await conn.executemany(
                "UPDATE occurrence SET state = 'sent', retry_at = NULL, detail = NULL, "
                "updated_at = ? WHERE key = ?",
                [(iso(now), key) for key in keys],
            )

    async def retry_later(self, key: str, retry_at: datetime, detail: str, now: datetime) -> None:
        await self.db.execute(
            "UPDATE occurrence SET retry_at = ?, detail = ?, updated_at = ? WHERE key = ?",
            (iso(retry_at), detail, iso(now), key),
        )

    async def give_up(
        self, key: str, state: str, detail: str, now: datetime, *, pause: int | None = None
    ) -> None:
        """End an occurrence as failed or skipped; optionally pause its schedule with the reason."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE occurrence SET state = ?, retry_at = NULL, detail = ?, updated_at = ? "
                "WHERE key = ?",
                (state, detail, iso(now), key),
            )
            if pause is not None:
                await conn.execute(
                    "UPDATE schedule SET status = 'paused', status_reason = ? "
                    "WHERE id = ? AND status = 'active'",
                    (detail, pause),
                )

    async def occurrences(self, schedule_id: int) -> list[OccurrenceRow]:
        rows = await self.db.fetchall(
            "SELECT key, schedule_id, due_at, state, attempts, retry_at, detail FROM occurrence "
            "WHERE schedule_id = ? ORDER BY due_at",
            (schedule_id,),
        )
        return [OccurrenceRow(*row) for row in rows]
