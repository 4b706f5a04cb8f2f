"""A platform's own poll answers and RSVPs (issue 25): the core opens a poll or announces an
event natively where the port can, remembers the platform's ref, and counts what arrives
through ``Gateway.native_answer`` like `vote` and `event rsvp`: one per member, the latest
counting, in that community only. On the injected clock, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from companion.events import Actor, MessageRef, NativeAnswer, Place
from companion.ports import Announcements, Polls, ScheduledEvents, capability
from tests.conftest import MEMBER, MODERATOR, PLACE, say
from tests.core.schedule_helpers import run_until
from tests.fakes import RecordingPort

OTHER = Actor("u:other", "Other member")
ELSEWHERE = Place("test", "c:two", "r:other")


@dataclass
class NativePort(RecordingPort):
    """A port with the platform's own polls and announcements, recording what it is asked."""

    polls: list[tuple[str, tuple[str, ...], int, str]] = field(default_factory=list)
    ended: list[tuple[str, str, dict[int, int]]] = field(default_factory=list)
    announced: list[tuple[str, str]] = field(default_factory=list)
    updates: list[tuple[str, str, str]] = field(default_factory=list)

    async def open_poll(
        self,
        place: Place,
        question: str,
        answers: tuple[str, ...],
        *,
        text: str,
        hours: int,
        key: str,
    ) -> MessageRef:
        self._check(key)
        self.polls.append((question, answers, hours, text))
        return MessageRef(place, f"$poll{len(self.polls)}")

    async def close_poll(
        self, message: MessageRef, text: str, counts: dict[int, int], *, key: str
    ) -> None:
        self._check(key)
        self.ended.append((message.message_id, text, dict(counts)))

    async def announce(self, place: Place, title: str, text: str, *, key: str) -> MessageRef:
        self._check(key)
        self.announced.append((title, text))
        return MessageRef(place, f"$ann{len(self.announced)}")

    async def update(self, message: MessageRef, text: str, *, key: str) -> None:
        self._check(key)
        self.updates.append((message.message_id, text, key))


def native(ref: str, member: Actor, choice: int | str | None, place: Place = PLACE) -> NativeAnswer:
    return NativeAnswer(place.platform, place.community_id, ref, member.id, choice)


async def test_a_native_poll_counts_its_answers_and_commands_alike_and_ends_natively(
    make_app, clock
):
    app = await make_app()
    port = NativePort(clock=clock)
    assert capability(port, Polls) is port
    app.ports.attach("test", port)
    await say(app, "poll Which evening? | Tuesday | Thursday | Friday for 2d", MODERATOR)
    await app.scheduler.run_due()
    assert port.sent == []  # no text post: the platform's own poll
    [(question, answers, hours, fallback)] = port.polls
    assert (question, answers, hours) == ("Which evening?", ("Tuesday", "Thursday", "Friday"), 48)
    assert "`vote 1`" in fallback and "3. Friday" in fallback

    gateway = app.gateway
    assert await gateway.native_answer(native("$poll1", MEMBER, 1))
    assert await gateway.native_answer(native("$poll1", MEMBER, 3))  # the latest counts
    assert await gateway.native_answer(native("$poll1", OTHER, 2))
    await say(app, "vote 2", MODERATOR)  # the command counts the same
    assert await gateway.native_answer(native("$poll1", OTHER, None))  # taken back
    assert await gateway.native_answer(native("$poll1", MODERATOR, 4))  # spoiled: taken back
    await say(app, "vote 2", MODERATOR)
    # Not counted: another community's answer with the same ref, an RSVP word, a ref the
    # bot never opened.
    assert not await gateway.native_answer(native("$poll1", OTHER, 1, ELSEWHERE))
    assert not await gateway.native_answer(native("$poll1", OTHER, "yes"))
    assert not await gateway.native_answer(native("$nothing", OTHER, 1))
    assert await app.store.polls.counts(1) == {3: 1, 2: 1}

    await app.close()  # a restart changes nothing
    app = await make_app()
    app.ports.attach("test", port)
    await run_until(app, clock, clock.now() + timedelta(days=3))
    [(ref, result, counts)] = port.ended
    assert ref == "$poll1" and counts == {2: 1, 3: 1}
    assert "2 **Thursday**: 1 vote(s)" in result and "2 member(s) voted" in result
    assert [s for s in port.sent if "has ended" in s.text] == []  # shown once, by the end
    assert not await app.gateway.native_answer(native("$poll1", OTHER, 1))  # over
    assert await app.store.polls.counts(1) == {2: 1, 3: 1}


