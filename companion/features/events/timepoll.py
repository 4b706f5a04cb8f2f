"""`event plan RULE TITLE [| where] poll TIME | TIME ... [for 2d]`: the club picks a meeting
time first. The candidate times are parsed like `event plan`'s (``parse_when``), each checked
on its own; they become an ordinary poll (``Polls.open``: native where the platform has
polls). When the poll closes, the event is planned at the time with the most votes (ties: the
earliest), announced as usual, in the same transaction that closes the poll and only by the
call that closed it: a resend of the result after a crash plans nothing twice."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from companion.commands import UserError
from companion.events import Invocation, Kind, Reply
from companion.features.communities import Communities
from companion.features.events.planning import EventPlanner, split_title, when_of
from companion.features.events.polls import (
    DEFAULT_HOURS,
    MAX_ANSWERS,
    MIN_ANSWERS,
    Polls,
    check_hours,
    parse_duration,
)
from companion.features.schedules import parse_when
from companion.fmt import Md, bold, code, fmt
from companion.recurrence import DAY_NAMES, Recurrence
from companion.scheduler import PASSED
from companion.store import Repositories, Store
from companion.store.events import NewEvent
from companion.store.polls import PollRow
from companion.store.schedules import iso

KIND = "event"
_POLL = re.compile(r"(?is)^(?P<head>.*)\s+poll\s+(?P<times>.+)$")


def label(rule: Recurrence) -> str:
    """A candidate time as a poll answer, in the community's zone (named in the question)."""
    hhmm = rule.at.strftime("%H:%M")
    if rule.rule == "once":
        return datetime.combine(rule.start, rule.at).strftime("%a %d %b %Y, %H:%M")
    if rule.rule == "daily":
        return f"Daily at {hhmm}"
    return f"Weekly on {', '.join(DAY_NAMES[d].capitalize() for d in rule.days)} at {hhmm}"


def rebuilt(when: list[str]) -> Recurrence:
    """A candidate back from the poll's purpose (``when_of``'s five fields)."""
    rule, days, start, at, zone = when
    return Recurrence(
        rule,
        time.fromisoformat(at),
        ZoneInfo(zone),
        date.fromisoformat(start),
        tuple(int(d) for d in days.split(",") if d),
    )


class TimePoll:
    def __init__(
        self, store: Store, communities: Communities, planner: EventPlanner, polls: Polls
    ) -> None:
        self.store = store
        self.communities = communities
        self.planner = planner
        self.polls = polls
        polls.on_close[KIND] = self.decided

    async def plan(self, inv: Invocation) -> Reply:
        """`event plan`: at a time, or, with `poll TIME | TIME`, at the time the club picks."""
        details = str(inv.args["details"])
        match = _POLL.match(details)
        if match is None or self._starts_with_time(inv, match.group("head")):
            return await self.planner.plan(inv)  # a title with the word "poll" in it
        return await self.ask(inv, match.group("head"), match.group("times"))

    def _starts_with_time(self, inv: Invocation, head: str) -> bool:
        zone = self.communities.zone(inv.place.community_id)
        try:
            parse_when(str(inv.args["rule"]), head.split(), zone, inv.at, then=fmt(""))
        except UserError as error:  # a time that has passed is still a time
            return error.text == UserError(PASSED).text
        return True

    async def ask(self, inv: Invocation, head: str, times: str) -> Reply:
        await self.polls.may_start(inv)
        rule = str(inv.args["rule"])
        title, location = split_title(head)
        times, given = parse_duration(times)
        hours = DEFAULT_HOURS if given is None else given
        check_hours(hours)
        closes = inv.at + timedelta(hours=hours)
        zone = self.communities.zone(inv.place.community_id)
        candidates = [" ".join(part.split()) for part in times.split("|")]
        if not MIN_ANSWERS <= len(candidates) <= MAX_ANSWERS:
            raise UserError(
                fmt(
                    "Give {} to {} times to choose from, each after a `|` (this has {}).",
                    MIN_ANSWERS,
                    MAX_ANSWERS,
                    len(candidates),
                )
            )
        rules: list[Recurrence] = []
        for number, text in enumerate(candidates, 1):
            try:
                found, rest = parse_when(rule, text.split(), zone, inv.at, then=fmt("a `|`"))
            except UserError as error:
                shown = code(text[:40])
                raise UserError(fmt("Time {} ({}): {}", number, shown, error.text)) from None
            if rest:
                raise UserError(
                    fmt("Time {} ({}): give only a time there.", number, code(text[:40]))
                )
            if found.next_after(closes) is None:
                raise UserError(
                    fmt(
                        "Time {} ({}) is before the poll ends ({} hours from now): give a "
                        "later time or a shorter poll, e.g. `for 12h`.",
                        number,
                        code(text[:40]),
                        hours,
                    )
                )
            if any(when_of(found)[1:4] == when_of(other)[1:4] for other in rules):
                raise UserError(fmt("Time {} is given twice; give each time once.", number))
            rules.append(found)
        question = f"When should we meet for {title}? (times in {zone.key})"
        purpose = {
            "kind": KIND,
            "title": title,
            "where": location,
            "times": [list(when_of(found)) for found in rules],
        }
        poll_id = await self.polls.open(
            inv, question, [label(found) for found in rules], hours, purpose
        )
        return Reply(
            fmt(
                "Poll #{} asks when to meet for {}; it is open for {} hours, and when it ends "
                "I plan the event at the time with the most votes (ties: the earliest).",
                poll_id,
                bold(title),
                hours,
            ),
            kind=Kind.CONFIRMATION,
        )

    async def decided(
        self,
        uow: Repositories,
        poll: PollRow,
        purpose: dict[str, object],
        counts: dict[int, int],
        closed: bool,
        by: str | None,
    ) -> Md | None:
        """Plan the event at the winning time (only when this call closed the poll) and say
        so in the result; the same line either way, so a resend reads the same."""
        times = purpose.get("times")
        if not isinstance(times, list) or not times:
            return None
        closes = datetime.fromisoformat(poll.closes_at)
        rules = [rebuilt([str(field) for field in when]) for when in times]
        top = max(counts.values(), default=0)
        if not top:
            return fmt("Nobody voted, so no meeting is planned: plan it with `event plan`.")
        nexts = {
            n: rule.next_after(closes)
            for n, rule in enumerate(rules, 1)
            if counts.get(n, 0) == top and rule.next_after(closes) is not None
        }
        if not nexts:
            return fmt("The chosen time has passed, so no meeting is planned.")
        best = min(nexts, key=lambda n: (nexts[n], n))
        title = str(purpose.get("title", ""))
        if closed:
            rule_, days, start, at, zone = when_of(rules[best - 1])
            new = NewEvent(
                poll.community_id,
                poll.platform,
                poll.room_id,
                title,
                str(purpose.get("where", "")),
                rule_,
                days,
                start,
                at,
                zone,
                by or poll.created_by or "",
                iso(closes),
            )
            await self.planner.create(uow, new)
        return fmt(
            "{} is planned for {}: I am announcing it here.", bold(title), poll.options[best - 1]
        )
