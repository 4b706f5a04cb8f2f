"""Discord's own ways of answering (issue 25), discord.py against the loopback double: a
native poll voted in and by `/vote`, ended with the right counts; a Guild Scheduled Event
for a planned meeting, "Interested" as a yes, edited and cancelled with the command; and
the double refusing what Discord refuses."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import pytest

from companion_adapters.discord.adapter import CompanionClient
from tests.adapters.discord import test_discord_adapter as harness
from tests.adapters.discord.test_discord_adapter import Bot, BotFactory
from tests.discord_double import ChannelType, Perm

double, start_bot, bot = harness.double, harness.start_bot, harness.bot


def client_of(bot: Bot) -> CompanionClient:
    port: Any = bot.app.ports["discord"]
    return port.client


async def counted(bot: Bot, read: Any, expected: Any, what: str) -> None:
    """Until the bot has counted what the gateway told it (a few event-loop turns)."""
    for _ in range(300):
        if await read() == expected:
            return
        await asyncio.sleep(0.01)
    assert await read() == expected, what


async def test_a_native_poll_is_voted_in_and_by_command_and_ends_with_the_counts(
    bot: Bot,
) -> None:
    double, guild = bot.double, bot.guild
    double.now = bot.clock.now
    answer = await bot.ask(
        "poll show",  # /poll itself: a group shares its name (see the tree)
        {"poll": "Which <b>evening</b> @everyone? | Tuesday | Thursday for 1d"},
        user=guild.moderator,
        channel=guild.text,
    )
    assert "Poll #1 is open for 24 hours" in answer, answer
    await double.wait_until(lambda: bool(double.polls), what="the native poll")
    [message] = [m for m in double.messages if "poll" in m.data]
    poll = message.data["poll"]
    assert poll["question"]["text"] == "Which <b>evening</b> @everyone?"  # plain, no ping
    assert [a["poll_media"]["text"] for a in poll["answers"]] == ["Tuesday", "Thursday"]
    assert not message.data["mention_everyone"] and message.payload["poll"]["duration"] == 24
    mid = message.id

    assert await double.poll_vote(guild.member.user, mid, 2)
    assert await double.poll_vote(guild.moderator.user, mid, 1)
    assert await double.poll_vote(guild.moderator.user, mid, 2)  # changed: remove 1, add 2
    assert "Your vote in poll #1" in await bot.ask("vote", {"answer": 1}, user=guild.owner)
    store = bot.app.store
    await counted(bot, lambda: store.polls.counts(1), {1: 1, 2: 2}, "the votes")
    assert await double.poll_vote(guild.member.user, mid, 2, add=False)  # taken back
    await counted(bot, lambda: store.polls.counts(1), {1: 1, 2: 1}, "the withdrawal")
    assert await double.poll_vote(guild.member.user, mid, 2)
    await counted(bot, lambda: store.polls.counts(1), {1: 1, 2: 2}, "the vote again")

    bot.clock.advance(timedelta(days=1))  # Discord ends the poll itself as the core does
    await bot.app.scheduler.run_due()
    await double.wait_until(lambda: double.polls[mid].finalized, what="the poll's end")
    await double.wait_until(
        lambda: any("has ended" in m.content for m in double.messages), what="the result"
    )
    [expired] = double.errors  # the port asked to end it, and took "Poll expired" as done
    assert expired.body["code"] == 520001 and expired.path.endswith(f"/polls/{mid}/expire")
    double.errors.clear()
    [result] = [m for m in double.messages if "has ended" in m.content]
    assert "1 **Tuesday**: 1 vote(s)" in result.content
    assert "2 **Thursday**: 2 vote(s) (most votes)" in result.content
    assert "3 member(s) voted" in result.content
    for member in (guild.member, guild.moderator, guild.owner):
        assert str(member.id) not in result.content
    assert not await double.poll_vote(guild.member.user, mid, 1)  # over on Discord too
    assert await store.polls.counts(1) == {1: 1, 2: 2}
    double.assert_clean()


async def test_a_planned_meeting_is_a_scheduled_event_and_interested_is_a_yes(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot()
    double, guild = bot.double, bot.guild
    double.now = bot.clock.now
    guild.bot_role.permissions |= Perm.CREATE_EVENTS
    planned = await bot.ask(
        "event plan",
        {"rule": "weekly", "details": "thu 18:30 Reading circle | https://meet.example.org/w"},
        user=guild.moderator,
        channel=guild.text,
    )
    assert "Planned event #1" in planned, planned
    await double.wait_until(lambda: bool(double.scheduled_events), what="the scheduled event")
    [(event_id, event)] = double.scheduled_events.items()
    assert event["name"] == "Reading circle" and event["entity_type"] == 3
    assert event["entity_metadata"] == {"location": "https://meet.example.org/w"}
    assert event["scheduled_start_time"].startswith("2026-03-05T18:30:00")
    assert event["scheduled_end_time"].startswith("2026-03-05T19:30:00")
    await double.wait_until(lambda: len(double.threads) == 1, what="the announcement")

    store = bot.app.store

    async def answers() -> tuple[int, int, int]:
        counts = (await store.events.counts([1]))[1]
        return counts.yes, counts.maybe, counts.no

    assert await double.interested(guild.member.user, event_id)
    assert await double.interested(guild.moderator.user, event_id)
    await counted(bot, answers, (2, 0, 0), "Interested as yes")
    await bot.ask("event rsvp", {"id": 1, "answer": "no"}, user=guild.moderator)
    assert await double.interested(guild.moderator.user, event_id, add=False)
    await bot.ask("event rsvp", {"id": 1, "answer": "maybe"}, user=guild.owner)
    await counted(bot, answers, (1, 1, 1), "a later no stands")

    bot.task.cancel()  # a restart: the events come from GUILD_CREATE, nothing is made twice
    bot = await start_bot()
    double.now = bot.clock.now
    assert await double.interested(guild.member.user, event_id, add=False)
    await counted(bot, answers, (0, 1, 1), "no longer interested")
    moved = await bot.ask(
        "event edit",
        {"id": 1, "what": "when", "value": "weekly fri 19:00"},
        user=guild.moderator,
        channel=guild.text,
    )
    assert "Changed event #1" in moved, moved
    assert double.scheduled_events[event_id]["scheduled_start_time"].startswith(
        "2026-03-06T19:00:00"
    )
    await bot.ask("event cancel", {"id": 1}, user=guild.moderator, channel=guild.text)
    assert double.scheduled_events[event_id]["status"] == 4
    assert len(double.scheduled_events) == 1
    double.assert_clean()


async def test_without_the_permission_the_announcement_goes_out_alone(bot: Bot) -> None:
    double, guild = bot.double, bot.guild
    double.now = bot.clock.now
    await bot.ask(
        "event plan",
        {"rule": "once", "details": "2026-03-10 12:00 Lunch discussion | here"},
        user=guild.moderator,
        channel=guild.text,
    )
    await double.wait_until(lambda: len(double.threads) == 1, what="the announcement")
    assert double.scheduled_events == {}
    [refused] = double.errors
    assert refused.status == 403 and refused.path.endswith("/scheduled-events")
    double.errors.clear()
    double.assert_clean()


async def test_the_double_refuses_what_discord_refuses(bot: Bot) -> None:
    double, guild = bot.double, bot.guild
    double.now = lambda: datetime(2026, 3, 2, 12, tzinfo=UTC)
    client = client_of(bot)
    channel = client.get_partial_messageable(guild.text.id, guild_id=guild.guild.id)

    def poll(question: str, answers: list[str], hours: int = 24) -> discord.Poll:
        made = discord.Poll(question=question, duration=timedelta(hours=hours))
        for answer in answers:
            made.add_answer(text=answer)
        return made

    for bad in (
        poll("Eleven?", [str(n) for n in range(11)]),
        poll("q" * 301, ["a", "b"]),
        poll("Long?", ["a" * 56, "b"]),
        poll("Forever?", ["a", "b"], hours=769),
        poll("None?", []),
    ):
        with pytest.raises(discord.HTTPException) as refused:
            await channel.send(poll=bad)
        assert refused.value.status == 400
    await channel.send(poll=poll("q" * 300, ["a" * 55] * 10, hours=768))  # the limits hold

    server = client.get_guild(guild.guild.id)
    assert server is not None
    start = datetime(2026, 3, 3, 18, tzinfo=UTC)
    with pytest.raises(discord.Forbidden):  # no Create/Manage Events yet
        await server.create_scheduled_event(
            name="x",
            start_time=start,
            end_time=start + timedelta(hours=1),
            location="here",
            entity_type=discord.EntityType.external,
            privacy_level=discord.PrivacyLevel.guild_only,
        )
    guild.bot_role.permissions |= Perm.MANAGE_EVENTS
    http = client.http
    base = {"privacy_level": 2, "scheduled_start_time": start.isoformat()}
    end = (start + timedelta(hours=1)).isoformat()
    voice = guild.guild.add_channel("voice", ChannelType.GUILD_VOICE)
    for payload in (
        {
            **base,
            "name": "",
            "entity_type": 3,
            "entity_metadata": {"location": "x"},
            "scheduled_end_time": end,
        },
        {
            **base,
            "name": "n" * 101,
            "entity_type": 3,
            "entity_metadata": {"location": "x"},
            "scheduled_end_time": end,
        },
        {**base, "name": "No place", "entity_type": 3, "scheduled_end_time": end},
        {**base, "name": "No end", "entity_type": 3, "entity_metadata": {"location": "x"}},
        {**base, "name": "No channel", "entity_type": 2},
        {**base, "name": "Not voice", "entity_type": 2, "channel_id": str(guild.text.id)},
        {
            **base,
            "name": "Past",
            "entity_type": 2,
            "channel_id": str(voice.id),
            "scheduled_start_time": "2026-03-01T12:00:00+00:00",
        },
    ):
        with pytest.raises(discord.HTTPException) as refused:
            await http.create_guild_scheduled_event(guild.guild.id, **payload)
        assert refused.value.status == 400, payload
    made = await http.create_guild_scheduled_event(
        guild.guild.id, **{**base, "name": "Voice", "entity_type": 2, "channel_id": str(voice.id)}
    )
    assert made["channel_id"] == str(voice.id)
    double.errors.clear()


async def test_a_meeting_in_a_voice_channel_is_a_voice_event(
    double: Any, start_bot: BotFactory
) -> None:
    bot = await start_bot()
    guild = bot.guild
    voice = guild.guild.add_channel("circle", ChannelType.GUILD_VOICE)
    guild.bot_role.permissions |= Perm.CREATE_EVENTS
    bot.task.cancel()  # the bot learns of the new channel at its next start
    bot = await start_bot()
    double.now = bot.clock.now
    planned = await bot.ask(
        "event plan",
        {"rule": "once", "details": f"2026-03-10 12:00 Lunch circle | <#{voice.id}>"},
        user=guild.moderator,
        channel=guild.text,
    )
    assert "Planned event #1" in planned, planned
    await double.wait_until(lambda: bool(double.scheduled_events), what="the scheduled event")
    [event] = double.scheduled_events.values()
    assert event["entity_type"] == 2 and event["channel_id"] == str(voice.id)
    assert event["scheduled_start_time"].startswith("2026-03-10T12:00:00")
    double.assert_clean()


async def test_a_time_poll_is_a_native_poll_and_its_winner_is_planned(bot: Bot) -> None:
    """`/event plan ... poll`: the candidate times as a native poll; the native votes pick the
    time; at the end the event is planned once and the result says when."""
    double, guild = bot.double, bot.guild
    double.now = bot.clock.now
    details = "Lunch talk | here poll 2026-03-07 12:00 | 2026-03-06 12:30 for 1d"
    answer = await bot.ask(
        "event plan",
        {"rule": "once", "details": details},
        user=guild.moderator,
        channel=guild.text,
    )
    assert "Poll #1 asks when to meet for **Lunch talk**" in answer, answer
    await double.wait_until(lambda: bool(double.polls), what="the native poll")
    [message] = [m for m in double.messages if "poll" in m.data]
    answers = [a["poll_media"]["text"] for a in message.data["poll"]["answers"]]
    assert answers == ["Sat 07 Mar 2026, 12:00", "Fri 06 Mar 2026, 12:30"], answers
    assert await double.poll_vote(guild.member.user, message.id, 1)
    assert await double.poll_vote(guild.owner.user, message.id, 2)  # a tie: the earliest wins
    await counted(bot, lambda: bot.app.store.polls.counts(1), {1: 1, 2: 1}, "the votes")

    bot.clock.advance(timedelta(days=1))
    await bot.app.scheduler.run_due()
    await double.wait_until(
        lambda: any("has ended" in m.content for m in double.messages), what="the result"
    )
    [result] = [m for m in double.messages if "has ended" in m.content]
    assert "**Lunch talk** is planned for Fri 06 Mar 2026, 12:30" in result.content
    [event] = await bot.app.store.events.for_community(str(guild.guild.id))
    assert (event.title, event.start_date, event.at_time) == ("Lunch talk", "2026-03-06", "12:30")
    await bot.app.scheduler.run_due()
    await double.wait_until(
        lambda: any("Event #1: Lunch talk" in m.content for m in double.messages),
        what="the announcement",
    )
    double.errors.clear()  # "Poll expired" when the port ended it at its expiry, as above
    double.assert_clean()


async def test_a_book_clubs_meeting_is_a_scheduled_event_until_the_club_ends(bot: Bot) -> None:
    """`with meetings HH:MM`: the meeting within the week gets its Guild Scheduled Event
    (not every chapter's at once), "Interested" is a yes, and the club's end cancels it."""
    double, guild = bot.double, bot.guild
    double.now = bot.clock.now
    guild.bot_role.permissions |= Perm.CREATE_EVENTS
    started = await bot.ask(
        "bookclub start",
        {
            "plan": "the-wake-up",
            "date": "2026-03-03",
            "pace": "weekly thu 18:00 with meetings 19:30",
        },
        user=guild.moderator,
        channel=guild.text,
    )
    assert "A meeting at 19:30 on each discussion day" in started, started
    await bot.app.scheduler.run_due()
    await double.wait_until(lambda: bool(double.scheduled_events), what="the scheduled event")
    [(event_id, event)] = double.scheduled_events.items()
    assert event["name"].endswith(": chapter 1 meeting")
    assert event["scheduled_start_time"].startswith("2026-03-05T19:30:00")
    assert event["entity_metadata"] == {"location": "#general"}
    assert await double.interested(guild.member.user, event_id)
    store = bot.app.store

    async def yes() -> int:
        return (await store.events.counts([1]))[1].yes

    await counted(bot, yes, 1, "Interested as yes")
    await bot.ask("bookclub end", user=guild.moderator, channel=guild.text)
    await bot.app.scheduler.run_due()
    await double.wait_until(
        lambda: double.scheduled_events[event_id]["status"] == 4, what="the cancellation"
    )
    assert len(double.scheduled_events) == 1
    double.assert_clean()
