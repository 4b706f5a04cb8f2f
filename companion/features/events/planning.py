"""`event plan / edit / cancel / reminders`: moderators plan meetings members RSVP to."""

from __future__ import annotations

from datetime import timedelta

from companion.commands import UserError
from companion.events import Invocation, Kind, Reply
from companion.features.communities import Communities
from companion.features.events.posts import EventPosts, summary, where
from companion.features.events.timing import ahead, parse_lead
from companion.features.events.timing import recurrence as event_recurrence
from companion.features.schedules import parse_when
from companion.fmt import bold, code, fmt, join
from companion.recurrence import Recurrence
from companion.store import Repositories, Store
from companion.store.events import EventRow, NewEvent
from companion.store.schedules import iso

TITLE, WHERE = 100, 100  # Discord's limits for a scheduled event's name and location
MAX_LEADS = 3
MAX_LEAD = 7 * 1440


def when_of(recurrence: Recurrence) -> tuple[str, str, str, str, str]:
    return (
        recurrence.rule,
        ",".join(str(d) for d in recurrence.days),
        recurrence.start.isoformat(),
        recurrence.at.strftime("%H:%M"),
        recurrence.zone.key,
    )


def split_title(text: str) -> tuple[str, str]:
    """ "Thursday circle | https://meet.example/x" -> (title, where)."""
    title, _, location = text.partition("|")
    title = " ".join(title.split())
    if not title:
        raise UserError(fmt("Give the event a title after the time, e.g. `Reading circle`."))
    if len(title) > TITLE:
        raise UserError(
            fmt("The title is too long ({} characters; at most {}).", len(title), TITLE)
        )
    return title, checked_where(location)


def checked_where(text: str) -> str:
    """Where an event is, as typed (spaces tidied), or a clear UserError."""
    location = " ".join(text.split())
    if len(location) > WHERE:
        raise UserError(
            fmt("The place is too long ({} characters; at most {}).", len(location), WHERE)
        )
    return location


