"""`bookclub ...`: read a book together, a discussion thread per chapter, spoiler-safe.

Where each command lives, in this package:

- lifecycle.py  `bookclub start`, `pause`, `resume`, `skip`, `end` (each one unit of work)
- reading.py    `bookclub` (status), `bookclub schedule`, and the spoiler-safe pair
                `bookclub progress` and `bookclub prompts`
- chapters.py   each chapter's discussion thread and reminder (one-off schedules), and what
                they post
- plans.py      `bookclub plan create|prompt`: the reading plans, shipped and a community's
- meetings.py   `with meetings HH:MM`: an event per chapter, moved and cancelled with the club
- vote.py       `bookclub vote`: a poll of the plans or the approved suggestions
- pace.py       `every N days [HH:MM]` or `weekly DAY HH:MM`
- clubs.py      the club in this channel; its times in its own zone
"""

from __future__ import annotations

from companion.commands import CommandSpec, Feature
from companion.delivery import PostKind
from companion.features.bookclub.chapters import ChapterSchedule
from companion.features.bookclub.lifecycle import ClubLifecycle
from companion.features.bookclub.meetings import ClubMeetings
from companion.features.bookclub.plans import Plans
from companion.features.bookclub.reading import Reading
from companion.features.bookclub.vote import ClubVote
from companion.features.communities import Communities
from companion.features.events import Events
from companion.scheduler import Scheduler
from companion.store import Store


class BookClubs:
    """The book club feature, built from its parts."""

    def __init__(
        self,
        store: Store,
        scheduler: Scheduler,
        communities: Communities,
        plans: Plans,
        events: Events,
    ) -> None:
        self.chapters = chapters = ChapterSchedule(store, scheduler, plans)
        self.parts: tuple[Feature, ...] = (
            Reading(store, plans),
            ClubLifecycle(store, communities, plans, chapters, ClubMeetings(events)),
            ClubVote(store, plans, events.polls),
        )

    def commands(self) -> list[CommandSpec]:
        return [spec for part in self.parts for spec in part.commands()]

    def post_kinds(self) -> list[PostKind]:
        return self.chapters.post_kinds()
