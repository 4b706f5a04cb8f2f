"""`companion doctor`'s Discord checks, over REST only (no gateway): the token, the
application's commands, and the bot's permissions in every channel with a schedule.

Permissions are computed as Discord does, from the guild's roles, the bot's roles and the
channel's overwrites (discord.py's ``permissions_for``); nothing is sent or changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import discord

from companion.checklist import CORRECT_SETTING, Check, failed, passed
from companion.config import ConfigError
from companion.platforms import DoctorContext as Context
from companion_adapters.discord.adapter import PLATFORM, endpoints
from companion_adapters.discord.config import TOKEN_VARIABLE, DiscordConfig, token
from companion_adapters.discord.port import fallback_tag
from companion_adapters.discord.tree import render_tree

JSON = dict[str, Any]
NETWORK_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)
INVITE = "invite the bot again with the bot and applications.commands scopes"
# What the bot needs where it posts: (permission attribute, what Discord's settings call it).
TEXT_NEEDS = (
    ("view_channel", "View Channel"),
    ("send_messages", "Send Messages"),
    ("send_messages_in_threads", "Send Messages in Threads"),
    ("create_public_threads", "Create Public Threads"),
)
FORUM_NEEDS = (
    ("view_channel", "View Channel"),
    ("send_messages", "Create Posts"),
    ("send_messages_in_threads", "Send Messages in Posts"),
)


async def checks(context: Context) -> list[Check]:
    try:
        config = DiscordConfig.from_settings(context.settings)
    except ConfigError as error:
        return [failed("discord settings", str(error), CORRECT_SETTING)]
    try:
        bot_token = token()
    except ConfigError as error:
        return [
            failed(
                "discord token",
                str(error),
                f"set {TOKEN_VARIABLE} (or {TOKEN_VARIABLE}_FILE) where Companion runs",
            )
        ]
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # no voice here
    client = discord.Client(intents=discord.Intents(guilds=True))  # no gateway: REST only
    with endpoints(config.api_base, config.gateway_url):
        try:
            try:
                await client.login(bot_token)
            except discord.LoginFailure:
                return [
                    failed(
                        "discord token",
                        f"Discord refused the bot token in {TOKEN_VARIABLE} (401 Unauthorized)",
                        f"copy a fresh token from the developer portal (Bot > Reset Token) "
                        f"into {TOKEN_VARIABLE}",
                    )
                ]
            assert client.user is not None and client.application_id is not None
            result = [passed("discord token", f"accepted: the bot is {client.user}")]
            result.append(await _commands(client, context, config))
            result += await _channels(client, context, config)
            return result
        except NETWORK_ERRORS as error:
            return [
                failed(
                    "discord api",
                    f"cannot reach {discord.http.Route.BASE}: {type(error).__name__}: {error}",
                    "let this machine reach Discord (or correct [discord] api_base)",
                )
            ]
        finally:
            await client.close()


async def _commands(client: discord.Client, context: Context, config: DiscordConfig) -> Check:
    if context.registry is None:
        return failed("discord commands", "not checked: the content is invalid", "see above")
    guild_id = config.test_guild_id
    expected = render_tree(context.registry, global_scope=guild_id is None).commands
    where = "globally" if guild_id is None else f"in test_guild_id {guild_id}"
    app_id = client.application_id
    assert app_id is not None
    try:
        if guild_id is None:
            registered = await client.http.get_global_commands(app_id)
        else:
            registered = await client.http.get_guild_commands(app_id, guild_id)
    except discord.HTTPException as error:
        return failed(
            "discord commands",
            f"cannot read the commands {where}: {error.text or error}",
            f"{INVITE} to that server, or remove [discord] test_guild_id",
        )
    by_name: dict[str, JSON] = {str(c.get("name")): dict(c) for c in registered}
    missing = [c["name"] for c in expected if c["name"] not in by_name]
    changed = [
        c["name"]
        for c in expected
        if c["name"] in by_name
        and not (_same(c, by_name[c["name"]]) and _same_permissions(c, by_name[c["name"]]))
    ]
    stale = sorted(set(by_name) - {c["name"] for c in expected})
    if not (missing or changed or stale):
        return passed("discord commands", f"all {len(expected)} registered {where}")
    problems = [
        f"{what}: {_names(names)}"
        for what, names in (("missing", missing), ("outdated", changed), ("not ours", stale))
        if names
    ]
    return failed(
        "discord commands",
        f"the commands registered {where} are not this version's ({'; '.join(problems)})",
        "start `companion run` once: it registers them at start"
        + (" (global ones can take a while to show)" if guild_id is None else ""),
    )


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(f"/{n}" for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _same(want: Any, got: Any) -> bool:
    """Whether what Discord has matches what we would register: every field we send,
    where a field Discord leaves out counts as its default."""
    if isinstance(want, Mapping):
        if not isinstance(got, Mapping):
            return False
        return all(_same(value, got.get(key, _default(value))) for key, value in want.items())
    if isinstance(want, list):
        return isinstance(got, list) and len(want) == len(got) and all(map(_same, want, got))
    return bool(want == got)


def _same_permissions(want: JSON, got: JSON) -> bool:
    """Who sees the command: a field we leave out when everyone may."""
    key = "default_member_permissions"
    return str(want.get(key) or "") == str(got.get(key) or "")


def _default(value: Any) -> Any:
    """What an absent field means: false for a flag, empty for a list, else nothing."""
    if isinstance(value, bool):
        return False
    return [] if isinstance(value, list) else None


async def _channels(client: discord.Client, context: Context, config: DiscordConfig) -> list[Check]:
    if context.store is None:
        return [passed("discord channels", "no database yet: no schedules to check")]
    schedules = await context.store.schedules.for_platform(PLATFORM)
    if not schedules:
        return [passed("discord channels", "no schedules yet")]
    by_place: dict[tuple[str, str], list[int]] = {}  # the schedules' ids by channel
    for row in schedules:
        by_place.setdefault((row.community_id, row.room_id), []).append(row.id)
    result = []
    guilds: dict[str, tuple[discord.Guild, discord.Member, list[Any]] | Check] = {}
    for (guild_id, channel_id), rows in by_place.items():
        if guild_id not in guilds:
            guilds[guild_id] = await _guild(client, guild_id)
        found = guilds[guild_id]
        ids = ", ".join(f"#{number}" for number in rows)
        if isinstance(found, Check):
            result.append(failed(found.name, f"{found.detail} (schedules {ids})", found.fix))
            continue
        guild, me, channels = found
        result.append(_channel(guild, me, channels, int(channel_id), ids))
        forum = next((c for c in channels if c.id == int(channel_id)), None)
        if isinstance(forum, discord.ForumChannel):
            result += _forum_tag(guild, forum, config, ids)
    planned = sorted({row.community_id for row in schedules if row.kind.startswith("event-")})
    for guild_id in planned:
        known = guilds.get(guild_id)
        if known is not None and not isinstance(known, Check):
            result.append(_events(known[0], known[1]))
    return result


def _events(guild: discord.Guild, me: discord.Member) -> Check:
    """Where events are planned, the bot makes each a Guild Scheduled Event: Create Events
    (or Manage Events) in the server's settings, else members see only the announcement."""
    name = f"discord server {guild.name}: events"
    perms = me.guild_permissions
    if perms.create_events or perms.manage_events:
        return passed(name, "can create Guild Scheduled Events for the events planned here")
    return failed(
        name,
        "events are planned here, and the bot lacks Create Events: members see only the "
        'announcement, without Discord\'s event and its "Interested" button',
        f"give {me.display_name} (or one of its roles) Create Events in Server Settings > Roles",
    )


