"""Per-member flood limits: a burst from one member (a script, a stuck key) is answered up
to a rate, told once that it is too fast, then dropped until its window ends, so everyone
else keeps their normal reply time. Moderators are not limited (they set things up in
bursts, and they can already change the community)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from companion.events import Actor, Place
from companion.ports import Clock

PRUNE_AT = 10_000  # windows kept before the ended ones are swept out


class Verdict(Enum):
    ANSWER = "answer"
    WARN = "warn"  # the first command over the limit: say so, once
    DROP = "drop"  # later ones in the same window: say nothing


@dataclass(slots=True)
class _Window:
    ends: datetime
    count: int


class FloodGate:
    """``limit`` commands per member per community in each ``window`` (0 turns it off)."""

    def __init__(self, clock: Clock, limit: int = 10, window: timedelta = timedelta(seconds=30)):
        self.clock = clock
        self.limit = limit
        self.window = window
        self._windows: dict[tuple[str, str, str], _Window] = {}

    def check(self, actor: Actor, place: Place) -> Verdict:
        if self.limit <= 0 or actor.is_moderator:
            return Verdict.ANSWER
        now = self.clock.now()
        key = (place.platform, place.community_id, actor.id)
        window = self._windows.get(key)
        if window is None or window.ends <= now:
            if len(self._windows) >= PRUNE_AT:
                self._prune(now)
            self._windows[key] = _Window(now + self.window, 1)
            return Verdict.ANSWER
        window.count += 1
        if window.count <= self.limit:
            return Verdict.ANSWER
        return Verdict.WARN if window.count == self.limit + 1 else Verdict.DROP

    def holding(self, actor: Actor, place: Place) -> bool:
        """Whether the member is over the limit now; asking does not count as a command."""
        if self.limit <= 0 or actor.is_moderator:
            return False
        window = self._windows.get((place.platform, place.community_id, actor.id))
        return window is not None and window.ends > self.clock.now() and window.count > self.limit

    def too_fast(self, actor: Actor, place: Place) -> str:
        seconds = self._wait(actor, place)
        return (
            f"You are sending commands faster than I answer them ({self.limit} every "
            f"{self.window.total_seconds():g} seconds). I will answer you again in "
            f"{seconds} second{'s' * (seconds != 1)}; until then I stay quiet."
        )

    def still_too_fast(self, actor: Actor, place: Place) -> str:
        """The one line for each later command, where a platform must answer every one."""
        seconds = self._wait(actor, place)
        return f"Still too fast: I answer you again in {seconds} second{'s' * (seconds != 1)}."

    def _wait(self, actor: Actor, place: Place) -> int:
        window = self._windows.get((place.platform, place.community_id, actor.id))
        wait = (window.ends - self.clock.now()).total_seconds() if window else 0.0
        return max(1, math.ceil(wait))

    def _prune(self, now: datetime) -> None:
        self._windows = {k: w for k, w in self._windows.items() if w.ends > now}
