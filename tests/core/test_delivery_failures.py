"""What a failed scheduled post does to its schedule, by the kind of failure (issue 22).

Transient (the network, a rate limit, a room not synced yet, the database away): retried
with backoff for as long as the occurrence is within grace, the schedule never paused.
Permanent (the platform refused): paused at once, and the moderators told once, in the room
when the platform still takes a notice there, else in the audit log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from companion.app import App
from companion.delivery import STORE_WAIT
from companion.events import Kind, MessageRef, Place
from companion.ports import PermanentFailure, TransientFailure
from companion.store import StoreUnavailable
from tests.conftest import MODERATOR, say
from tests.core.schedule_helpers import run_until
from tests.fakes import FakeClock, RecordingPort

ONE_PM = datetime.fromisoformat("2026-03-02T13:00:00+00:00")


class RefusingPort(RecordingPort):
    """Refuses the scheduled posts; takes other messages in the room unless ``mute``."""

    mute = False

    async def post(
        self, place: Place, text: str, *, key: str, kind: Kind = Kind.ANSWER
    ) -> MessageRef:
        if kind is not Kind.ERROR or self.mute:
            raise PermanentFailure("M_FORBIDDEN: you are not allowed to post here")
        return await super().post(place, text, key=key, kind=kind)


@pytest.fixture
def port(clock: FakeClock) -> RecordingPort:
    return RecordingPort(clock=clock)


@pytest.fixture
async def planned(app: App, port: RecordingPort) -> App:
    app.ports.attach("test", port)
    assert "Planned #1" in (await say(app, "schedule reflection 13:00", MODERATOR)).text
    return app


@pytest.mark.parametrize(
    "failure",
    [
        TransientFailure("sending to !room failed 6 times (ConnectionRefusedError)"),
        TransientFailure("not sending to !room yet: No such room with id !room found."),
        StoreUnavailable("the PostgreSQL store is unreachable"),
    ],
    ids=["network", "room-not-synced", "database-away"],
)
async def test_a_transient_failure_is_retried_and_never_pauses(
    planned: App, port: RecordingPort, clock: FakeClock, failure: Exception
) -> None:
    port.fail_with = failure  # type: ignore[assignment]
    await run_until(planned, clock, ONE_PM + timedelta(hours=1))
    [occurrence] = await planned.store.schedules.occurrences(1)
    assert occurrence.state == "claimed" and occurrence.attempts > 4  # past the old limit
    assert "paused" not in (await say(planned, "schedule list", MODERATOR)).text
    port.fail_with = None
    await run_until(planned, clock, ONE_PM + timedelta(hours=2))
    assert [s.key for s in port.sent] == [occurrence.key]  # once, when it works again


async def test_a_transient_failure_past_grace_skips_that_post_only(
    planned: App, port: RecordingPort, clock: FakeClock
) -> None:
    port.fail_with = TransientFailure("503 from the homeserver")
    await run_until(planned, clock, ONE_PM + timedelta(hours=7))  # grace is 6 hours
    [occurrence] = await planned.store.schedules.occurrences(1)
    assert occurrence.state == "skipped" and "grace" in (occurrence.detail or "")
    port.fail_with = None
    await run_until(planned, clock, ONE_PM + timedelta(days=1, minutes=1))
    assert len(port.sent) == 1  # the next day's, the schedule still on


async def test_a_rate_limit_is_waited_out_as_the_platform_says(
    planned: App, port: RecordingPort, clock: FakeClock
) -> None:
    port.fail_with = TransientFailure("429", retry_after=300)
    await run_until(planned, clock, ONE_PM)
    [occurrence] = await planned.store.schedules.occurrences(1)
    assert occurrence.retry_at == "2026-03-02T13:05:00+00:00"  # not the first 30 s backoff


async def test_a_refusal_pauses_and_tells_the_moderators_in_the_room_once(
    app: App, clock: FakeClock
) -> None:
    port = RefusingPort(clock=clock)
    app.ports.attach("test", port)
    await say(app, "schedule reflection 13:00", MODERATOR)
    await run_until(app, clock, ONE_PM + timedelta(days=3))
    [notice] = port.sent
    assert notice.said is Kind.ERROR and notice.place.thread_id is None
    assert "paused" in notice.text and "schedule resume 1" in notice.text
    assert "you are not allowed to post here" in notice.text
    [occurrence] = await app.store.schedules.occurrences(1)
    assert occurrence.state == "failed" and occurrence.attempts == 1
    assert "paused" in (await say(app, "schedule list", MODERATOR)).text


async def test_a_refusal_where_no_notice_gets_through_goes_to_the_audit_log(
    app: App, clock: FakeClock
) -> None:
    port = RefusingPort(clock=clock)
    port.mute = True
    app.ports.attach("test", port)
    await say(app, "schedule reflection 13:00", MODERATOR)
    await run_until(app, clock, ONE_PM + timedelta(days=2))
    assert port.sent == []
    audit = (await say(app, "audit", MODERATOR)).text
    assert audit.count("paused schedule #1") == 1
    assert "you are not allowed to post here" in audit


async def test_a_platform_gone_between_claim_and_send_waits_for_it_and_never_pauses(
    planned: App, port: RecordingPort, clock: FakeClock
) -> None:
    """A post claimed while the platform was connected, whose port was detached before it
    was sent (the adapter reconnecting, or stopping while the scheduler still runs): the
    platform is away for now, no reason to pause the schedule; it goes out once it is back."""
    reflection = planned.scheduler.delivery.kinds["reflection"]

    async def disconnect(batch: list[tuple[object, datetime]]) -> None:
        planned.ports.detach("test", port)  # between the claim and the send

    planned.scheduler.add_kind(reflection._replace(prepare=disconnect))
    await run_until(planned, clock, ONE_PM)
    assert port.sent == []
    assert "paused" not in (await say(planned, "schedule list", MODERATOR)).text
    planned.scheduler.add_kind(reflection)
    planned.ports.attach("test", port)
    await run_until(planned, clock, ONE_PM + timedelta(hours=1))
    [occurrence] = await planned.store.schedules.occurrences(1)
    assert [s.key for s in port.sent] == [occurrence.key] and occurrence.state == "sent"


async def test_a_refused_one_off_post_points_to_no_schedule_that_is_not_there(
    app: App, clock: FakeClock
) -> None:
    """A post a command made (an approved anonymous question, an event's announcement, a
    poll) is no schedule: `schedule resume` cannot reach it, so the moderators' notice must
    not send them there, in the room or in the audit log."""
    port = RefusingPort(clock=clock)
    app.ports.attach("test", port)
    await say(app, "ask anonymously How do I speak up without centring myself?")
    await say(app, "approve 1", MODERATOR)
    await run_until(app, clock, clock.now() + timedelta(hours=1))
    [notice] = port.sent
    assert "you are not allowed to post here" in notice.text
    assert "schedule" not in notice.text and "again" in notice.text
    assert "There is no schedule #1" in (await say(app, "schedule resume 1", MODERATOR)).text

    port.mute = True
    await say(app, "ask anonymously What do I do when I got it wrong in public?")
    await say(app, "approve 2", MODERATOR)
    await run_until(app, clock, clock.now() + timedelta(hours=1))
    audit = (await say(app, "audit", MODERATOR)).text
    assert "you are not allowed to post here" in audit and "schedule #" not in audit


async def test_marking_sent_waits_for_the_database_on_the_apps_clock(
    planned: App, port: RecordingPort, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A post went out while the database was away: marking it sent is tried again every
    STORE_WAIT seconds of the app's clock (a test moves it; no real second passes), and the
    post is marked sent once the database is back, never sent twice."""
    schedules = planned.store.schedules
    mark_sent = schedules.mark_sent
    away = 2  # the database refuses the first two tries

    async def flaky(keys: Sequence[str], now: datetime) -> None:
        nonlocal away
        if away:
            away -= 1
            raise StoreUnavailable("the PostgreSQL store is unreachable")
        await mark_sent(keys, now)

    monkeypatch.setattr(schedules, "mark_sent", flaky)
    started = time.monotonic()
    clock.set(ONE_PM)
    running = asyncio.create_task(planned.scheduler.run_due())
    for refused in (1, 2):
        for _ in range(100):  # it waits on the clock, not asleep for real
            if clock.sleeping and away == 2 - refused:
                break
            await asyncio.sleep(0.005)
        assert clock.sleeping == 1 and away == 2 - refused, "not waiting on the app's clock"
        assert not running.done()
        clock.advance(timedelta(seconds=STORE_WAIT))
    await asyncio.wait_for(running, 5)
    assert time.monotonic() - started < 0.5
    [occurrence] = await schedules.occurrences(1)
    assert occurrence.state == "sent" and [s.key for s in port.sent] == [occurrence.key]
