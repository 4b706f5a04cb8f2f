"""Events members RSVP to, the community calendar feed, and polls (issue 25's platform-neutral
core). Platform-native RSVPs and polls feed the same store methods (``EventRepo.rsvp``,
``PollRepo.record_vote``)."""

from __future__ import annotations

from datetime import datetime

from companion.commands import CommandSpec, Param, ParamType
from companion.config import WebSettings
from companion.delivery import PostKind
from companion.events import NativeAnswer
from companion.features.communities import Communities
from companion.features.events.calendar import CalendarFeed
from companion.features.events.planning import EventPlanner
from companion.features.events.polls import Polls
from companion.features.events.posts import EventPosts
from companion.features.events.timepoll import TimePoll
from companion.features.events.timing import next_at
from companion.features.events.views import EventViews
from companion.identity import MemberHasher
from companion.notices import Notices
from companion.scheduler import Scheduler
from companion.store import Store
from companion.store.events import ANSWERS

__all__ = ["CalendarFeed", "Events"]


class Events:
    def __init__(
        self,
        store: Store,
        scheduler: Scheduler,
        communities: Communities,
        notices: Notices,
        hasher: MemberHasher,
        web: WebSettings,
    ) -> None:
        self.store = store
        self.posts = EventPosts(store, scheduler, notices)
        self.planner = EventPlanner(store, communities, self.posts)
        self.views = EventViews(store, self.planner)
        self.calendar = CalendarFeed(store, scheduler.clock, hasher, web)
        self.polls = Polls(store, scheduler, communities)
        self.timepoll = TimePoll(store, communities, self.planner, self.polls)

    def post_kinds(self) -> list[PostKind]:
        return [*self.posts.post_kinds(), *self.polls.post_kinds()]

    async def native_answer(self, answer: NativeAnswer, now: datetime) -> bool:
        """A vote in a platform's own poll, or an RSVP the platform's own way (a reaction,
        "Interested"): found by the ref the port gave when the bot opened it, in the
        community it was given in only, and counted through the same paths as `vote` and
        `event rsvp`. False when nothing there has that ref or it is over."""
        community, platform, ref = answer.community_id, answer.platform, answer.ref
        choice = answer.choice
        if not (ref.isprintable() and answer.member_id.isprintable()):
            # What a member's client put in an event's JSON ("\ud800", a NUL) is no id the
            # bot gave: nothing to find, and no store can even look it up.
            return False
        poll = await self.store.polls.by_native_ref(community, platform, ref)
        if poll is not None:
            if isinstance(choice, str):
                return False
            was = answer.was if isinstance(answer.was, int) else None
            return await self.polls.answer(poll, answer.member_id, choice, now, was)
        event = await self.store.events.by_native_ref(community, platform, ref)
        if event is None or event.status != "planned" or next_at(event, now) is None:
            return False
        if choice is not None and choice not in ANSWERS:
            return False
        async with self.store.unit_of_work() as uow:  # the answer and its refresh together
            if choice is None:
                said = answer.was if isinstance(answer.was, str) else None
                await uow.events.withdraw(event.id, answer.member_id, said)
            else:
                await uow.events.rsvp(event.id, answer.member_id, str(choice), now)
            await self.posts.refresh(uow, event)
        return True

    def commands(self) -> list[CommandSpec]:
        ident = Param("id", "The event's number (see `event list`)", ParamType.INT, min_value=1)
        planner, views, polls = self.planner, self.views, self.polls
        return [
            CommandSpec(
                "event plan",
                "Plan a meeting here, once or recurring, or poll for its time first; members RSVP",
                self.timepoll.plan,
                params=(
                    Param("rule", "once, daily or weekly", choices=("once", "daily", "weekly")),
                    Param(
                        "details",
                        "TIME TITLE | where (once YYYY-MM-DD HH:MM, daily HH:MM, weekly DAYS "
                        "HH:MM) or TITLE poll TIME | TIME",
                        ParamType.TEXT,
                        rest=True,
                        max_length=400,
                    ),
                ),
                moderator_only=True,
                in_direct=False,
                examples=(
                    "event plan weekly thu 18:30 Reading circle | https://meet.example.org/wake",
                    "event plan once 2026-12-10 12:00 Lunch discussion | here",
                    "event plan weekly Reading circle | here poll thu 18:30 | fri 19:00 for 2d",
                ),
            ),
            CommandSpec(
                "event list",
                "The events planned here, with RSVP counts",
                views.list_,
                in_direct=False,
            ),
            CommandSpec(
                "event show",
                "One event: when, where, the answers so far and the next dates",
                views.show,
                params=(ident,),
                in_direct=False,
            ),
            CommandSpec(
                "event edit",
                "Change an event's time, title or place (those who said yes are told)",
                planner.edit,
                params=(
                    ident,
                    Param("what", "when, title or where", choices=("when", "title", "where")),
                    Param(
                        "value",
                        "The new time, title or place",
                        ParamType.TEXT,
                        rest=True,
                        max_length=200,
                    ),
                ),
                moderator_only=True,
                in_direct=False,
                examples=("event edit 3 when weekly thu 19:00", "event edit 3 where here"),
            ),
            CommandSpec(
                "event cancel",
                "Cancel an event (those who said yes are told)",
                planner.cancel,
                params=(ident,),
                moderator_only=True,
                in_direct=False,
            ),
            CommandSpec(
                "event rsvp",
                "Say whether you come: only counts are shown, never names",
                views.rsvp,
                params=(ident, Param("answer", "yes, maybe or no", choices=("yes", "maybe", "no"))),
                private=True,
                in_direct=False,
                examples=("event rsvp 3 yes",),
            ),
            CommandSpec(
                "event reminders",
                "Show or set when reminders go out before events (moderators set it)",
                planner.reminders,
                params=(
                    Param(
                        "times",
                        "e.g. 24h 15m, or off",
                        ParamType.TEXT,
                        required=False,
                        rest=True,
                        max_length=60,
                    ),
                ),
                in_direct=False,
                examples=("event reminders", "event reminders 24h 1h", "event reminders off"),
            ),
            CommandSpec(
                "calendar",
                "A link to subscribe to this community's calendar (only you see it)",
                self.calendar.link,
                private=True,
                in_direct=False,
            ),
            CommandSpec(
                "calendar reset",
                "Replace the calendar link; the old one stops working",
                self.calendar.reset,
                moderator_only=True,
                private=True,
                in_direct=False,
            ),
            CommandSpec(
                "poll",
                "Ask the room a question with 2 to 10 answers, open 24 hours unless you say",
                polls.start,
                params=(
                    Param(
                        "poll",
                        "The question | answer | answer ... [for 2d]",
                        ParamType.TEXT,
                        rest=True,
                        max_length=1000,
                    ),
                ),
                in_direct=False,
                examples=("poll Which evening suits you? | Tuesday | Thursday for 3d",),
            ),
            CommandSpec(
                "poll access",
                "Who may start polls here: moderators (the default) or members",
                polls.access,
                params=(Param("who", "moderators or members", choices=("moderators", "members")),),
                moderator_only=True,
                in_direct=False,
            ),
            CommandSpec(
                "vote",
                "Vote in the room's open poll by the answer's number (only you see it)",
                polls.vote,
                params=(
                    Param(
                        "answer", "The answer's number", ParamType.INT, min_value=1, max_value=10
                    ),
                    Param(
                        "poll",
                        "The poll's number (default: the latest here)",
                        ParamType.INT,
                        required=False,
                        min_value=1,
                    ),
                ),
                private=True,
                in_direct=False,
                examples=("vote 2",),
            ),
        ]
