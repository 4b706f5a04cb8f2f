"""Crashes and outages on a real Synapse (issue 22): nothing lost, nothing twice, back within
seconds. The bot is a real `companion run` subprocess; a member's client counts what arrives.

Three findings, one test each, then the chaos rounds (``-s`` prints their table):
- with encryption support on, posts that fell due while the bot was down went out after a
  restart (they were paused as "No such room": matrix-nio had not synced the rooms yet);
- a restart right after a SIGKILL answers within seconds (the account lease refused every
  start for 60 to 90 s);
- PostgreSQL stopped for a few seconds: the process stays up, a command gets the apology,
  /healthz says 503, and the posts due meanwhile go out once it is back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from nio import AsyncClient, RoomSendResponse

from companion.dispatch import APOLOGY
from tests.adapters.matrix.chaos import (
    HEADER,
    Chaos,
    Round,
    dump,
    is_post,
    now_utc,
    tally,
    top_level,
    write_config,
)
from tests.matrix_server.people import Person, fresh
from tests.matrix_server.synapse import SynapseServer
from tests.pg_server.server import PostgresServer

pytestmark = [pytest.mark.matrix, pytest.mark.slow]

MakeChaos = Callable[..., Awaitable[Chaos]]
TABLE: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def table() -> Iterator[None]:
    yield
    if TABLE:
        print("\n\nChaos rounds (issue 22)\n" + HEADER + "\n" + "\n".join(TABLE))


@pytest.fixture
async def make_chaos(
    synapse: SynapseServer,
    people: Callable[[str], Person],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[MakeChaos]:
    made: list[Chaos] = []

    async def make(*, store: str, encryption: bool, rooms: int) -> Chaos:
        url = None
        if store == "postgresql":
            url = str(request.getfixturevalue("postgres").fresh_database())
        bot = fresh(synapse, "chaosbot")
        folder = tmp_path / f"bot{len(made)}"
        folder.mkdir()
        config, port = write_config(folder, synapse, bot, url, encryption)
        target = url or str(folder / "bot.db")
        chaos = Chaos(synapse, bot, people("member"), folder, target, config, port)
        made.append(chaos)
        await chaos.open(rooms)
        return chaos

    try:
        yield make
    finally:
        for chaos in made:
            await chaos.close()


async def settle(chaos: Chaos, within: float = 25.0) -> None:
    """Until every planned post arrived, then a moment more for any that came twice."""
    await chaos.watcher.until(chaos.all_posted, within)
    await asyncio.sleep(1.0)


async def test_posts_due_while_down_go_out_after_a_restart_with_encryption_on(
    make_chaos: MakeChaos,
) -> None:
    chaos = await make_chaos(store="sqlite", encryption=True, rooms=4)
    await chaos.process.stop()  # a clean stop: the lease is released, only the posts matter
    await chaos.plan(now_utc() + timedelta(seconds=0.3))
    await asyncio.sleep(0.5)  # they fall due while the bot is down
    result = Round("due-while-down")
    before = {room: (0, 0) for room in chaos.rooms}
    await chaos.process.start()
    await settle(chaos)
    tally(chaos, result, before, [])
    assert (result.once, result.lost, result.doubled) == (4, 0, 0), dump(chaos)
    assert await chaos.paused() == []


async def test_a_restart_right_after_sigkill_answers_within_seconds(
    make_chaos: MakeChaos,
) -> None:
    chaos = await make_chaos(store="sqlite", encryption=False, rooms=2)
    await chaos.plan(now_utc() + timedelta(seconds=4))
    restarted, said = await chaos.kill_and_restart(commands=0)  # it learns of the plans
    await chaos.watcher.until(lambda: chaos.first_post_after(restarted), 15)
    restarted, said = await chaos.kill_and_restart(commands=2)  # as the burst goes out
    seconds = await chaos.answered(said, restarted, within=10)
    assert seconds < 5, dump(chaos)
    await settle(chaos)
    result = Round("sigkill")
    tally(chaos, result, {room: (0, 0) for room in chaos.rooms}, said)
    assert (result.once, result.lost, result.doubled) == (2, 0, 0), dump(chaos)
    assert result.answered_once == 2, dump(chaos)
    assert chaos.process.exits == []  # no start was refused

    # The control: a post sent again under a new transaction id is counted twice.
    again = AsyncClient(chaos.synapse.base_url, chaos.bot.user_id)
    again.restore_login(chaos.bot.user_id, chaos.bot.device_id, chaos.bot.access_token)
    try:
        room = chaos.rooms[0]
        [first] = [
            e
            for _, r, e in chaos.watcher.seen
            if r == room
            and is_post(e, chaos.bot.user_id)
            and top_level(e)
            and "Hello!" not in e["content"]["body"]
        ]
        sent = await again.room_send(room, "m.room.message", first["content"])
        assert isinstance(sent, RoomSendResponse), sent
    finally:
        await again.close()
    await chaos.watcher.until(lambda: chaos.posts(room)[0] == 2, 5)
    control = Round("control")
    tally(chaos, control, {r: (0, 0) for r in chaos.rooms}, [])
    assert (control.once, control.doubled) == (1, 1)


async def outage_round(
    chaos: Chaos, postgres: PostgresServer, result: Round, offset: float = -1.0
) -> None:
    """Stop PostgreSQL (fast) for 6 s from ``offset`` s around a due time while the bot
    runs: it stays up, apologises for a command, says 503 on /healthz; the posts go out
    once it is back (after the due time: also what was claimed before the stop)."""
    before = {room: chaos.posts(room) for room in chaos.rooms}
    due = now_utc() + timedelta(seconds=7)
    await chaos.plan(due)
    restarted, said = await chaos.kill_and_restart(commands=1)  # it learns of the plans
    result.restart_seconds.append(await chaos.answered(said, restarted, within=15))
    pid = chaos.process.pid
    await asyncio.sleep(max(0.0, (due - now_utc()).total_seconds() + offset))
    postgres.stop_server("fast")
    stopped = time.monotonic()
    try:
        asked = await chaos.member.say(chaos.rooms[0], "!schedule list")  # reads the store
        await chaos.watcher.until(lambda: bool(chaos.replies_to(asked)), 5)
        replies = chaos.replies_to(asked)
        assert replies, dump(chaos)
        assert APOLOGY.split(".")[0] in replies[0][1]["content"]["body"], dump(chaos)
        assert chaos.health() == 503, dump(chaos)
        await asyncio.sleep(max(0.0, 6 - (time.monotonic() - stopped)))
        assert chaos.process.alive() and chaos.process.pid == pid, dump(chaos)
    finally:
        postgres.boot()
    await settle(chaos, within=40)
    assert chaos.process.alive() and chaos.process.pid == pid, dump(chaos)
    deadline = time.monotonic() + 10
    while chaos.health() != 200:
        assert time.monotonic() < deadline, dump(chaos)
        await asyncio.sleep(0.2)
    tally(chaos, result, before, [*said, asked])
    assert await chaos.paused() == []


async def test_a_postgres_restart_keeps_the_bot_up(
    make_chaos: MakeChaos, postgres: PostgresServer
) -> None:
    chaos = await make_chaos(store="postgresql", encryption=False, rooms=2)
    result = Round("pg-outage")
    await outage_round(chaos, postgres, result)
    assert (result.once, result.lost, result.doubled) == (2, 0, 0), dump(chaos)
    assert result.answered_once == result.commands == 2, dump(chaos)
    assert chaos.process.exits == [], dump(chaos)


async def kill_round(chaos: Chaos, mode: str, result: Round) -> None:
    """Posts in every room due together; SIGKILL before, just after, or once the first of
    the burst is seen; commands while it is down; restart at once."""
    before = {room: chaos.posts(room) for room in chaos.rooms}
    due = now_utc() + timedelta(seconds=4)
    await chaos.plan(due)
    restarted, said = await chaos.kill_and_restart(commands=1)  # it learns of the plans
    result.restart_seconds.append(await chaos.answered(said, restarted, within=15))
    if mode == "burst":
        await chaos.watcher.until(lambda: chaos.first_post_after(restarted), 15)
    else:
        offset = -0.4 if mode == "before" else 0.15
        await asyncio.sleep(max(0.0, (due - now_utc()).total_seconds() + offset))
    restarted, more = await chaos.kill_and_restart(commands=2)
    result.restart_seconds.append(await chaos.answered(more, restarted, within=15))
    await settle(chaos)
    tally(chaos, result, before, [*said, *more])


@pytest.mark.parametrize(
    ("store", "encryption"),
    [("sqlite", False), ("sqlite", True), ("postgresql", False), ("postgresql", True)],
    ids=["sqlite-plain", "sqlite-e2e", "postgresql-plain", "postgresql-e2e"],
)
async def test_chaos_every_occurrence_once_every_downtime_command_answered_once(
    make_chaos: MakeChaos, store: str, encryption: bool, request: pytest.FixtureRequest
) -> None:
    combination = f"{store}{'+e2e' if encryption else ''}"
    chaos = await make_chaos(store=store, encryption=encryption, rooms=6)
    rounds = [Round(mode) for mode in ("before", "just-after", "burst")]
    for result in rounds:
        await kill_round(chaos, result.name, result)
    if store == "postgresql":
        rounds.append(Round("pg-outage"))
        await outage_round(chaos, request.getfixturevalue("postgres"), rounds[-1], 0.1)
    TABLE.extend(result.row(combination) for result in rounds)
    for result in rounds:
        assert result.once == result.expected, (result, dump(chaos))
        assert result.answered_once == result.commands, (result, dump(chaos))
        assert max(result.restart_seconds) < 5, (result, dump(chaos))
    assert await chaos.paused() == []
