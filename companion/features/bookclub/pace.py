"""How often a book club meets: `every N days [HH:MM]` or `weekly DAY HH:MM`."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import NamedTuple

from companion.commands import UserError
from companion.features.schedules import parse_days, parse_time
from companion.fmt import fmt

DEFAULT_TIME = time(18, 0)


class Pace(NamedTuple):
    every_days: int
    weekday: int | None  # weekly on this day (0 = Monday), else every N days from the start
    at: time

    def opens(self, start: date, chapters: int) -> list[date]:
        """The local date of each chapter's discussion: one pace after reading starts."""
        if self.weekday is None:
            return [start + timedelta(days=self.every_days * k) for k in range(1, chapters + 1)]
        first = start + timedelta(days=(self.weekday - start.weekday() - 1) % 7 + 1)
        return [first + timedelta(weeks=k) for k in range(chapters)]


def parse_pace(words: list[str], default_days: int) -> Pace:
    if not words:
        return Pace(default_days, None, DEFAULT_TIME)
    if words[0] == "every" and len(words) in (3, 4) and words[2] in ("day", "days"):
        if not words[1].isdecimal() or not 1 <= int(words[1]) <= 60:
            raise UserError(fmt("`every N days` takes N from 1 to 60."))
        at = parse_time(words[3]) if len(words) == 4 else DEFAULT_TIME
        return Pace(int(words[1]), None, at)
    if words[0] == "weekly" and len(words) == 3:
        day = parse_days(words[1])
        if len(day) != 1:
            raise UserError(fmt("A club meets on one day a week, e.g. `weekly thu 19:00`."))
        return Pace(7, day[0], parse_time(words[2]))
    raise UserError(fmt("Give the pace as `every 7 days [HH:MM]` or `weekly thu 19:00`."))
