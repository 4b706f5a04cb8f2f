"""Wall-clock recurrence: "daily 09:00 Europe/Berlin" stays 09:00 local across DST.

python-dateutil's rrule does the calendar arithmetic on naive local times; zoneinfo turns
each local time into an instant. A local time that does not exist (the spring-forward gap)
moves to the first valid minute after it; one that exists twice (the fall-back hour) is
taken once, at its first occurrence.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class StoredRule(Protocol):
    """The columns a stored schedule or event keeps its rule in."""

    @property
    def rule(self) -> str: ...
    @property
    def at_time(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def start_date(self) -> str: ...
    @property
    def days(self) -> str: ...


class Recurrence(NamedTuple):
    rule: str  # once | daily | weekly
    at: time
    zone: ZoneInfo
    start: date
    days: tuple[int, ...] = ()  # weekly: 0 = Monday

    @classmethod
    def stored(cls, row: StoredRule) -> Recurrence:
        """The rule as a schedule or an event keeps it in the database."""
        return cls(
            rule=row.rule,
            at=time.fromisoformat(row.at_time),
            zone=ZoneInfo(row.timezone),
            start=date.fromisoformat(row.start_date),
            days=tuple(int(d) for d in row.days.split(",") if d),
        )

    @property
    def weekdays(self) -> tuple[int, ...]:
        """A weekly rule's days (its start's weekday when none are given); () otherwise."""
        return (self.days or (self.start.weekday(),)) if self.rule == "weekly" else ()

    def local_times(self, after_local: datetime) -> Iterator[datetime]:
        """Naive local datetimes of the rule, from the day of ``after_local`` on."""
        first = datetime.combine(self.start, self.at)
        if self.rule == "once":
            yield first
            return
        # dateutil (and six) only once a series is walked: not on the way to a first reply
        from dateutil.rrule import DAILY, WEEKLY, rrule

        if self.rule == "daily":
            rule = rrule(DAILY, dtstart=first)
        else:
            rule = rrule(WEEKLY, dtstart=first, byweekday=self.weekdays)
        yield from rule.xafter(max(first, after_local - timedelta(days=1)), inc=True)

    def next_after(self, after: datetime) -> datetime | None:
        """The first occurrence strictly after the instant ``after`` (UTC), or None."""
        after_local = after.astimezone(self.zone).replace(tzinfo=None)
        if self.rule != "once" and after_local - timedelta(days=1) >= datetime.combine(
            self.start, self.at
        ):
            # rrule walks every occurrence from its start, so a schedule years old would
            # cost a step per day of its age. Past its first day the start no longer
            # matters to a daily or weekly series (interval 1, its weekdays fixed): walk
            # from the day before, and schedules that share the rule, time and zone (a
            # burst at 09:00 in one zone) share one computation.
            return _next_in_series(self.rule, self.at, self.zone, self.weekdays, after)
        return self._first_after(after, after_local)

    def _first_after(self, after: datetime, after_local: datetime) -> datetime | None:
        for local in self.local_times(after_local):
            instant = to_instant(local, self.zone)
            if instant > after:
                return instant
        return None

    def describe(self) -> str:
        hhmm = self.at.strftime("%H:%M")
        if self.rule == "once":
            return f"once on {self.start.isoformat()} at {hhmm} {self.zone.key}"
        if self.rule == "daily":
            return f"daily at {hhmm} {self.zone.key}"
        names = ", ".join(DAY_NAMES[d].capitalize() for d in self.days)
        return f"weekly on {names} at {hhmm} {self.zone.key}"


@lru_cache(maxsize=4096)
def _next_in_series(
    rule: str, at: time, zone: ZoneInfo, days: tuple[int, ...], after: datetime
) -> datetime | None:
    """next_after for a series begun before ``after``'s previous day (see next_after)."""
    after_local = after.astimezone(zone).replace(tzinfo=None)
    start = (after_local - timedelta(days=1)).date()
    return Recurrence(rule, at, zone, start, days)._first_after(after, after_local)


def to_instant(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive local time to a UTC instant; a time in a DST gap moves to the gap's end."""
    candidate = local
    for _ in range(24 * 60):
        aware = candidate.replace(tzinfo=zone, fold=0)
        back = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if back == candidate:
            return aware.astimezone(UTC)
        candidate += timedelta(minutes=1)
    raise ValueError(f"{local} never becomes valid in {zone.key}")


def shown(moment: datetime | str, zone: ZoneInfo) -> str:
    """How an instant (or its ISO text, as stored) is shown to members, in a community's
    zone: "Thu 10 Dec 2026, 18:30 Europe/Berlin"."""
    at = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return at.astimezone(zone).strftime("%a %d %b %Y, %H:%M ") + zone.key
