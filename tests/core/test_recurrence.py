"""Recurrence's series, checked against dateutil walking the whole series from the start.

``local_times`` begins its walk near the instant asked about (a schedule years old would
otherwise cost a step per day of its age at every claim); it must give exactly what the
walk from the schedule's first day gives, for daily and weekly rules in any zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, WEEKLY, rrule
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.recurrence import Recurrence

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]


def from_the_start(rule: Recurrence, after: datetime) -> datetime | None:
    """The first occurrence after ``after``, walking every one from the start."""
    first = datetime.combine(rule.start, rule.at)
    freq = DAILY if rule.rule == "daily" else WEEKLY
    days = (rule.days or (rule.start.weekday(),)) if rule.rule == "weekly" else None
    for local in rrule(freq, dtstart=first, byweekday=days):
        for minute in range(24 * 60):  # the DST gap moves to its end, as to_instant does
            candidate = local + timedelta(minutes=minute)
            aware = candidate.replace(tzinfo=rule.zone)
            if aware.astimezone(UTC).astimezone(rule.zone).replace(tzinfo=None) == candidate:
                break
        instant = aware.astimezone(UTC)
        if instant > after:
            return instant
    return None


rules = st.builds(
    Recurrence,
    rule=st.sampled_from(["daily", "weekly"]),
    at=st.sampled_from([time(0, 0), time(0, 30), time(2, 30), time(23, 30), time(23, 59)])
    | st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    zone=st.sampled_from(ZONES).map(ZoneInfo),
    start=st.dates(date(2024, 1, 1), date(2026, 6, 1)),
    days=st.lists(st.integers(0, 6), max_size=3, unique=True).map(lambda d: tuple(sorted(d))),
)


@settings(max_examples=400, deadline=None)
@given(
    rule=rules,
    days=st.integers(-3, 900),
    minutes=st.integers(-90, 90) | st.integers(-36 * 60, 36 * 60),
)
def test_next_after_is_the_series_walked_from_its_start(
    rule: Recurrence, days: int, minutes: int
) -> None:
    """Asked at any moment, most often near an occurrence's local time (where an
    off-by-a-day would show), from before the first day to years after it."""
    local = datetime.combine(rule.start + timedelta(days=days), rule.at)
    after = (local + timedelta(minutes=minutes)).replace(tzinfo=rule.zone).astimezone(UTC)
    assert rule.next_after(after) == from_the_start(rule, after)


def test_a_series_of_occurrences_matches_for_a_year() -> None:
    rule = Recurrence("weekly", time(2, 30), ZoneInfo("Europe/Berlin"), date(2025, 1, 6), (0, 6))
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    ours = []
    for _ in range(104):  # both DST changes, twice
        found = rule.next_after(moment)
        assert found is not None
        ours.append(found)
        moment = found
    assert ours[0] == datetime(2025, 1, 6, 1, 30, tzinfo=UTC)
    expected, moment = [], datetime(2025, 1, 1, tzinfo=UTC)
    for _ in range(104):
        found = from_the_start(rule, moment)
        assert found is not None
        expected.append(found)
        moment = found
    assert ours == expected
