"""`calendar` and `calendar reset`, and the community's iCalendar feed (RFC 5545) that the
web server serves at ``/calendar/<token>.ics``.

The feed holds the community's events, its discussion-thread schedules and its book clubs'
chapter discussions (a club's meetings are events, named apart: "chapter 3 meeting"): each
with a stable UID, a VTIMEZONE for its zone, an RRULE when it recurs, a SEQUENCE that grows
with each change and STATUS:CANCELLED once cancelled. The
``icalendar`` library writes the text (folding, escaping, VTIMEZONE from the tz database).

The link's token is derived from the bot's key file and a random salt per community, so the
bot can show the same link again; the database keeps only its sha256 and the salt.
`calendar reset` draws a new salt and the old link stops working.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from companion.commands import UserError
from companion.config import WebSettings
from companion.events import Invocation, Kind, Reply
from companion.features.dashboard import token_hash
from companion.features.events.timing import recurrence
from companion.fmt import fmt, link
from companion.identity import MemberHasher
from companion.ports import Clock
from companion.recurrence import Recurrence, to_instant
from companion.scheduler import recurrence_of
from companion.store import Store
from companion.store.bookclubs import ClubRow, SessionRow
from companion.store.events import EventRow
from companion.store.schedules import ScheduleRow

if TYPE_CHECKING:
    import icalendar

MEETING = timedelta(hours=1)  # how long a discussion or chapter meeting is shown
BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
FEED_KINDS = ("discussion",)


def first_local(rule: Recurrence, since: datetime) -> datetime:
    """The rule's first occurrence after ``since`` (when it was planned), aware in its zone.
    DTSTART must be an occurrence the bot keeps: RFC 5545 counts DTSTART as one even where
    the RRULE would not have it, and a daily rule planned at noon for 07:45 starts tomorrow.
    """
    first = rule.next_after(since - timedelta(seconds=1))
    if first is not None:
        return first.astimezone(rule.zone)
    local = next(iter(rule.local_times(datetime.combine(rule.start, time.min))))
    return to_instant(local, rule.zone).astimezone(rule.zone)


def discussion_title(club_title: str, chapter: int) -> str:
    """A book club's chapter thread in the feed: "Circle: chapter 3 discussion thread",
    never the same as the chapter's meeting (an event: "Circle: chapter 3 meeting")."""
    return f"{club_title}: chapter {chapter} discussion thread"


def rrule_of(rule: Recurrence) -> dict[str, object] | None:
    if rule.rule == "daily":
        return {"FREQ": "DAILY"}
    if rule.rule == "weekly":
        return {"FREQ": "WEEKLY", "BYDAY": [BYDAY[d] for d in rule.weekdays]}
    return None


def _vevent(
    uid: str,
    title: str,
    rule: Recurrence,
    length: timedelta,
    stamp: datetime,
    since: datetime,
    *,
    location: str = "",
    sequence: int = 0,
    cancelled: bool = False,
) -> icalendar.Event:
    start = first_local(rule, since)
    import icalendar  # only when a feed is read: 4 MB and ~60 ms at start otherwise

    item = icalendar.Event()
    item.add("uid", uid)
    item.add("dtstamp", stamp.astimezone(UTC))
    item.add("dtstart", start)
    item.add("dtend", start + length)
    item.add("summary", title)
    if location:
        item.add("location", location)
    item.add("sequence", sequence)
    item.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    rrule = rrule_of(rule)
    if rrule:
        item.add("rrule", rrule)
    return item


