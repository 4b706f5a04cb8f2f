"""Commands the bot names on Discord (discord.py against the loopback double) are the slash
commands members type there: a challenge day's "Look up `/define allyship`", an event's
"`/event rsvp 1 yes`" in its announcement and its Guild Scheduled Event, and a reply's
"`/poll access members`". A bare `define allyship` names nothing a member can run."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.adapters.discord import test_discord_adapter as harness
from tests.adapters.discord.test_discord_adapter import Bot, BotFactory
from tests.discord_double import Perm

double, start_bot, bot = harness.double, harness.start_bot, harness.bot


async def test_a_challenge_day_and_a_reply_name_slash_commands(bot: Bot) -> None:
    double, guild = bot.double, bot.guild
    await bot.ask(
        "challenge start",
        {"path": "allyship-21", "date": "2026-03-03", "time": "09:00"},
        user=guild.moderator,
        channel=guild.text,
    )
    bot.clock.set(datetime(2026, 3, 3, 9, tzinfo=UTC))
    await bot.app.scheduler.run_due()
    await double.wait_until(lambda: len(double.threads) == 1, what="the day's thread")
    thread = double.threads[0]
    inside = "\n".join(m.content for m in double.messages if m.channel_id == thread.id)
    assert "`/define allyship`" in inside, inside  # from the content file (paths.toml)
    assert "`/challenge done [note]`" in inside and "`/challenge day 1`" in inside, inside
    assert "`define allyship`" not in inside

    refused = await bot.ask("poll show", {"poll": "Tea? | Yes | No"}, user=guild.member)
    assert "`/poll access members`" in refused, refused  # a reply naming another command
    double.assert_clean()


async def test_an_event_names_its_rsvp_command_as_a_slash_command(start_bot: BotFactory) -> None:
    bot = await start_bot()
    double, guild = bot.double, bot.guild
    double.now = bot.clock.now
    guild.bot_role.permissions |= Perm.CREATE_EVENTS
    await bot.ask(
        "event plan",
        {"rule": "weekly", "details": "thu 18:30 Reading circle | https://meet.example.org/w"},
        user=guild.moderator,
        channel=guild.text,
    )
    await double.wait_until(lambda: bool(double.scheduled_events), what="the scheduled event")
    [event] = double.scheduled_events.values()
    assert "`/event rsvp 1 yes`" in event["description"], event["description"]
    await double.wait_until(lambda: len(double.threads) == 1, what="the announcement")
    announced = "\n".join(m.content for m in double.messages)
    assert "`/event rsvp 1 yes`" in announced, announced
    double.assert_clean()
