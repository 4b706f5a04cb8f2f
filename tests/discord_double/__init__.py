"""A loopback double of Discord's v10 API for running discord.py's real client in tests.

    async with DiscordDouble() as double:
        with double.point_discord_py_here():
            default = double.add_default_guild()
            client = MyBot(guild_ready_timeout=0.01)  # on_ready otherwise waits 2 s
            task = asyncio.create_task(client.start(double.token))
            await double.wait_ready()
            reply = await double.wait_for_response(await double.slash("echo", {"text": "hi"}))
            assert reply.callback.data["content"] == "you said hi"
            await client.close()
            await task
            double.assert_clean()

Modules: ``models`` (guilds, roles, channels, members, permissions), ``validation``
(Discord's limits), ``records`` (what tests assert on), ``commands`` (typed options for
simulated invocations), ``rest`` and ``gateway`` (the two halves of the API), ``native``
(polls and Guild Scheduled Events, their rules and gateway events), ``server``.
"""

from .models import (
    REQUIRE_TAG,
    Channel,
    ChannelType,
    DefaultGuild,
    ForumTag,
    Guild,
    Intent,
    Member,
    Overwrite,
    Perm,
    Role,
    User,
    new_id,
)
from .records import (
    Callback,
    CommandSync,
    InteractionRecord,
    RequestError,
    SentMessage,
    ThreadRecord,
    Unhandled,
)
from .rest import json_response
from .server import DiscordDouble

__all__ = [
    "Callback",
    "Channel",
    "ChannelType",
    "CommandSync",
    "DefaultGuild",
    "DiscordDouble",
    "ForumTag",
    "Guild",
    "Intent",
    "InteractionRecord",
    "Member",
    "Overwrite",
    "Perm",
    "REQUIRE_TAG",
    "RequestError",
    "Role",
    "SentMessage",
    "ThreadRecord",
    "Unhandled",
    "User",
    "json_response",
    "new_id",
]
