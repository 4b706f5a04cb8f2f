"""When an event happens and when its reminders go out, in its community's wall-clock time."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from companion.events import Place
from companion.recurrence import Recurrence, to_instant
from companion.store.events import EventRow

MAX_LISTED = 366  # occurrences walked at most for one listing (a daily event for a year)


def place_of(event: EventRow) -> Place:
    return Place(event.platform, event.community_id, event.room_id)


def recurrence(row: EventRow) -> Recurrence:
    return Recurrence.stored(row)


def shifted(rule: Recurrence, minutes: int) -> Recurrence:
    """The same rule ``minutes`` earlier on the wall clock: a reminder's rule. A reminder a
    day before a Thursday 18:30 meeting is on Wednesday at 18:30 local, whatever DST does."""
    first = datetime.combine(rule.start, rule.at) - timedelta(minutes=minutes)
    back = (rule.start - first.date()).days
    days = tuple(sorted({(d - back) % 7 for d in rule.weekdays})) if rule.rule == "weekly" else ()
    return Recurrence(rule.rule, first.time(), rule.zone, first.date(), days)


def reminded(due: datetime, minutes: int, zone: ZoneInfo) -> datetime:
    """The event's occurrence (UTC) that a reminder due at ``due`` is for."""
    local = due.astimezone(zone).replace(tzinfo=None) + timedelta(minutes=minutes)
    return to_instant(local, zone)


def next_at(row: EventRow, after: datetime) -> datetime | None:
    return recurrence(row).next_after(after) if row.status == "planned" else None


def between(row: EventRow, start: datetime, end: datetime) -> list[datetime]:
    """The event's occurrences from ``start`` (inclusive) to ``end`` (exclusive), UTC."""
    rule = recurrence(row)
    found: list[datetime] = []
    moment = rule.next_after(start - timedelta(seconds=1))
    while moment is not None and moment < end and len(found) < MAX_LISTED:
        found.append(moment)
        moment = rule.next_after(moment)
    return found


def ahead(minutes: int) -> str:
    """A reminder's lead time in words: "24 hours", "15 minutes", "1 hour 30 minutes"."""
    hours, rest = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if rest:
        parts.append(f"{rest} minute{'s' if rest != 1 else ''}")
    return " ".join(parts) or "0 minutes"


def parse_lead(text: str) -> int:
    """ "24h", "15m", "90m", "2d" -> minutes; ValueError otherwise."""
    text = text.strip().lower()
    units = {"m": 1, "h": 60, "d": 1440}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdecimal():
        raise ValueError(text)
    return int(text[:-1]) * units[text[-1]]