async def test_reactions_on_an_announcement_are_rsvps_and_the_announcement_shows_the_counts(
    make_app, clock
):
    app = await make_app()
    port = NativePort(clock=clock)
    assert capability(port, Announcements) is port
    app.ports.attach("test", port)
    await say(app, "event plan weekly thu 18:30 Reading circle | here", MODERATOR)
    await app.scheduler.run_due()
    assert [s for s in port.sent if s.kind == "thread"] == []  # the announcement instead
    [(title, text)] = port.announced
    assert title == "Reading circle" and "react here with ✅ (yes)" in text
    assert "0 yes · 0 maybe · 0 no" in text

    gateway = app.gateway

    async def shown() -> str:
        """The announcement as the next edit leaves it (edits are a few seconds apart)."""
        await run_until(app, clock, clock.now() + timedelta(seconds=5))
        return port.updates[-1][1]

    assert await gateway.native_answer(native("$ann1", MEMBER, "yes"))
    assert "1 yes · 0 maybe · 0 no" in await shown()
    assert port.updates[-1][0] == "$ann1"
    assert await gateway.native_answer(native("$ann1", OTHER, "maybe"))
    await say(app, "event rsvp 1 no", MODERATOR)  # a command updates it too
    assert "1 yes · 1 maybe · 1 no" in await shown()
    assert await gateway.native_answer(native("$ann1", OTHER, None))  # reaction removed
    assert "1 yes · 0 maybe · 1 no" in await shown()
    assert not await gateway.native_answer(native("$ann1", OTHER, "yes", ELSEWHERE))
    assert not await gateway.native_answer(native("$ann1", OTHER, 2))
    assert len({key for _, _, key in port.updates}) == len(port.updates)  # each its own key
    for _, text, _ in port.updates:
        for who in (MEMBER, OTHER, MODERATOR):
            assert who.id not in text and who.display_name not in text

    await say(app, "event cancel 1", MODERATOR)
    assert "This event is cancelled" in await shown()
    assert not await gateway.native_answer(native("$ann1", MEMBER, "no"))
    assert (await app.store.events.counts([1]))[1].yes == 1


async def test_a_burst_of_answers_makes_few_edits_ending_with_the_latest_counts(make_app, clock):
    """50 reactions at once: one edit at once, then at most one every 5 seconds, the last
    with all 50; a refresh still waiting when the process stops is sent after the restart.
    (Before coalescing: 50 edits, one per answer.)"""
    app = await make_app()
    port = NativePort(clock=clock)
    app.ports.attach("test", port)
    await say(app, "event plan weekly thu 18:30 Reading circle | here", MODERATOR)
    await app.scheduler.run_due()
    [_] = port.announced
    members = [Actor(f"u:m{n}", f"Member {n}") for n in range(50)]
    for n, member in enumerate(members):
        assert await app.gateway.native_answer(native("$ann1", member, "yes"))
        if n == 0:
            await app.scheduler.run_due()  # the first answer shows at once
        if n == 9:
            clock.advance(timedelta(seconds=2))
            await app.scheduler.run_due()  # within 5 s of that edit: nothing yet
    assert ["1 yes · 0 maybe · 0 no" in text for _, text, _ in port.updates] == [True]
    first = port.updates[0][2]

    await app.close()  # stopped with the next edit waiting: it is not lost
    app = await make_app()
    app.ports.attach("test", port)
    await run_until(app, clock, clock.now() + timedelta(minutes=5))
    assert len(port.updates) == 2, [text for _, text, _ in port.updates]
    assert "50 yes · 0 maybe · 0 no" in port.updates[-1][1]
    assert port.updates[1][2] != first  # its own key: the platform takes it as new

    # Quiet again: the next answer shows at once, one more edit.
    clock.advance(timedelta(minutes=1))
    await say(app, "event rsvp 1 no", MEMBER)
    await app.scheduler.run_due()
    assert len(port.updates) == 3 and "50 yes · 0 maybe · 1 no" in port.updates[-1][1]


