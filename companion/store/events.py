"""Events, RSVPs, their private notices, the per-community settings and the calendar feed.

(The ``# noqa: S608`` lines build statements from the constant column list only; every
value is bound as a parameter.)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from companion.store.base import Db
from companion.store.schedules import iso

_COLUMNS = (
    "id, community_id, platform, room_id, title, location, rule, days, start_date, at_time, "
    "timezone, minutes, status, sequence, reminders, created_by, created_at, updated_at, "
    "native_ref, native_event"
)
ANSWERS = ("yes", "maybe", "no")
DEFAULT_REMINDERS = (1440, 15)


class EventRow(NamedTuple):
    id: int
    community_id: str
    platform: str
    room_id: str
    title: str
    location: str
    rule: str
    days: str
    start_date: str
    at_time: str
    timezone: str
    minutes: int
    status: str
    sequence: int
    reminders: str  # its reminder schedules' ids (and the next-meeting one), "12,13"
    created_by: str | None
    created_at: str
    updated_at: str
    native_ref: str | None = None  # the announcement members answer by reactions (Matrix)
    native_event: str | None = None  # the platform's own scheduled event (Discord)

    @property
    def reminder_ids(self) -> list[int]:
        return [int(part) for part in self.reminders.split(",") if part]


class NewEvent(NamedTuple):
    community_id: str
    platform: str
    room_id: str
    title: str
    location: str
    rule: str
    days: str
    start_date: str
    at_time: str
    timezone: str
    created_by: str
    created_at: str


class EventSettings(NamedTuple):
    reminders: tuple[int, ...]  # minutes before, largest first
    member_polls: bool


class Counts(NamedTuple):
    yes: int = 0
    maybe: int = 0
    no: int = 0


class EventRepo:
    def __init__(self, db: Db) -> None:
        self.db = db

    # --- events -----------------------------------------------------------------------------

    async def add(self, new: NewEvent) -> int:
        async with self.db.transaction() as tx:
            new_id = await tx.insert(
                "INSERT INTO event (community_id, platform, room_id, title, location, rule, "
                "days, start_date, at_time, timezone, created_by, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    new.community_id,
                    new.platform,
                    new.room_id,
                    new.title,
                    new.location,
                    new.rule,
                    new.days,
                    new.start_date,
                    new.at_time,
                    new.timezone,
                    new.created_by,
                    new.created_at,
                    new.created_at,
                ),
            )
            return new_id or 0

    async def get(self, community_id: str, event_id: int) -> EventRow | None:
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM event WHERE id = ? AND community_id = ?",  # noqa: S608
            (event_id, community_id),
        )
        return EventRow(*row) if row else None

    async def for_community(self, community_id: str, *, cancelled: bool = False) -> list[EventRow]:
        """The community's events, planned ones only unless ``cancelled`` (the feed's)."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM event WHERE community_id = ? "  # noqa: S608
            "AND (status = 'planned' OR ?) ORDER BY id",
            (community_id, cancelled),
        )
        return [EventRow(*row) for row in rows]

    async def update(
        self,
        community_id: str,
        event_id: int,
        now: datetime,
        *,
        title: str | None = None,
        location: str | None = None,
        when: tuple[str, str, str, str, str] | None = None,  # rule, days, start, at, zone
        status: str | None = None,
    ) -> None:
        """Change what is given and count one more SEQUENCE (calendars show the change)."""
        current = await self.get(community_id, event_id)
        if current is None:
            return
        rule, days, start, at, zone = when or (
            current.rule,
            current.days,
            current.start_date,
            current.at_time,
            current.timezone,
        )
        await self.db.execute(
            "UPDATE event SET title = ?, location = ?, rule = ?, days = ?, start_date = ?, "
            "at_time = ?, timezone = ?, status = ?, sequence = sequence + 1, updated_at = ? "
            "WHERE id = ? AND community_id = ?",
            (
                current.title if title is None else title,
                current.location if location is None else location,
                rule,
                days,
                start,
                at,
                zone,
                status or current.status,
                iso(now),
                event_id,
                community_id,
            ),
        )

    async def set_reminders(self, community_id: str, event_id: int, ids: Sequence[int]) -> None:
        await self.db.execute(
            "UPDATE event SET reminders = ? WHERE id = ? AND community_id = ?",
            (",".join(str(i) for i in ids), event_id, community_id),
        )

    async def set_native(
        self, community_id: str, event_id: int, *, ref: str | None = None, event: str | None = None
    ) -> None:
        """Remember the announcement (``ref``) or the platform's scheduled event (``event``)."""
        if ref is not None:
            await self.db.execute(
                "UPDATE event SET native_ref = ? WHERE id = ? AND community_id = ?",
                (ref, event_id, community_id),
            )
        if event is not None:
            await self.db.execute(
                "UPDATE event SET native_event = ? WHERE id = ? AND community_id = ?",
                (event, event_id, community_id),
            )

    async def by_native_ref(self, community_id: str, platform: str, ref: str) -> EventRow | None:
        """The event whose announcement or scheduled event is the platform's ``ref``, in
        that community only."""
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM event WHERE community_id = ? AND platform = ? "  # noqa: S608
            "AND (native_ref = ? OR native_event = ?) ORDER BY id LIMIT 1",
            (community_id, platform, ref, ref),
        )
        return EventRow(*row) if row else None

    # --- RSVPs ------------------------------------------------------------------------------

    async def rsvp(self, event_id: int, member_id: str, answer: str, now: datetime) -> None:
        await self.db.execute(
            "INSERT INTO event_rsvp (event_id, member_id, answer, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (event_id, member_id) DO UPDATE SET answer = excluded.answer, "
            "updated_at = excluded.updated_at",
            (event_id, member_id, answer, iso(now)),
        )

    async def withdraw(self, event_id: int, member_id: str, answer: str | None = None) -> None:
        """A member took their answer back the platform's own way (a removed reaction, no
        longer "Interested"): only if it is still ``answer``, when given."""
        if answer is None:
            await self.db.execute(
                "DELETE FROM event_rsvp WHERE event_id = ? AND member_id = ?", (event_id, member_id)
            )
            return
        await self.db.execute(
            "DELETE FROM event_rsvp WHERE event_id = ? AND member_id = ? AND answer = ?",
            (event_id, member_id, answer),
        )

    async def counts(self, event_ids: Sequence[int]) -> dict[int, Counts]:
        """Yes, maybe and no per event: numbers only, never who."""
        if not event_ids:
            return {}
        marks = ", ".join("?" for _ in event_ids)
        rows = await self.db.fetchall(
            f"SELECT event_id, answer, COUNT(*) FROM event_rsvp "  # noqa: S608
            f"WHERE event_id IN ({marks}) GROUP BY event_id, answer",
            tuple(event_ids),
        )
        found: dict[int, dict[str, int]] = {}
        for event_id, answer, count in rows:
            found.setdefault(int(event_id), {})[str(answer)] = int(count)
        return {i: Counts(**found.get(i, {})) for i in event_ids}

    async def members(self, event_id: int, answers: Sequence[str]) -> list[str]:
        """Who answered one of ``answers``: for private reminders, never shown to anyone."""
        marks = ", ".join("?" for _ in answers)
        rows = await self.db.fetchall(
            f"SELECT member_id FROM event_rsvp WHERE event_id = ? "  # noqa: S608
            f"AND answer IN ({marks}) ORDER BY member_id",
            (event_id, *answers),
        )
        return [str(row[0]) for row in rows]

    async def member_rsvps(self, member_id: str) -> list[tuple[int, str, str]]:
        """(event id, title, answer) for ``mydata``."""
        rows = await self.db.fetchall(
            "SELECT e.id, e.title, r.answer FROM event_rsvp r JOIN event e ON e.id = r.event_id "
            "WHERE r.member_id = ? ORDER BY e.id",
            (member_id,),
        )
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    # --- the notices one occurrence wrote ---------------------------------------------------

    async def notices_for(self, occurrence_key: str) -> dict[str, int]:
        rows = await self.db.fetchall(
            "SELECT member_id, notice_id FROM event_notice WHERE occurrence_key = ?",
            (occurrence_key,),
        )
        return {str(r[0]): int(r[1]) for r in rows}

    async def remember_notice(self, occurrence_key: str, member_id: str, notice_id: int) -> None:
        await self.db.execute(
            "INSERT INTO event_notice (occurrence_key, member_id, notice_id) VALUES (?, ?, ?)",
            (occurrence_key, member_id, notice_id),
        )

    async def undelivered(self, occurrence_key: str) -> list[tuple[str, int, str]]:
        """(member, notice id, text) of the occurrence's notices not delivered yet."""
        rows = await self.db.fetchall(
            "SELECT n.member_id, n.id, n.text FROM event_notice e JOIN notice n "
            "ON n.id = e.notice_id WHERE e.occurrence_key = ? AND n.delivered_at IS NULL "
            "ORDER BY n.id",
            (occurrence_key,),
        )
        return [(str(r[0]), int(r[1]), str(r[2])) for r in rows]

    # --- settings ---------------------------------------------------------------------------

    async def settings(self, community_id: str) -> EventSettings:
        row = await self.db.fetchone(
            "SELECT reminders, member_polls FROM event_setting WHERE community_id = ?",
            (community_id,),
        )
        if row is None:
            return EventSettings(DEFAULT_REMINDERS, False)
        minutes = sorted((int(p) for p in str(row[0]).split(",") if p), reverse=True)
        return EventSettings(tuple(minutes), bool(row[1]))

    async def set_reminders_setting(self, community_id: str, minutes: Sequence[int]) -> None:
        await self.db.execute(
            "INSERT INTO event_setting (community_id, reminders) VALUES (?, ?) "
            "ON CONFLICT (community_id) DO UPDATE SET reminders = excluded.reminders",
            (community_id, ",".join(str(m) for m in minutes)),
        )

    async def set_member_polls(self, community_id: str, allowed: bool) -> None:
        await self.db.execute(
            "INSERT INTO event_setting (community_id, member_polls) VALUES (?, ?) "
            "ON CONFLICT (community_id) DO UPDATE SET member_polls = excluded.member_polls",
            (community_id, int(allowed)),
        )

    # --- the calendar feed's token ----------------------------------------------------------

    async def set_feed(self, community_id: str, salt: str, token_hash: str, now: datetime) -> None:
        """Store a feed's salt and token hash; a token made with another salt stops working."""
        await self.db.execute(
            "INSERT INTO calendar_feed (community_id, salt, token_hash, created_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (community_id) DO UPDATE SET salt = excluded.salt, "
            "token_hash = excluded.token_hash, created_at = excluded.created_at",
            (community_id, salt, token_hash, iso(now)),
        )

    async def add_feed(self, community_id: str, salt: str, token_hash: str, now: datetime) -> bool:
        """Store the community's first feed; False (nothing written) if it has one."""
        added = await self.db.execute(
            "INSERT INTO calendar_feed (community_id, salt, token_hash, created_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (community_id) DO NOTHING",
            (community_id, salt, token_hash, iso(now)),
        )
        return added > 0

    async def feed(self, community_id: str) -> tuple[str, str] | None:
        """(salt, token hash) of the community's feed, if it has one."""
        row = await self.db.fetchone(
            "SELECT salt, token_hash FROM calendar_feed WHERE community_id = ?", (community_id,)
        )
        return None if row is None else (str(row[0]), str(row[1]))

    async def feed_community(self, token_hash: str) -> str | None:
        row = await self.db.fetchone(
            "SELECT community_id FROM calendar_feed WHERE token_hash = ?", (token_hash,)
        )
        return None if row is None else str(row[0])
