"""Book clubs, their chapter sessions, members' private progress, community reading plans."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from companion.store.base import Db
from companion.store.schedules import iso

_CLUB = (
    "id, community_id, platform, room_id, plan_ref, title, chapters, timezone, status, "
    "paused_at, created_by, created_at"
)


class ClubRow(NamedTuple):
    id: int
    community_id: str
    platform: str
    room_id: str
    plan_ref: str
    title: str
    chapters: int
    timezone: str
    status: str
    paused_at: str | None
    created_by: str | None
    created_at: str


class SessionRow(NamedTuple):
    club_id: int
    chapter: int
    opens_at: str
    state: str
    thread_schedule_id: int | None
    reminder_schedule_id: int | None


class PlanRow(NamedTuple):
    id: int
    community_id: str
    slug: str
    title: str
    chapters: int


class ReachedCache:
    """How far each community's clubs have read, kept in memory between changes.

    One per store, shared by its units of work: every write to a club or its sessions through
    this store forgets it all (clubs change rarely), and an entry is only kept until the next
    discussion opens or ``REACHED_TTL`` passes, whichever is first (the TTL bounds how long a
    change made by another process sharing the database can go unseen).
    """

    LIMIT = 50_000  # communities remembered at once; past it, start again

    def __init__(self) -> None:
        # community -> (reached or None, computed for this moment, good until this moment)
        self.entries: dict[str, tuple[int | None, datetime, datetime]] = {}
        self.generation = 0  # bumped on every change, so a read racing a write is not kept

    def forget(self) -> None:
        self.entries.clear()
        self.generation += 1


REACHED_TTL = timedelta(seconds=60)


class BookClubRepo:
    def __init__(self, db: Db, cache: ReachedCache | None = None) -> None:
        self.db = db
        self.cache = cache if cache is not None else ReachedCache()
        self.changed = False  # a club or its sessions written through this repository

    def _changed(self) -> None:
        self.changed = True
        self.cache.forget()

    # --- plans ----------------------------------------------------------------------------

    async def add_plan(
        self, community_id: str, slug: str, title: str, chapters: int, by: str, now: datetime
    ) -> int | None:
        """None when the community already has a plan with that slug."""
        async with self.db.transaction() as tx:
            return await tx.insert(
                "INSERT INTO reading_plan (community_id, slug, title, chapters, created_by, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                (community_id, slug, title, chapters, by, iso(now)),
            )

    async def plans(self, community_id: str) -> list[PlanRow]:
        rows = await self.db.fetchall(
            "SELECT id, community_id, slug, title, chapters FROM reading_plan "
            "WHERE community_id = ? ORDER BY id",
            (community_id,),
        )
        return [PlanRow(*row) for row in rows]

    async def add_plan_prompt(self, plan_id: int, chapter: int, text: str, now: datetime) -> None:
        await self.db.execute(
            "INSERT INTO plan_prompt (plan_id, chapter, text, created_at) VALUES (?, ?, ?, ?)",
            (plan_id, chapter, text, iso(now)),
        )

    async def plan_prompts(self, plan_id: int, upto: int) -> list[tuple[int, str]]:
        rows = await self.db.fetchall(
            "SELECT chapter, text FROM plan_prompt WHERE plan_id = ? AND chapter <= ? "
            "ORDER BY chapter, id",
            (plan_id, upto),
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    # --- clubs ----------------------------------------------------------------------------

    async def add_club(
        self,
        community_id: str,
        platform: str,
        room_id: str,
        plan_ref: str,
        title: str,
        chapters: int,
        timezone: str,
        by: str,
        now: datetime,
        sessions: Sequence[tuple[int, str, int, int | None]],
    ) -> int | None:
        """A club and its sessions (chapter, opens_at, thread and reminder schedule ids).

        None when the room already has a club (the unique index decides, even in a race).
        """
        async with self.db.transaction() as tx:
            club_id = await tx.insert(
                "INSERT INTO club (community_id, platform, room_id, plan_ref, title, chapters, "
                "timezone, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING RETURNING id",
                (
                    community_id,
                    platform,
                    room_id,
                    plan_ref,
                    title,
                    chapters,
                    timezone,
                    by,
                    iso(now),
                ),
            )
            if club_id is None:
                return None
            await tx.executemany(
                "INSERT INTO club_session (club_id, chapter, opens_at, thread_schedule_id, "
                "reminder_schedule_id) VALUES (?, ?, ?, ?, ?)",
                [(club_id, *session) for session in sessions],
            )
            self._changed()
            return club_id

    async def club_in_room(self, platform: str, room_id: str) -> ClubRow | None:
        row = await self.db.fetchone(
            f"SELECT {_CLUB} FROM club WHERE platform = ? AND room_id = ? "  # noqa: S608
            "AND status != 'ended'",
            (platform, room_id),
        )
        return ClubRow(*row) if row else None

    async def clubs_in_community(self, community_id: str) -> list[ClubRow]:
        """The community's clubs that have not ended (one per channel at most)."""
        rows = await self.db.fetchall(
            f"SELECT {_CLUB} FROM club WHERE community_id = ? "  # noqa: S608
            "AND status != 'ended' ORDER BY id",
            (community_id,),
        )
        return [ClubRow(*row) for row in rows]

    async def get(self, club_id: int) -> ClubRow | None:
        row = await self.db.fetchone(f"SELECT {_CLUB} FROM club WHERE id = ?", (club_id,))  # noqa: S608
        return ClubRow(*row) if row else None

    async def sessions(self, club_id: int) -> list[SessionRow]:
        rows = await self.db.fetchall(
            "SELECT club_id, chapter, opens_at, state, thread_schedule_id, reminder_schedule_id "
            "FROM club_session WHERE club_id = ? ORDER BY chapter",
            (club_id,),
        )
        return [SessionRow(*row) for row in rows]

    async def add_meeting(self, club_id: int, chapter: int, event_id: int) -> None:
        """The event planned for a chapter's discussion day (`with meetings HH:MM`)."""
        await self.db.execute(
            "INSERT INTO club_meeting (club_id, chapter, event_id) VALUES (?, ?, ?)",
            (club_id, chapter, event_id),
        )

    async def meetings(self, club_id: int) -> dict[int, int]:
        """chapter -> the id of its meeting event, for a club started with meetings."""
        rows = await self.db.fetchall(
            "SELECT chapter, event_id FROM club_meeting WHERE club_id = ? ORDER BY chapter",
            (club_id,),
        )
        return {int(chapter): int(event_id) for chapter, event_id in rows}

    async def paused_meetings(self, community_id: str) -> set[int]:
        """The meeting events of the community's paused clubs: no reminders until resumed."""
        rows = await self.db.fetchall(
            "SELECT m.event_id FROM club_meeting m JOIN club c ON c.id = m.club_id "
            "WHERE c.community_id = ? AND c.status = 'paused'",
            (community_id,),
        )
        return {int(row[0]) for row in rows}

    async def set_status(self, club_id: int, status: str, paused_at: str | None) -> None:
        await self.db.execute(
            "UPDATE club SET status = ?, paused_at = ? WHERE id = ?", (status, paused_at, club_id)
        )
        self._changed()

    async def update_sessions(
        self, changes: Sequence[tuple[int, int, str, str, int | None, int | None]]
    ) -> None:
        """(club, chapter, opens_at, state, thread schedule, reminder schedule) in one go."""
        async with self.db.transaction() as tx:
            await tx.executemany(
                "UPDATE club_session SET opens_at = ?, state = ?, thread_schedule_id = ?, "
                "reminder_schedule_id = ? WHERE club_id = ? AND chapter = ?",
                [(o, s, t, r, club, chapter) for club, chapter, o, s, t, r in changes],
            )
        self._changed()

    # --- progress -------------------------------------------------------------------------

    async def set_progress(self, club_id: int, member_id: str, chapter: int, now: datetime) -> None:
        await self.db.execute(
            "INSERT INTO club_progress (club_id, member_id, chapter, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (club_id, member_id) "
            "DO UPDATE SET chapter = excluded.chapter, updated_at = excluded.updated_at",
            (club_id, member_id, chapter, iso(now)),
        )

    async def progress(self, club_id: int, member_id: str) -> int:
        row = await self.db.fetchone(
            "SELECT chapter FROM club_progress WHERE club_id = ? AND member_id = ?",
            (club_id, member_id),
        )
        return int(row[0]) if row else 0

    async def finished_count(self, club_id: int, chapter: int) -> int:
        row = await self.db.fetchone(
            "SELECT COUNT(*) FROM club_progress WHERE club_id = ? AND chapter >= ?",
            (club_id, chapter),
        )
        return int(row[0]) if row else 0

    async def chapter_counts(self, club_id: int) -> dict[int, int]:
        """How many members have marked each chapter as the last one read (counts, no ids)."""
        rows = await self.db.fetchall(
            "SELECT chapter, COUNT(*) FROM club_progress WHERE club_id = ? GROUP BY chapter",
            (club_id,),
        )
        return {int(r[0]): int(r[1]) for r in rows}

    async def chapters_reached(self, community_ids: Sequence[str], now: datetime) -> dict[str, int]:
        """How far each community's book clubs have read, for spoiler-safe general rotation.

        A club has reached the highest chapter whose discussion has opened by ``now`` (a
        skipped discussion counts: the club read on; a paused club stops where it paused),
        0 before the first. A community is listed only while a club of its own is part way
        through its book, with the lowest such chapter when it has several; a community not
        listed has no club still reading, so nothing there is a spoiler.
        """
        reached: dict[str, int] = {}
        wanted = list(dict.fromkeys(community_ids))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = await self.db.fetchall(
                "SELECT c.community_id, c.chapters, COALESCE(MAX(s.chapter), 0) "  # noqa: S608
                "FROM club c LEFT JOIN club_session s ON s.club_id = c.id "
                "AND s.state IN ('planned', 'skipped') AND s.opens_at <= ? "
                "AND (c.paused_at IS NULL OR s.opens_at <= c.paused_at) "
                f"WHERE c.status != 'ended' AND c.community_id IN ({marks}) "
                "GROUP BY c.id, c.community_id, c.chapters",
                (iso(now), *chunk),
            )
            for community_id, chapters, chapter in rows:
                if int(chapter) < int(chapters):
                    reached[community_id] = min(reached.get(community_id, 10_000), int(chapter))
        return reached

    async def reached(self, community_id: str, now: datetime) -> int | None:
        """``chapters_reached`` for one community (None: no club here is part way through a
        book), answered from memory while nothing can have changed it: no club written through
        this store since, no discussion opened since (see ReachedCache)."""
        cache = self.cache
        found = cache.entries.get(community_id)
        if found is not None and found[1] <= now < found[2]:
            return found[0]
        generation = cache.generation
        reached = (await self.chapters_reached([community_id], now)).get(community_id)
        row = await self.db.fetchone(
            "SELECT MIN(s.opens_at) FROM club c JOIN club_session s ON s.club_id = c.id "
            "WHERE c.community_id = ? AND c.status != 'ended' AND c.paused_at IS NULL "
            "AND s.state IN ('planned', 'skipped') AND s.opens_at > ?",
            (community_id, iso(now)),
        )
        until = now + REACHED_TTL
        if row and row[0]:
            opens = datetime.fromisoformat(str(row[0]))
            until = min(until, opens if opens.tzinfo else opens.replace(tzinfo=UTC))
        if cache.generation == generation:  # no club changed while this was read
            if len(cache.entries) >= cache.LIMIT:
                cache.entries.clear()
            cache.entries[community_id] = (reached, now, until)
        return reached

    async def session_for_schedule(self, schedule_id: int) -> tuple[SessionRow, ClubRow] | None:
        """The chapter session a thread or reminder schedule belongs to, with its club."""
        columns = ", ".join(f"c.{name.strip()}" for name in _CLUB.split(","))
        row = await self.db.fetchone(
            "SELECT s.club_id, s.chapter, s.opens_at, s.state, s.thread_schedule_id, "  # noqa: S608
            f"s.reminder_schedule_id, {columns} FROM club_session s "
            "JOIN club c ON c.id = s.club_id "
            "WHERE s.thread_schedule_id = ? OR s.reminder_schedule_id = ?",
            (schedule_id, schedule_id),
        )
        return (SessionRow(*row[:6]), ClubRow(*row[6:])) if row else None
