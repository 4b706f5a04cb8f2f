"""`event list / show / rsvp`: what is planned, and a member's answer (counts public, names
never listed)."""

from __future__ import annotations

from datetime import timedelta

from companion.commands import UserError
from companion.events import Invocation, Kind, Reply
from companion.features.events.planning import EventPlanner
from companion.features.events.posts import counts_line, summary, where
from companion.features.events.timing import between, next_at, recurrence
from companion.fmt import bold, bullets, code, fmt, lines
from companion.recurrence import shown
from companion.store import Store

SHOWN_NEXT = 5


class EventViews:
    def __init__(self, store: Store, planner: EventPlanner) -> None:
        self.store = store
        self.planner = planner

    async def list_(self, inv: Invocation) -> Reply:
        events = [
            e
            for e in await self.store.events.for_community(inv.place.community_id)
            if next_at(e, inv.at) is not None
        ]
        if not events:
            return Reply(
                fmt("No events are planned here. Moderators plan one with `event plan`."),
                kind=Kind.LIST,
            )
        counts = await self.store.events.counts([e.id for e in events])
        items = [
            fmt(
                "**#{}** {} · {} · {}", e.id, e.title, summary(e, inv.at), counts_line(counts[e.id])
            )
            for e in events
        ]
        return Reply(lines(fmt("**Events here**"), bullets(items)), kind=Kind.LIST)

    async def show(self, inv: Invocation) -> Reply:
        event = await self.planner.own(inv)
        counts = (await self.store.events.counts([event.id]))[event.id]
        zone = recurrence(event).zone
        upcoming = between(event, inv.at, inv.at + timedelta(days=400))[:SHOWN_NEXT]
        return Reply(
            lines(
                fmt("**Event #{}: {}**", event.id, event.title),
                fmt("When: {}", summary(event, inv.at)),
                fmt("Where: {}", where(event)),
                fmt("Answers: {}", counts_line(counts)),
                fmt("**Next dates**"),
                bullets((shown(m, zone) for m in upcoming), empty="none"),
                fmt("Answer with {}, {} or {}.", *_answers(event.id)),
            ),
            kind=Kind.LIST,
        )

    async def rsvp(self, inv: Invocation) -> Reply:
        event = await self.planner.own(inv)
        if next_at(event, inv.at) is None:
            raise UserError(fmt("Event #{} is over.", event.id))
        answer = str(inv.args["answer"])
        async with self.store.unit_of_work() as uow:  # the answer and its refresh together
            await uow.events.rsvp(event.id, inv.actor.id, answer, inv.at)
            await self.planner.posts.refresh(uow, event)
        counts = (await self.store.events.counts([event.id]))[event.id]
        said = {
            "yes": "You are coming",
            "maybe": "You might come",
            "no": "You are not coming",
        }[answer]
        # Promised only where one goes out: not with `event reminders off`, nor for a
        # paused club's meeting (its reminders wait for the club to resume).
        leads = (await self.store.events.settings(event.community_id)).reminders
        reminded = answer in ("yes", "maybe") and bool(leads) and bool(event.reminder_ids)
        reminder = " You will get a private reminder before it." if reminded else ""
        return Reply(
            fmt(
                "{} to {} (event #{}).{} Answers now: {}. Only you see this.",
                said,
                bold(event.title),
                event.id,
                reminder,
                counts_line(counts),
            ),
            private=True,
            kind=Kind.CONFIRMATION,
        )


def _answers(event_id: int) -> tuple[object, ...]:
    return tuple(code(f"event rsvp {event_id} {a}") for a in ("yes", "maybe", "no"))
