"""A challenge day on Discord (discord.py against the loopback double): the day opens as a
thread in the channel the challenge started in, with both options and the question, and a
member's check-in is answered privately (ephemeral)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.adapters.discord import test_discord_adapter as harness
from tests.adapters.discord.test_discord_adapter import Bot, text_of

# The adapter tests' fixtures: a double, the bot started through its entry point against it.
double, start_bot, bot = harness.double, harness.start_bot, harness.bot


async def test_a_challenge_day_opens_a_thread_with_both_options_and_the_question(
    bot: Bot,
) -> None:
    double, guild = bot.double, bot.guild
    started = await bot.ask(
        "challenge start",
        {"path": "allyship-21", "date": "2026-03-03", "time": "09:00"},
        user=guild.moderator,
        channel=guild.text,
    )
    assert started.startswith("Challenge started"), started
    assert "Welcome" in await bot.ask("challenge join", user=guild.member, channel=guild.text)

    bot.clock.set(datetime(2026, 3, 3, 9, tzinfo=UTC))
    await bot.app.scheduler.run_due()
    await double.wait_until(lambda: len(double.threads) == 1, what="the day's thread")
    thread = double.threads[0]
    assert thread.name == "Day 1 of 21: A practice, not a label"
    inside = "\n".join(m.content for m in double.messages if m.channel_id == thread.id)
    for part in ("About 5 minutes:", "About 30 minutes:", "For this thread:", "Sources:"):
        assert part in inside, inside
    assert "`/define allyship`" in inside  # a command to try, as typed there
    assert all(0 < len(m.content) <= 2000 for m in double.messages)

    record = await double.slash("challenge done", {}, user=guild.member, channel=guild.text)
    await double.wait_for_response(record)
    assert "Checked in for day 1" in text_of(record)
    assert all(m.ephemeral for m in record.messages)  # nobody else sees who checked in

    sent = len(double.messages)
    await bot.app.scheduler.run_due()  # a second pass posts nothing again
    assert len(double.messages) == sent and len(double.threads) == 1
    double.assert_clean()