async def test_without_the_capabilities_the_text_poll_and_thread_stay(make_app, clock):
    app = await make_app()
    port = RecordingPort(clock=clock)
    app.ports.attach("test", port)
    await say(app, "poll Which evening? | Tuesday | Thursday", MODERATOR)
    await say(app, "event plan weekly thu 18:30 Reading circle | here", MODERATOR)
    await app.scheduler.run_due()
    assert sorted(s.kind for s in port.sent) == ["post", "thread"]
    poll = await app.store.polls.get(PLACE.community_id, 1)
    assert poll is not None and poll.native_ref is None
    assert not await app.gateway.native_answer(native("m1", MEMBER, 1))


@dataclass
class EventsPort(RecordingPort):
    """A port with the platform's own scheduled events."""

    created: list[tuple[str, str, datetime, datetime]] = field(default_factory=list)
    edited: list[tuple[str, str, datetime]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    async def create_event(
        self,
        place: Place,
        name: str,
        description: str,
        *,
        location: str,
        start: datetime,
        end: datetime,
        key: str,
    ) -> str:
        self._check(key)
        self.created.append((name, location, start, end))
        return f"se{len(self.created)}"

    async def edit_event(
        self,
        place: Place,
        ref: str,
        name: str,
        description: str,
        *,
        location: str,
        start: datetime,
        end: datetime,
    ) -> None:
        self.edited.append((ref, name, start))

    async def cancel_event(self, place: Place, ref: str) -> None:
        self.cancelled.append(ref)


async def test_a_scheduled_event_for_the_next_meeting_and_interested_as_yes(make_app, clock):
    app = await make_app()
    port = EventsPort(clock=clock)
    assert capability(port, ScheduledEvents) is port
    app.ports.attach("test", port)
    await say(
        app, "event plan weekly thu 18:30 Reading circle | https://meet.example.org/w", MODERATOR
    )
    await app.scheduler.run_due()
    [thread] = [s for s in port.sent if s.kind == "thread"]  # announced as before, and
    [(name, location, start, end)] = port.created  # the platform's own event
    assert name == "Reading circle" and location == "https://meet.example.org/w"
    assert start == datetime(2026, 3, 5, 18, 30, tzinfo=UTC) and end - start == timedelta(hours=1)

    gateway = app.gateway
    assert await gateway.native_answer(native("se1", MEMBER, "yes"))
    assert await gateway.native_answer(native("se1", OTHER, "yes"))
    await say(app, "event rsvp 1 no", OTHER)  # changed their mind by command
    # No longer "Interested" takes back only a yes: Other's later "no" stands.
    assert await gateway.native_answer(NativeAnswer("test", "c:one", "se1", OTHER.id, None, "yes"))
    assert await gateway.native_answer(NativeAnswer("test", "c:one", "se1", MEMBER.id, None, "yes"))
    counts = (await app.store.events.counts([1]))[1]
    assert (counts.yes, counts.maybe, counts.no) == (0, 0, 1)

    await app.close()  # a restart makes no second one
    app = await make_app()
    app.ports.attach("test", port)
    await app.scheduler.run_due()
    assert len(port.created) == 1
    # As a meeting ends, the next one gets its own (Discord has no recurrence in discord.py).
    await run_until(app, clock, datetime(2026, 3, 5, 19, 31, tzinfo=UTC))
    assert [c[2] for c in port.created] == [
        datetime(2026, 3, 5, 18, 30, tzinfo=UTC),
        datetime(2026, 3, 12, 18, 30, tzinfo=UTC),
    ]
    assert await app.gateway.native_answer(native("se2", MEMBER, "yes"))
    await say(app, "event edit 1 when weekly fri 19:00", MODERATOR)
    assert port.edited == [("se2", "Reading circle", datetime(2026, 3, 6, 19, 0, tzinfo=UTC))]
    await say(app, "event cancel 1", MODERATOR)
    assert port.cancelled == ["se2"] and len(port.created) == 2
    await run_until(app, clock, datetime(2026, 3, 20, tzinfo=UTC))
    assert len(port.created) == 2  # nothing after the cancellation