def _forum_tag(
    guild: discord.Guild, forum: discord.ForumChannel, config: DiscordConfig, ids: str
) -> list[Check]:
    """A forum that requires a tag on each post needs one named in [discord] forum_tags
    (the bot would otherwise pick the first); a named tag must be one of the forum's."""
    name = f"discord channel #{forum.name} in {guild.name}: tag"
    wanted = config.forum_tags.get(forum.id)
    tags = [t.name for t in forum.available_tags]
    choose = f'set [discord] forum_tags = {{ "{forum.id}" = "<tag>" }}, <tag> one of: ' + (
        ", ".join(tags) or "(none yet: add tags to the forum first)"
    )
    if wanted is not None:
        if wanted.casefold() in (t.casefold() for t in tags):
            return [passed(name, f"posts are tagged {wanted!r} (schedules {ids})")]
        return [
            failed(name, f"[discord] forum_tags names {wanted!r}, not a tag of this forum", choose)
        ]
    if not forum.flags.require_tag:
        return []
    detail = (
        f"the forum requires a tag on every post, and [discord] forum_tags names none "
        f"(schedules {ids})"
    )
    fallback = fallback_tag(forum)
    if fallback is not None:
        detail += f": the bot would use {fallback.name!r}"
    return [failed(name, detail, choose)]


async def _guild(
    client: discord.Client, guild_id: str
) -> tuple[discord.Guild, discord.Member, list[Any]] | Check:
    assert client.user is not None
    try:
        guild = await client.fetch_guild(int(guild_id), with_counts=False)
        me = await guild.fetch_member(client.user.id)
        channels = list(await guild.fetch_channels())
    except (discord.NotFound, discord.Forbidden) as error:
        return failed(
            f"discord server {guild_id}",
            f"the bot is not in this server any more ({error.text or error})",
            f"{INVITE}, or cancel the schedules there",
        )
    return guild, me, channels


def _channel(
    guild: discord.Guild, me: discord.Member, channels: list[Any], channel_id: int, ids: str
) -> Check:
    name = f"discord channel {channel_id} in {guild.name}"
    channel = next((c for c in channels if c.id == channel_id), None)
    if channel is None:  # Discord lists only the channels the bot can view
        return failed(
            name,
            f"the bot cannot see this channel (schedules {ids}): no View Channel, or it was "
            "deleted",
            f"give {me.display_name} View Channel there (Edit Channel > Permissions), or cancel "
            "the schedules if the channel is gone",
        )
    name = f"discord channel #{channel.name} in {guild.name}"
    if not isinstance(channel, discord.TextChannel | discord.ForumChannel):
        return failed(
            name,
            f"a {channel.type} channel: scheduled posts need a text or forum channel",
            f"cancel the schedules {ids} and schedule them in a text or forum channel",
        )
    needs = FORUM_NEEDS if isinstance(channel, discord.ForumChannel) else TEXT_NEEDS
    perms = channel.permissions_for(me)
    lacking = [label for attribute, label in needs if not getattr(perms, attribute)]
    if lacking:
        return failed(
            name,
            f"the bot lacks {', '.join(lacking)} (schedules {ids})",
            f"allow {', '.join(lacking)} for {me.display_name} (or one of its roles) in "
            f"#{channel.name} (Edit Channel > Permissions)",
        )
    return passed(name, f"can {', '.join(label for _, label in needs)} (schedules {ids})")
