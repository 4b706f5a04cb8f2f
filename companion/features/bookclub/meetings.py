"""A book club's meetings (`bookclub start ... with meetings HH:MM`): one event per chapter,
on the chapter's discussion day at that local time.

One event per chapter, not one recurring event: the club's dates are a list (``Pace.opens``:
every N days from the start, or a weekday), and they change one by one (`bookclub skip`
drops one, `resume` shifts the rest by the local days of the pause). A recurring rule with
exceptions would have to copy that arithmetic; separate one-off events follow it exactly,
each with its own RSVPs and reminders. They are not announced one by one (a dozen at once
would bury the room): the club's start lists them, each chapter's thread names its meeting,
and `event list` and the calendar show them. Where the platform has its own scheduled events
(Discord), each meeting gets one a week before it (``NativeEvents.plan``), where
"Interested" is a yes. When the club changes, they change the way `event edit` and `event
cancel` change an event: reminders re-planned or cancelled, the platform's event moved or
cancelled, those who said yes told privately."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from companion.commands import UserError
from companion.features.events import Events
from companion.features.events.planning import TITLE, when_of
from companion.features.events.posts import summary
from companion.features.schedules import parse_time
from companion.fmt import Md, bold, fmt
from companion.recurrence import Recurrence
from companion.store import Repositories
from companion.store.bookclubs import ClubRow
from companion.store.events import EventRow, NewEvent
from companion.store.schedules import iso


def parse_meetings(words: list[str]) -> tuple[list[str], time | None]:
    """Take a trailing ``with meetings HH:MM`` off the pace's words."""
    for i in range(len(words) - 1):
        if words[i : i + 2] == ["with", "meetings"]:
            if len(words) < i + 3:
                raise UserError(fmt("Give the meetings' time: `with meetings 19:00`."))
            return [*words[:i], *words[i + 3 :]], parse_time(words[i + 2])
    return words, None


def meeting_title(club_title: str, chapter: int) -> str:
    """ "Circle: chapter 3 meeting": never the same as the chapter's discussion thread."""
    label = f": chapter {chapter} meeting"
    if len(club_title) + len(label) <= TITLE:
        return club_title + label
    return club_title[: TITLE - len(label) - 1].rstrip() + "\u2026" + label


class ClubMeetings:
    def __init__(self, events: Events) -> None:
        self.events = events

    async def add(
        self,
        uow: Repositories,
        club: ClubRow,
        days: list[date],
        at: time,
        by: str,
        now: datetime,
    ) -> list[int]:
        """An event per chapter's discussion day, at ``at`` in the club's zone."""
        ids = []
        for chapter, day in enumerate(days, 1):
            rule = Recurrence("once", at, _zone(club), day)
            rule_, days_, start, at_, zone = when_of(rule)
            new = NewEvent(
                club.community_id,
                club.platform,
                club.room_id,
                meeting_title(club.title, chapter),
                "here",
                rule_,
                days_,
                start,
                at_,
                zone,
                by,
                iso(now),
            )
            event = await self.events.planner.create(uow, new, announce=False)
            await uow.bookclubs.add_meeting(club.id, chapter, event.id)
            await self.events.posts.native.plan(uow, event, by)
            ids.append(event.id)
        return ids

    async def _event(self, uow: Repositories, club: ClubRow, chapter: int) -> EventRow | None:
        event_id = (await uow.bookclubs.meetings(club.id)).get(chapter)
        if event_id is None:
            return None
        event = await uow.events.get(club.community_id, event_id)
        return event if event is not None and event.status == "planned" else None

    async def postpone(
        self, uow: Repositories, club: ClubRow, chapters: list[int], by: str
    ) -> None:
        """The club paused: no reminders until it resumes; those who said yes are told."""
        posts = self.events.posts
        for chapter in chapters:
            event = await self._event(uow, club, chapter)
            if event is None:
                continue
            await posts.cancel_reminders(uow, event)
            await uow.events.set_reminders(club.community_id, event.id, [])
            note = fmt(
                "{} (event #{}) is postponed: the book club is paused. You will hear the new "
                "date when it resumes.",
                bold(event.title),
                event.id,
            )
            await posts.tell(uow, event, note, by)

    async def move(
        self, uow: Repositories, club: ClubRow, chapter: int, day: date, by: str, now: datetime
    ) -> None:
        """The club resumed: the meeting moves with its chapter, like `event edit ... when`."""
        event = await self._event(uow, club, chapter)
        if event is None:
            return
        rule = Recurrence("once", time.fromisoformat(event.at_time), _zone(club), day)
        await self.events.posts.cancel_reminders(uow, event)
        await uow.events.update(club.community_id, event.id, now, when=when_of(rule))
        moved = await uow.events.get(club.community_id, event.id)
        assert moved is not None
        leads = (await uow.events.settings(club.community_id)).reminders
        await self.events.posts.plan_reminders(uow, moved, leads, by)
        if moved.native_event is None:
            await self.events.posts.native.plan(uow, moved, by)
        else:
            await self.events.posts.native.sync_later(uow, moved, by)
        note = fmt(
            "{} (event #{}) has moved with the book club. When: {}.",
            bold(moved.title),
            moved.id,
            summary(moved, now),
        )
        await self.events.posts.tell(uow, moved, note, by)

    async def cancel(
        self, uow: Repositories, club: ClubRow, chapter: int, why: Md, by: str, now: datetime
    ) -> None:
        """Skipped or ended: the meeting is cancelled, like `event cancel`."""
        event = await self._event(uow, club, chapter)
        if event is None:
            return
        await uow.events.update(club.community_id, event.id, now, status="cancelled")
        await self.events.posts.cancel_reminders(uow, event)
        if event.native_event is not None:
            await self.events.posts.native.sync_later(uow, event, by)
        note = fmt("{} (event #{}) is cancelled: {}", bold(event.title), event.id, why)
        await self.events.posts.tell(uow, event, note, by)


def _zone(club: ClubRow) -> ZoneInfo:
    return ZoneInfo(club.timezone)
