"""`companion doctor` against the Discord double: the token, the registered commands and the
bot's permissions in each channel that has a schedule, all over REST (no gateway)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest

from companion.app import build
from companion.config import Settings
from companion.content import Content
from companion.doctor import Check, diagnose, exit_code
from companion.events import Actor, Place
from companion_adapters.discord.tree import render_tree
from tests.conftest import START
from tests.discord_double import (
    REQUIRE_TAG,
    Channel,
    ChannelType,
    DefaultGuild,
    DiscordDouble,
    ForumTag,
    Overwrite,
    Perm,
)

pytestmark = pytest.mark.discord

TOKEN = "COMPANION_DISCORD_TOKEN"
MODERATOR = Actor("u:mod", "Moderator", is_moderator=True)
THREADS = Perm.SEND_MESSAGES_IN_THREADS | Perm.CREATE_PUBLIC_THREADS


@pytest.fixture
async def double(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DiscordDouble]:
    monkeypatch.delenv(f"{TOKEN}_FILE", raising=False)
    async with DiscordDouble() as double:
        monkeypatch.setenv(TOKEN, double.token)
        yield double


def config(tmp_path: Path, double: DiscordDouble, *lines: str) -> Path:
    path = tmp_path / "companion.toml"
    path.write_text(
        f'[storage]\npath = "companion.db"\n\n[discord]\napi_base = "{double.api_base}"\n'
        f'gateway_url = "{double.gateway_url}"\n' + "".join(f"{line}\n" for line in lines),
        encoding="utf-8",
    )
    return path


async def schedule_in(tmp_path: Path, content: Content, guild: DefaultGuild, *channels: Channel):
    """A reflection scheduled in each channel, in the database the config names."""
    app = await build(Settings(db_path=tmp_path / "companion.db"), content=content)
    try:
        for channel in channels:
            place = Place("discord", str(guild.guild.id), str(channel.id))
            reply = await app.dispatcher.run_text(
                "schedule reflection 09:00", MODERATOR, place, START
            )
            assert "#" in reply.text, reply.text
    finally:
        await app.close()


async def register(double: DiscordDouble, commands: list[dict]) -> None:
    """What `companion run` does at start: PUT the commands, through discord.py."""
    client = discord.Client(intents=discord.Intents(guilds=True))
    with double.point_discord_py_here():
        await client.login(double.token)
        assert client.application_id is not None
        await client.http.bulk_upsert_global_commands(client.application_id, commands)
        await client.close()


def line(checks: list[Check], name: str) -> Check:
    found = [c for c in checks if c.name == name]
    assert len(found) == 1, f"no one line {name!r} in {[c.name for c in checks]}"
    return found[0]


async def test_a_refused_token_is_named_with_where_to_get_a_new_one(double, tmp_path, monkeypatch):
    monkeypatch.setenv(TOKEN, "not-the-token")
    checks = await diagnose(config(tmp_path, double))
    token = line(checks, "discord token")
    assert not token.ok
    assert token.detail == f"Discord refused the bot token in {TOKEN} (401 Unauthorized)"
    assert "(Bot > Reset Token)" in token.fix and TOKEN in token.fix
    assert exit_code(checks) == 1


async def test_unregistered_commands_and_missing_permissions_are_each_a_line(
    double: DiscordDouble, tmp_path: Path, shipped: Content
) -> None:
    default = double.add_default_guild()
    guild = default.guild
    locked = guild.add_channel("locked", overwrites=[Overwrite(default.bot_role.id, deny=THREADS)])
    hidden = guild.add_channel("hidden", overwrites=[Overwrite(guild.id, deny=Perm.VIEW_CHANNEL)])
    await schedule_in(tmp_path, shipped, default, default.text, default.forum, locked, hidden)

    checks = await diagnose(config(tmp_path, double))

    assert line(checks, "discord token").ok
    commands = line(checks, "discord commands")
    assert not commands.ok
    assert commands.detail.startswith("the commands registered globally are not this version's")
    assert re.search(r"\(missing: /\w+, /\w+, /\w+, /\w+, /\w+ and \d+ more\)", commands.detail)
    assert commands.fix.startswith("start `companion run` once: it registers them at start")
    assert line(checks, f"discord channel #general in {guild.name}").ok
    forum = line(checks, f"discord channel #forum in {guild.name}")
    assert forum.ok and "Create Posts" in forum.detail
    threads = line(checks, f"discord channel #locked in {guild.name}")
    assert not threads.ok
    assert threads.detail == (
        "the bot lacks Send Messages in Threads, Create Public Threads (schedules #3)"
    )
    assert threads.fix == (
        "allow Send Messages in Threads, Create Public Threads for Companion (or one of its "
        "roles) in #locked (Edit Channel > Permissions)"
    )
    unseen = line(checks, f"discord channel {hidden.id} in {guild.name}")
    assert not unseen.ok and "the bot cannot see this channel (schedules #4)" in unseen.detail
    assert unseen.fix.startswith("give Companion View Channel there")
    assert exit_code(checks) == 1
    assert double.identify_count == 0  # REST only
    double.assert_clean()


async def test_registered_commands_pass_and_an_outdated_one_is_named(
    double: DiscordDouble, tmp_path: Path, shipped: Content
) -> None:
    double.add_default_guild()
    app = await build(Settings(db_path=Path(":memory:")), content=shipped)
    rendered = render_tree(app.registry).commands
    await app.close()
    await register(double, rendered)

    checks = await diagnose(config(tmp_path, double))

    assert [c for c in checks if not c.ok] == []
    assert line(checks, "discord commands").detail == f"all {len(rendered)} registered globally"
    assert exit_code(checks) == 0

    old = [dict(c, description="An older text") if c["name"] == "define" else c for c in rendered]
    await register(double, old)
    commands = line(await diagnose(config(tmp_path, double)), "discord commands")
    assert not commands.ok and "(outdated: /define)" in commands.detail
    double.assert_clean()


async def test_commands_expected_in_the_test_guild(double, tmp_path, shipped):
    default = double.add_default_guild()
    checks = await diagnose(config(tmp_path, double, f"test_guild_id = {default.guild.id}"))
    commands = line(checks, "discord commands")
    assert not commands.ok
    assert f"registered in test_guild_id {default.guild.id} are not" in commands.detail
    assert commands.fix == "start `companion run` once: it registers them at start"


async def test_a_forum_that_requires_a_tag_needs_one_configured(
    double: DiscordDouble, tmp_path: Path, shipped: Content
) -> None:
    default = double.add_default_guild()
    guild = default.guild
    tags = [ForumTag("Discussion"), ForumTag("Reading")]
    forum = ChannelType.GUILD_FORUM
    strict = guild.add_channel("strict", forum, flags=REQUIRE_TAG, available_tags=tags)
    named = guild.add_channel("named", forum, flags=REQUIRE_TAG, available_tags=tags)
    wrong = guild.add_channel("wrong", forum, available_tags=tags)
    await schedule_in(tmp_path, shipped, default, default.forum, strict, named, wrong)

    tags_line = f'forum_tags = {{ "{named.id}" = "Reading", "{wrong.id}" = "Art" }}'
    checks = await diagnose(config(tmp_path, double, tags_line))

    missing = line(checks, f"discord channel #strict in {guild.name}: tag")
    assert not missing.ok
    assert missing.detail == (
        "the forum requires a tag on every post, and [discord] forum_tags names none "
        "(schedules #2): the bot would use 'Discussion'"
    )
    assert missing.fix == (
        f'set [discord] forum_tags = {{ "{strict.id}" = "<tag>" }}, <tag> one of: '
        "Discussion, Reading"
    )
    assert line(checks, f"discord channel #named in {guild.name}: tag").ok
    unknown = line(checks, f"discord channel #wrong in {guild.name}: tag")
    assert not unknown.ok and "names 'Art', not a tag of this forum" in unknown.detail
    # A forum that does not require tags, with none configured: no tag line at all.
    assert not [c for c in checks if c.name == f"discord channel #forum in {guild.name}: tag"]
    assert line(checks, f"discord channel #strict in {guild.name}").ok  # permissions: fine
    assert exit_code(checks) == 1


async def test_where_events_are_planned_the_bot_needs_create_events(
    double: DiscordDouble, tmp_path: Path, shipped: Content
) -> None:
    default = double.add_default_guild()
    app = await build(Settings(db_path=tmp_path / "companion.db"), content=shipped)
    try:
        place = Place("discord", str(default.guild.id), str(default.text.id))
        reply = await app.dispatcher.run_text(
            "event plan weekly thu 18:30 Reading circle | here", MODERATOR, place, START
        )
        assert "Planned event #1" in reply.text, reply.text
    finally:
        await app.close()
    name = f"discord server {default.guild.name}: events"
    events = line(await diagnose(config(tmp_path, double)), name)
    assert not events.ok and "lacks Create Events" in events.detail
    assert "Server Settings > Roles" in events.fix
    default.bot_role.permissions |= Perm.CREATE_EVENTS
    assert line(await diagnose(config(tmp_path, double)), name).ok
    double.assert_clean()