class CalendarFeed:
    def __init__(self, store: Store, clock: Clock, hasher: MemberHasher, web: WebSettings) -> None:
        self.store = store
        self.clock = clock
        self.hasher = hasher
        self.web = web

    # --- the link ---------------------------------------------------------------------------

    def _token(self, community_id: str, salt: str) -> str:
        return self.hasher(community_id, f"\0calendar-feed\0{salt}")

    def url(self, token: str) -> str:
        return f"{self.web.public_url.rstrip('/')}/calendar/{token}.ics"

    async def token(self, community_id: str, *, reset: bool = False) -> str:
        """The community's feed token (made on first use, replaced on reset)."""
        found = await self.store.events.feed(community_id)
        if found is not None and not reset:
            token = self._token(community_id, found[0])
            if token_hash(token) == found[1]:
                return token
        salt = secrets.token_hex(16)
        token = self._token(community_id, salt)
        if found is None:  # the first link: another ask may be making it at this moment
            if not await self.store.events.add_feed(
                community_id, salt, token_hash(token), self.clock.now()
            ):
                return await self.token(community_id)  # it did: that link stands
            return token
        await self.store.events.set_feed(community_id, salt, token_hash(token), self.clock.now())
        return token

    async def link(self, inv: Invocation) -> Reply:
        self._check_web()
        token = await self.token(inv.place.community_id)
        return Reply(
            fmt(
                "{} (events, discussion threads and book-club meetings here). Add it to your "
                'calendar app as a subscription ("From URL" / "Subscribe"): it keeps '
                "itself up to date. Keep the link to yourself; anyone with it can read the "
                "calendar.",
                link("The community calendar", self.url(token)),
            ),
            private=True,
        )

    async def reset(self, inv: Invocation) -> Reply:
        self._check_web()
        token = await self.token(inv.place.community_id, reset=True)
        return Reply(
            fmt(
                "The old calendar link no longer works. The new one: {}. Members get it "
                "with `calendar`.",
                link("community calendar", self.url(token)),
            ),
            private=True,
            kind=Kind.CONFIRMATION,
        )

    def _check_web(self) -> None:
        if not self.web.enabled:
            raise UserError(
                fmt(
                    "The calendar feed is served by the web dashboard, which is not switched "
                    "on here. The operator can turn it on with a `[web]` table in the config "
                    "file."
                )
            )

    # --- the feed ---------------------------------------------------------------------------


async def community_of(store: Store, token: str) -> str | None:
    """The community whose feed ``token`` opens, or None (the web route's lookup)."""
    return await store.events.feed_community(token_hash(token))


async def ics(store: Store, community_id: str) -> bytes:
    """The community's calendar as iCalendar text."""
    events = await store.events.for_community(community_id, cancelled=True)
    schedules = [
        s
        for s in await store.schedules.for_community(community_id)
        if s.kind in FEED_KINDS and s.status == "active"
    ]
    clubs = await store.bookclubs.clubs_in_community(community_id)
    sessions = [(club, await store.bookclubs.sessions(club.id)) for club in clubs]
    return render(community_id, events, schedules, sessions)


def render(
    community_id: str,
    events: list[EventRow],
    schedules: list[ScheduleRow],
    clubs: list[tuple[ClubRow, list[SessionRow]]],
) -> bytes:
    """Stable UIDs: the kind and id, at a name made from the community (not secret)."""
    digest = hashlib.sha256(community_id.encode("utf-8")).hexdigest()[:16]
    domain = f"{digest}.companion"
    import icalendar  # only when a feed is read

    cal = icalendar.Calendar()
    cal.add("prodid", "-//Companion//community calendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "Community calendar")
    for event in events:
        cal.add_component(
            _vevent(
                f"event-{event.id}@{domain}",
                event.title,
                recurrence(event),
                timedelta(minutes=event.minutes),
                datetime.fromisoformat(event.updated_at),
                datetime.fromisoformat(event.created_at),
                location=event.location,
                sequence=event.sequence,
                cancelled=event.status == "cancelled",
            )
        )
    for row in schedules:
        cal.add_component(
            _vevent(
                f"schedule-{row.id}@{domain}",
                "Discussion thread",
                recurrence_of(row),
                MEETING,
                datetime.fromisoformat(row.created_at),
                datetime.fromisoformat(row.created_at),
            )
        )
    for club, sessions in clubs:
        zone = ZoneInfo(club.timezone)
        for session in sessions:
            opens = datetime.fromisoformat(session.opens_at).astimezone(zone)
            once = Recurrence("once", opens.time(), zone, opens.date())
            cal.add_component(
                _vevent(
                    f"club-{club.id}-{session.chapter}@{domain}",
                    discussion_title(club.title, session.chapter),
                    once,
                    MEETING,
                    datetime.fromisoformat(club.created_at),
                    opens,
                    cancelled=session.state != "planned",
                )
            )
    cal.add_missing_timezones(first_date=date(2000, 1, 1), last_date=date(2040, 1, 1))
    return bytes(cal.to_ical())
