"""`challenge ...`: a community walks a learning path together, one day at a time.

Where each command lives, in this package:

- members.py    `challenge` (what runs here), `join`, `leave`, `today`, `day <n>`,
                `done [note]`, `catchup <n> [note]`, `progress`
- optins.py     `remind on|off` (nudges) and `review on|off` (spaced review), apart
- paths.py      the shipped paths and a community's own (`content import`, the dashboard);
                `challenge paths` lists them
- lifecycle.py  moderators' `challenge start`, `pause`, `resume`, `end` (each one unit of work)
- days.py       each day's thread and its private round (nudges, review questions) as
                one-off schedules, and what they post
- text.py       what a day says, in its thread and when a member opens it again
- here.py       the challenge running in this community, and the member's own row in it

No streaks, badges or leaderboards: a member sees their own progress, everyone else counts.
"""

from __future__ import annotations

from companion.commands import CommandSpec, Feature
from companion.content import Content
from companion.delivery import PostKind
from companion.features.challenges.days import DaySchedule
from companion.features.challenges.lifecycle import ChallengeLifecycle
from companion.features.challenges.members import ChallengeWalk
from companion.features.challenges.optins import ChallengeOptIns
from companion.features.challenges.paths import PathList
from companion.features.communities import Communities
from companion.notices import Notices
from companion.scheduler import Scheduler
from companion.store import Store


class Challenges:
    """The challenge feature, built from its parts."""

    def __init__(
        self,
        store: Store,
        scheduler: Scheduler,
        communities: Communities,
        content: Content,
        notices: Notices,
    ) -> None:
        self.days = DaySchedule(store, scheduler, content, notices)
        self.parts: tuple[Feature, ...] = (
            ChallengeWalk(store, content),
            ChallengeOptIns(store),
            PathList(store, content),
            ChallengeLifecycle(store, content, communities, self.days),
        )

    def commands(self) -> list[CommandSpec]:
        return [spec for part in self.parts for spec in part.commands()]

    def post_kinds(self) -> list[PostKind]:
        return self.days.post_kinds()
