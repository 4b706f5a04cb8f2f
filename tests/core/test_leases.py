"""Claims are leases: a process that dies holding one loses it when the lease runs out, and
another process sends the post with the same key. Two apps on one store play two processes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from companion.events import MessageRef, Place
from companion.ports import Shards
from tests.conftest import MODERATOR, say
from tests.fakes import RecordingPort


class HangingPort:
    """A port whose send never returns: its process is about to die mid-send."""

    def __init__(self) -> None:
        self.called = asyncio.Event()
        self.keys: list[str] = []

    async def post(self, place: Place, text: str, *, key: str, kind: object = None) -> MessageRef:
        self.keys.append(key)
        self.called.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def open_thread(
        self, place: Place, title: str, text: str, *, key: str, kind: object = None
    ) -> Place:
        await self.post(place, text, key=key)
        return place


async def test_a_dead_processes_claim_is_taken_over_after_its_lease(make_app, clock):
    first = await make_app()
    await say(first, "schedule reflection 13:00", MODERATOR)
    first.scheduler.holder = "process-a"
    hanging = HangingPort()
    first.ports.attach("test", hanging)
    clock.set(clock.now().replace(hour=13, minute=0, second=5))
    dying = asyncio.create_task(first.scheduler.run_due())
    await hanging.called.wait()
    dying.cancel()  # process A dies between claim and mark
    await asyncio.gather(dying, return_exceptions=True)

    second = await make_app()
    second.scheduler.holder = "process-b"
    port = RecordingPort(clock=clock)
    second.ports.attach("test", port)
    [held] = await second.store.schedules.occurrences(1)
    assert held.state == "claimed" and held.claimed_by == "process-a"

    clock.advance(timedelta(seconds=30))  # A's lease still runs: B leaves it alone
    assert await second.scheduler.run_due() == 0 and port.sent == []
    wake = await second.store.schedules.earliest_wake(["test"])
    assert wake == held.lease_until  # B wakes up when the lease runs out

    clock.advance(timedelta(seconds=31))
    assert await second.scheduler.run_due() == 1
    assert [s.key for s in port.sent] == hanging.keys  # the same key: a duplicate is dropped
    [done] = await second.store.schedules.occurrences(1)
    assert done.state == "sent" and done.attempts == 2 and done.claimed_by == "process-b"


async def test_two_processes_claiming_together_send_each_post_once(make_app, clock):
    apps = [await make_app() for _ in range(2)]
    for number in range(40):
        await say(apps[0], f"schedule reflection 13:{number:02d}", MODERATOR)
    ports = [RecordingPort(clock=clock) for _ in apps]
    for index, (app, port) in enumerate(zip(apps, ports, strict=True)):
        app.scheduler.holder = f"process-{index}"
        app.ports.attach("test", port)
    for minute in range(40):
        clock.set(clock.now().replace(hour=13, minute=minute, second=1))
        await asyncio.gather(*(app.scheduler.run_due() for app in apps))
    keys = [s.key for port in ports for s in port.sent]
    assert len(keys) == 40 and len(set(keys)) == 40


def guild_on_shard(shard: int, count: int, n: int) -> str:
    """A Discord-like community id (a snowflake) that falls on ``shard`` of ``count``."""
    return str(((1_000 + n * count + shard) << 22) + n)


async def test_processes_serving_different_shards_claim_only_their_own(make_app, clock):
    """Two processes split one platform's communities by shard; a third platform's posts
    are not sharded, so either may claim them; every post goes out once, from its shard."""
    apps = [await make_app() for _ in range(2)]
    places = {
        shard: [Place("test", guild_on_shard(shard, 2, n), f"r:{shard}:{n}") for n in range(3)]
        for shard in (0, 1)
    }
    for place in places[0] + places[1]:
        await say(apps[0], "schedule reflection 13:00", MODERATOR, place)
    other = Place("other", "!room:example.org", "!room:example.org")
    await say(apps[0], "schedule reflection 13:00", MODERATOR, other)
    ports = [RecordingPort(clock=clock) for _ in apps]
    for shard, (app, port) in enumerate(zip(apps, ports, strict=True)):
        app.scheduler.holder = f"process-{shard}"
        app.ports.attach("test", port, shards=Shards(2, frozenset({shard})))
    apps[1].ports.attach("other", ports[1])  # only the second serves "other", unsharded

    clock.set(clock.now().replace(hour=13, minute=0, second=1))
    await asyncio.gather(*(app.scheduler.run_due() for app in apps))

    for shard, port in enumerate(ports):
        rooms = {s.place.room_id for s in port.sent if s.place.platform == "test"}
        assert rooms == {p.room_id for p in places[shard]}
    assert [s.place for s in ports[1].sent if s.place.platform == "other"] == [other]
    # Nothing is left for either: the other shard's posts are not "due" to this process.
    for app in apps:
        assert await app.scheduler.run_due() == 0


def test_shards_must_lie_within_the_count() -> None:
    assert Shards(4, frozenset({0, 3})).serves(guild_on_shard(3, 4, 7))
    assert not Shards(4, frozenset({0, 3})).serves(guild_on_shard(1, 4, 7))
    assert not Shards(2, frozenset({0})).serves("dm:1234")
    for bad in ((2, {2}), (0, {0}), (2, set())):
        with pytest.raises(ValueError, match="shard ids"):
            Shards(bad[0], frozenset(bad[1]))
