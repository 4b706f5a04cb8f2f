"""The loopback Discord double works with discord.py's real client (no adapter involved)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import discord
import pytest
from discord import app_commands

from tests.discord_double import DefaultGuild, DiscordDouble

pytestmark = pytest.mark.discord


class EchoBot(discord.Client):
    """A minimal bot: ``/echo text`` and ``/topic`` (with autocomplete) on one guild."""

    def __init__(self, guild_id: int, *, sync: bool = True) -> None:
        # guild_ready_timeout: on_ready otherwise waits 2 s after the last GUILD_CREATE.
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.01)
        self.tree = app_commands.CommandTree(self)
        self.guild_ref = discord.Object(guild_id)
        self.sync_on_start = sync

        @self.tree.command(name="echo", description="Repeat some text", guild=self.guild_ref)
        async def echo(interaction: discord.Interaction, text: str) -> None:
            await interaction.response.send_message(
                f"you said {text}", allowed_mentions=discord.AllowedMentions.none()
            )

        @self.tree.command(name="slow", description="Think, then answer", guild=self.guild_ref)
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True)
            await interaction.followup.send("done")

        @self.tree.command(name="topic", description="Pick a topic", guild=self.guild_ref)
        async def topic(interaction: discord.Interaction, name: str) -> None:
            await interaction.response.send_message(name)

        @topic.autocomplete("name")
        async def topic_names(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            names = ["allyship", "privilege", "pronouns"]
            return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

    async def setup_hook(self) -> None:
        if self.sync_on_start:
            await self.tree.sync(guild=self.guild_ref)


@pytest.fixture
async def double() -> AsyncIterator[DiscordDouble]:
    async with DiscordDouble() as double:
        with double.point_discord_py_here():
            yield double


@pytest.fixture
async def bot(double: DiscordDouble) -> AsyncIterator[tuple[EchoBot, DefaultGuild]]:
    default = double.add_default_guild()
    client = EchoBot(default.guild.id)
    task = asyncio.create_task(client.start("token"))
    try:
        await double.wait_ready()
        await asyncio.wait_for(client.wait_until_ready(), 2)
        yield client, default
    finally:
        await client.close()
        await asyncio.wait_for(task, 2)


async def test_slash_command_reply_is_recorded(
    double: DiscordDouble, bot: tuple[EchoBot, DefaultGuild]
) -> None:
    client, default = bot
    assert [c["name"] for c in double.commands(default.guild)] == ["echo", "slow", "topic"]
    assert client.get_guild(default.guild.id) is not None

    interaction = await double.slash("echo", {"text": "hi @everyone"})
    await double.wait_for_response(interaction)

    assert interaction.callback is not None and interaction.callback.type == 4
    assert interaction.callback.data["content"] == "you said hi @everyone"
    assert interaction.callback.data["allowed_mentions"] == {"parse": []}
    assert interaction.original is not None
    assert interaction.original.data["mention_everyone"] is False
    double.assert_clean()


async def test_deferred_reply_and_autocomplete(
    double: DiscordDouble, bot: tuple[EchoBot, DefaultGuild]
) -> None:
    interaction = await double.slash("slow", user=bot[1].moderator)
    await double.wait_for_response(interaction, followups=1)
    assert interaction.callback is not None and interaction.callback.type == 5
    # The first followup after a defer replaces the "thinking" message, and stays ephemeral.
    [message] = interaction.messages
    assert message.content == "done" and message.ephemeral

    choices = await double.autocomplete("topic", {"name": "pr"}, focused="name")
    assert [c["value"] for c in choices] == ["privilege", "pronouns"]
    double.assert_clean()


async def test_sync_rejects_what_discord_rejects(double: DiscordDouble) -> None:
    default = double.add_default_guild()
    client = EchoBot(default.guild.id, sync=False)
    await client.login("token")
    try:
        # discord.py refuses upper-case names itself, so rename after construction.
        command = client.tree.get_command("echo", guild=client.guild_ref)
        assert command is not None
        command.name = "Echo"
        with pytest.raises(discord.HTTPException) as raised:
            await client.tree.sync(guild=client.guild_ref)
        assert raised.value.status == 400 and raised.value.code == 50035

        command.name = "echo"
        command.description = "x" * 101  # not checked by discord.py
        with pytest.raises(discord.HTTPException):
            await client.tree.sync(guild=client.guild_ref)
    finally:
        await client.close()
    errors = [e.body["errors"] for e in double.errors]
    assert "name" in errors[0]["0"] and "description" in errors[1]["0"]
    assert [s.accepted for s in double.command_syncs] == [False, False]
    assert double.commands(default.guild) == []


async def test_same_nonce_twice_creates_one_message(
    double: DiscordDouble, bot: tuple[EchoBot, DefaultGuild]
) -> None:
    client, default = bot
    channel = client.get_channel(default.text.id)
    assert isinstance(channel, discord.TextChannel)

    first = await channel.send("hello", nonce=12345)
    second = await channel.send("hello", nonce=12345)

    assert first.id == second.id
    assert [m.content for m in double.messages] == ["hello"]
    assert double.messages[0].nonce == "12345"


async def test_forum_post_and_thread_from_message(
    double: DiscordDouble, bot: tuple[EchoBot, DefaultGuild]
) -> None:
    client, default = bot
    forum = client.get_channel(default.forum.id)
    text = client.get_channel(default.text.id)
    assert isinstance(forum, discord.ForumChannel) and isinstance(text, discord.TextChannel)

    post = await forum.create_thread(name="Weekly reflection", content="What did you learn?")
    assert post.thread.id == post.message.id  # as on Discord
    message = await text.send("start here")
    thread = await message.create_thread(name="x" * 100)
    assert thread.id == message.id

    with pytest.raises(discord.HTTPException):
        await text.send("y" * 2001)
    assert [t.source for t in double.threads] == ["forum", "message"]
    assert [e.status for e in double.errors] == [400]


async def test_forced_reconnect_resumes_instead_of_identifying(
    double: DiscordDouble, bot: tuple[EchoBot, DefaultGuild]
) -> None:
    await double.force_reconnect()

    assert (double.identify_count, double.resume_count) == (1, 1)
    interaction = await double.slash("echo", {"text": "still here"})
    await double.wait_for_response(interaction)
    assert interaction.callback is not None
    assert interaction.callback.data["content"] == "you said still here"
    double.assert_clean()