class EventPlanner:
    def __init__(self, store: Store, communities: Communities, posts: EventPosts) -> None:
        self.store = store
        self.communities = communities
        self.posts = posts

    async def own(self, inv: Invocation) -> EventRow:
        event = await self.store.events.get(inv.place.community_id, inv.number("id"))
        if event is None or event.status != "planned":
            raise UserError(fmt("There is no event #{} here (see `event list`).", inv.args["id"]))
        return event

    async def plan(self, inv: Invocation) -> Reply:
        zone = self.communities.zone(inv.place.community_id)
        rule, words = str(inv.args["rule"]), str(inv.args["details"]).split()
        then = fmt("the title, and `| where` if you like")
        recurrence, rest = parse_when(rule, words, zone, inv.at, then=then)
        title, location = split_title(" ".join(rest))
        rule_, days, start, at, zone_key = when_of(recurrence)
        new = NewEvent(
            inv.place.community_id,
            inv.place.platform,
            inv.place.room_id,
            title,
            location,
            rule_,
            days,
            start,
            at,
            zone_key,
            inv.actor.id,
            iso(inv.at),
        )
        await self._refuse_a_twin(inv, title, recurrence)
        async with self.store.unit_of_work() as uow:
            event = await self.create(uow, new)
            event_id = event.id
        return Reply(
            fmt(
                "Planned event #{}: {}, {}. I am announcing it here; members answer with {}.",
                event_id,
                bold(title),
                summary(event, inv.at),
                code(f"event rsvp {event_id} yes"),
            ),
            kind=Kind.CONFIRMATION,
        )

    async def _refuse_a_twin(self, inv: Invocation, title: str, rule: Recurrence) -> None:
        """The same event planned twice for one room (the command sent twice, two
        moderators) would be announced twice and split the RSVPs: an event here with the
        same title that meets at the new one's first time is named instead."""
        first = rule.next_after(inv.at)
        if first is None:
            return
        for event in await self.store.events.for_community(inv.place.community_id):
            if (
                event.room_id == inv.place.room_id
                and event.platform == inv.place.platform
                and event.title.casefold() == title.casefold()
                and event_recurrence(event).next_after(first - timedelta(seconds=1)) == first
            ):
                raise UserError(
                    fmt(
                        "That event is planned here already: #{}, {}. See {}, or {} it.",
                        event.id,
                        summary(event, inv.at),
                        code(f"event show {event.id}"),
                        code(f"event edit {event.id}"),
                    )
                )

    async def create(self, uow: Repositories, new: NewEvent, *, announce: bool = True) -> EventRow:
        """Store an event, plan its reminders and (unless not) announce it, in the caller's
        unit of work."""
        settings = await uow.events.settings(new.community_id)
        event_id = await uow.events.add(new)
        event = await uow.events.get(new.community_id, event_id)
        assert event is not None
        await self.posts.plan_reminders(uow, event, settings.reminders, new.created_by)
        if announce:
            await self.posts.announce(uow, event, new.created_by)
        return event

    async def edit(self, inv: Invocation) -> Reply:
        event = await self.own(inv)
        what, value = str(inv.args["what"]), str(inv.args["value"]).strip()
        community, now, by = inv.place.community_id, inv.at, inv.actor.id
        settings = await self.store.events.settings(community)
        async with self.store.unit_of_work() as uow:
            if what == "title":
                title, location = split_title(value)
                if location:  # not dropped without a word: the place has its own edit
                    raise UserError(
                        fmt(
                            "A title cannot hold `|`; change the place with {}.",
                            code(f"event edit {event.id} where ..."),
                        )
                    )
                await uow.events.update(community, event.id, now, title=title)
            elif what == "where":
                location = checked_where(value)
                await uow.events.update(community, event.id, now, location=location)
            else:
                words = value.split()
                zone = self.communities.zone(community)
                if not words:
                    raise UserError(fmt("Give the new time, e.g. `weekly thu 19:00`."))
                recurrence, rest = parse_when(
                    words[0].lower(), words[1:], zone, now, then=fmt("nothing more")
                )
                if rest:
                    raise UserError(fmt("Too many words: give only the new time."))
                await uow.events.update(community, event.id, now, when=when_of(recurrence))
            changed = await uow.events.get(community, event.id)
            assert changed is not None
            if what in ("when", "where"):
                await self.posts.cancel_reminders(uow, event)
                if event.id not in await uow.bookclubs.paused_meetings(community):
                    await self.posts.plan_reminders(uow, changed, settings.reminders, by)
                await self.posts.native.plan_again(uow, changed, by)
                note = fmt(
                    "{} (event #{}) has changed. When: {}. Where: {}.",
                    bold(changed.title),
                    changed.id,
                    summary(changed, now),
                    where(changed),
                )
                await self.posts.tell(uow, changed, note, by)
            await self.posts.refresh(uow, changed)
        await self.posts.native.sync(event.id, community, now)
        told = " I am telling those who said yes." if what in ("when", "where") else ""
        return Reply(
            fmt("Changed event #{}: {}.{}", event.id, summary(changed, now), told),
            kind=Kind.CONFIRMATION,
        )

    async def cancel(self, inv: Invocation) -> Reply:
        event = await self.own(inv)
        community = inv.place.community_id
        async with self.store.unit_of_work() as uow:
            await uow.events.update(community, event.id, inv.at, status="cancelled")
            await self.posts.cancel_reminders(uow, event)
            note = fmt("{} (event #{}) is cancelled.", bold(event.title), event.id)
            await self.posts.tell(uow, event, note, inv.actor.id)
            await self.posts.refresh(uow, event)
        await self.posts.native.sync(event.id, community, inv.at)
        return Reply(
            fmt("Cancelled event #{}; I am telling those who said yes.", event.id),
            kind=Kind.CONFIRMATION,
        )

    async def reminders(self, inv: Invocation) -> Reply:
        community = inv.place.community_id
        words = str(inv.args.get("times") or "").lower().split()
        if not words:
            current = (await self.store.events.settings(community)).reminders
            shown = join(ahead(m) for m in current) if current else "none"
            return Reply(fmt("Event reminders here go out {} before.", shown))
        if not inv.actor.is_moderator:
            raise UserError("Only moderators can change when reminders go out.")
        leads: list[int] = []
        if words != ["off"]:
            for word in words:
                try:
                    minutes = parse_lead(word)
                except ValueError:
                    raise UserError(
                        fmt("{} is not a lead time: use e.g. `24h` or `15m`.", code(word[:20]))
                    ) from None
                if not 1 <= minutes <= MAX_LEAD:
                    raise UserError(fmt("A reminder goes out 1 minute to 7 days before."))
                leads.append(minutes)
        leads = sorted(set(leads), reverse=True)
        if len(leads) > MAX_LEADS:
            raise UserError(fmt("At most {} reminders per event.", MAX_LEADS))
        async with self.store.unit_of_work() as uow:
            await uow.events.set_reminders_setting(community, leads)
            paused = await uow.bookclubs.paused_meetings(community)  # they wait for resume
            for event in await uow.events.for_community(community):
                await self.posts.cancel_reminders(uow, event)
                if event.id not in paused:
                    await self.posts.plan_reminders(uow, event, tuple(leads), inv.actor.id)
        shown = join(ahead(m) for m in leads) if leads else "none"
        return Reply(
            fmt("Event reminders here now go out {} before, for every planned event.", shown),
            kind=Kind.CONFIRMATION,
        )
