"""DiscordDouble: a loopback fake of Discord's v10 API and gateway, for discord.py's client.

Strict where Discord is strict (``validation.py``); records everything the bot sends
(``records.py``). The REST handlers live in ``rest.py``, the websocket in ``gateway.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from aiohttp import web

from .commands import check_visible, command_data, find_command, focused_type
from .gateway import Gateway
from .models import (
    JSON,
    Channel,
    ChannelType,
    DefaultGuild,
    Guild,
    Intent,
    Member,
    Perm,
    Role,
    User,
    new_id,
    new_id_on_shard,
)
from .native import NativeApi, PollState, utcnow
from .records import (
    Callback,
    CommandSync,
    InteractionRecord,
    RequestError,
    SentMessage,
    ThreadRecord,
    Unhandled,
)
from .rest import RestApi
from .validation import EPHEMERAL


class DiscordDouble(RestApi, NativeApi):
    """A fake Discord on 127.0.0.1. Use as ``async with DiscordDouble() as double:``."""

    def __init__(
        self,
        *,
        token: str = "token",
        bot_name: str = "Companion",
        application_id: int | None = None,
        privileged_intents: int = Intent.PRIVILEGED,
        interaction_deadline: float = 3.0,
    ) -> None:
        self.token = token
        self.application_id = application_id or new_id()
        # Apps made since 2019 have a bot user with the application's id.
        self.bot = User(bot_name, bot=True, id=self.application_id)
        self.owner = User("app-owner")
        self.privileged_intents = privileged_intents
        self.interaction_deadline = interaction_deadline
        self.users: dict[int, User] = {self.bot.id: self.bot, self.owner.id: self.owner}
        self.guilds: list[Guild] = []
        self.dm_channels: dict[int, Channel] = {}  # by recipient id
        self.global_commands: list[JSON] = []
        self.guild_commands: dict[int, list[JSON]] = {}
        # recordings
        self.messages: list[SentMessage] = []
        self.callbacks: list[Callback] = []
        self.interactions: list[InteractionRecord] = []
        # Left with no callback past the deadline: "The application did not respond".
        self.unanswered: list[InteractionRecord] = []
        self.threads: list[ThreadRecord] = []
        self.command_syncs: list[CommandSync] = []
        self.errors: list[RequestError] = []
        self.unhandled: list[Unhandled] = []
        self.requests: list[tuple[str, str]] = []
        self.typing: list[int] = []
        self.reactions: list[tuple[int, int, str]] = []
        self.polls: dict[int, PollState] = {}  # poll messages by id
        self.scheduled_events: dict[int, JSON] = {}  # Guild Scheduled Events by id
        # Set: a new scheduled event is made, then its answer waits for this (a test kills
        # the bot in between, as a crash after Discord made it and before the bot heard).
        self.hold_event_answer: asyncio.Event | None = None
        self.event_users: dict[int, set[int]] = {}  # who is "Interested", by event id
        self.now = utcnow  # the double's clock for polls and events (tests may set theirs)
        # internals
        self.gateway = Gateway(self)
        self._store: dict[int, tuple[JSON, SentMessage | None]] = {}  # every message by id
        self._nonces: dict[str, tuple[float, SentMessage]] = {}
        self._changed = asyncio.Event()
        self._expiries: list[asyncio.TimerHandle] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/gateway/", self.gateway.handle)
        app.router.add_get("/gateway", self.gateway.handle)
        self.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        for expiry in self._expiries:
            expiry.cancel()
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordDouble:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway/"

    @contextlib.contextmanager
    def point_discord_py_here(self) -> Iterator[None]:
        """Patch discord.py's REST base and gateway URL to this double; restore them after."""
        import discord.gateway
        import discord.http
        import yarl

        saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved

    # --- state set-up -----------------------------------------------------------------

    def add_user(self, username: str, *, bot: bool = False) -> User:
        user = User(username, bot=bot)
        self.users[user.id] = user
        return user

    def add_guild(self, guild: Guild, *, bot_roles: list[Role] | None = None) -> Guild:
        """Register a guild and make the bot a member of it (with ``bot_roles``)."""
        for user in [guild.owner, *(m.user for m in guild.members)]:
            self.users.setdefault(user.id, user)
        if guild.member(self.bot.id) is None:
            guild.add_member(self.bot, bot_roles)
        self.guilds.append(guild)
        return guild

    def add_default_guild(
        self, name: str = "Test Guild", *, shard: tuple[int, int] | None = None
    ) -> DefaultGuild:
        """A guild with @everyone, Moderators (MANAGE_GUILD), a text and a forum channel.

        Members, in order: a regular member, a moderator, the owner (no roles), the bot.
        ``shard`` (shard_id, shard_count) picks an id on that shard.
        """
        owner = self.add_user("owner")
        guild = Guild(name, owner) if shard is None else Guild(name, owner, new_id_on_shard(*shard))
        moderators = guild.add_role("Moderators", Perm.MANAGE_GUILD)
        bot_role = guild.add_role(self.bot.username, Perm.BOT_DEFAULT, managed=True)
        text = guild.add_channel("general")
        forum = guild.add_channel("forum", ChannelType.GUILD_FORUM)
        member = guild.add_member(self.add_user("member"))
        moderator = guild.add_member(self.add_user("moderator"), [moderators])
        owner_member = guild.add_member(owner)
        self.add_guild(guild, bot_roles=[bot_role])
        bot = guild.member(self.bot.id)
        assert bot is not None
        return DefaultGuild(
            guild, moderators, bot_role, text, forum, member, moderator, owner_member, bot
        )

    def guild(self, guild_id: int) -> Guild | None:
        return next((g for g in self.guilds if g.id == guild_id), None)

    def guild_create_payload(self, guild: Guild, intents: int) -> JSON:
        """GUILD_CREATE as sent to this bot: without GUILD_MEMBERS only the bot's own member."""
        events = [e for e in self.scheduled_events.values() if e["guild_id"] == str(guild.id)]
        if intents & Intent.GUILD_MEMBERS:
            return guild.payload() | {"guild_scheduled_events": events}
        own = [m for m in guild.members if m.id == self.bot.id]
        return guild.payload(members=own) | {"guild_scheduled_events": events}

    def commands(self, guild: Guild | None = None) -> list[JSON]:
        """The commands registered globally, or for ``guild``."""
        return self.global_commands if guild is None else self.guild_commands.get(guild.id, [])

    # --- waiting ----------------------------------------------------------------------

    def _touch(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 2.0,  # noqa: ASYNC109
        what: str = "condition",
    ) -> None:
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    # Woken by every recorded change; polls too, for predicates on bot state.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), 0.01)
        except TimeoutError:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}; "
                f"errors={self.errors!r} unhandled={self.unhandled!r}"
            ) from None

    async def wait_ready(self, timeout: float = 2.0) -> None:  # noqa: ASYNC109
        """Until the bot has identified (READY and every GUILD_CREATE sent) or resumed."""
        await self.wait_until(
            lambda: self.gateway.current is not None and self.gateway.handshakes > 0,
            timeout,
            "the bot to identify",
        )

    async def wait_for_response(
        self,
        interaction: InteractionRecord,
        timeout: float = 2.0,  # noqa: ASYNC109
        *,
        followups: int = 0,
    ) -> InteractionRecord:
        """Until the bot answered ``interaction`` (and sent ``followups`` followups)."""
        await self.wait_until(
            lambda: interaction.callback is not None and len(interaction.followups) >= followups,
            timeout,
            f"a response to /{interaction.name}",
        )
        return interaction

    def assert_clean(self) -> None:
        """No refused request and no request to a route the double does not know."""
        assert not self.errors, f"requests refused: {self.errors!r}"
        assert not self.unhandled, f"unhandled requests: {self.unhandled!r}"
        assert not self.unanswered, (
            "interactions left unanswered past Discord's deadline (the member saw "
            f"'The application did not respond'): {[i.name for i in self.unanswered]}"
        )

    # --- gateway control --------------------------------------------------------------

    @property
    def identify_count(self) -> int:
        return self.gateway.identify_count

    @property
    def resume_count(self) -> int:
        return self.gateway.resume_count

    async def dispatch(self, event: str, data: JSON) -> int:
        """Push any gateway event; returns its sequence number."""
        return await self.gateway.dispatch(event, data)

    async def force_reconnect(
        self,
        code: int = 4000,
        *,
        wait: bool = True,
        timeout: float = 2.0,  # noqa: ASYNC109
    ) -> None:
        """Close the bot's websocket (4000 is resumable) and wait for its next handshake."""
        before = self.gateway.handshakes
        await self.gateway.close_current(code)
        if wait:
            await self.wait_until(
                lambda: self.gateway.handshakes > before, timeout, "the bot to reconnect"
            )

    async def send_reconnect(self) -> None:
        """Opcode 7: ask the bot to reconnect and resume."""
        await self.gateway.send_op(7)

    async def invalidate_session(self, resumable: bool = False) -> None:
        """Opcode 9; when not resumable the session is forgotten, so the bot must IDENTIFY."""
        await self.gateway.invalidate(resumable)

    def _wants(self, intent: int) -> bool:
        return self.gateway.wants(intent)

    async def _publish(self, event: str, message: JSON, guild: Guild | None) -> None:
        """MESSAGE_CREATE/UPDATE to the bot, if its intents ask for it."""
        if message.get("flags", 0) & EPHEMERAL:
            return
        if not self._wants(Intent.GUILD_MESSAGES if guild else Intent.DIRECT_MESSAGES):
            return
        data = dict(message)
        if guild is not None:
            data["guild_id"] = str(guild.id)
            member = guild.member(int(message["author"]["id"]))
            if member is not None:
                data["member"] = member.payload(with_user=False)
        if not self._can_read_content(data, guild):
            data |= {"content": "", "embeds": [], "attachments": [], "components": []}
        await self.dispatch(event, data)

    def _can_read_content(self, message: JSON, guild: Guild | None) -> bool:
        return (
            guild is None
            or self._wants(Intent.MESSAGE_CONTENT)
            or message["author"]["id"] == str(self.bot.id)
            or any(u["id"] == str(self.bot.id) for u in message.get("mentions", []))
        )

    # --- simulated users --------------------------------------------------------------

    def dm_channel(self, user: User) -> Channel:
        if user.id not in self.dm_channels:
            self.dm_channels[user.id] = Channel("", ChannelType.DM, recipients=[user])
        return self.dm_channels[user.id]

    async def user_message(
        self,
        channel: Channel,
        author: Member | User,
        content: str,
        *,
        reply_to: JSON | SentMessage | None = None,
        **extra: Any,
    ) -> JSON:
        """A user posts a message; dispatched as MESSAGE_CREATE when the intents allow."""
        user = author.user if isinstance(author, Member) else author
        guild = self._guild_of(channel)
        payload: JSON = {"content": content, **extra}
        if reply_to is not None:
            ref = reply_to.data if isinstance(reply_to, SentMessage) else reply_to
            payload["message_reference"] = {
                "message_id": ref["id"],
                "channel_id": ref["channel_id"],
            }
        message = self._build_message(channel, guild, payload, author=user)
        await self._publish("MESSAGE_CREATE", message, guild)
        return message

    async def interact(
        self,
        type: int,
        data: JSON | None,
        *,
        guild: Guild | None = None,
        channel: Channel | None = None,
        user: Member | User | None = None,
        dm: bool = False,
        locale: str = "en-US",
        extra: JSON | None = None,
    ) -> InteractionRecord:
        """Send an INTERACTION_CREATE of any type; :meth:`slash` and friends build on it."""
        iid, token = new_id(), f"itoken-{new_id()}"
        payload: JSON = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": type,
            "token": token,
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if data is not None:
            payload["data"] = data
        if dm:
            person = user.user if isinstance(user, Member) else user
            if person is None:
                raise ValueError("a DM interaction needs a user")
            channel = channel or self.dm_channel(person)
            payload |= {
                "user": person.payload(),
                "context": 1 if channel.type == ChannelType.DM else 2,
                "authorizing_integration_owners": {"0": "0"},
                "app_permissions": str(Perm.BOT_DEFAULT),
            }
        else:
            guild, channel, member = self._guild_target(guild, channel, user)
            bot = guild.member(self.bot.id)
            app_perms = guild.permissions_in(bot, channel) if bot else 0
            payload |= {
                "guild_id": str(guild.id),
                "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
                "guild_locale": "en-US",
                "member": member.payload()
                | {"permissions": str(guild.permissions_in(member, channel))},
                "context": 0,
                "authorizing_integration_owners": {"0": str(guild.id)},
                "app_permissions": str(app_perms),
            }
        payload |= {"channel_id": str(channel.id), "channel": channel.payload(), **(extra or {})}
        loop_time = asyncio.get_running_loop().time()
        name = data.get("name") if data else None
        record = InteractionRecord(iid, token, type, name, payload, loop_time)
        self.interactions.append(record)
        self._expiries.append(
            asyncio.get_running_loop().call_later(self.interaction_deadline, self._expire, record)
        )
        await self.dispatch("INTERACTION_CREATE", payload)
        return record

    def _expire(self, record: InteractionRecord) -> None:
        """Discord's deadline for the first response passed: unanswered, if nothing came."""
        if record.callback is None:
            self.unanswered.append(record)
            self._touch()

    async def slash(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        guild: Guild | None = None,
        channel: Channel | None = None,
        user: Member | User | None = None,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """Invoke ``/name`` (``"group sub"`` for subcommands) as a guild member would.

        Options are typed from the registered command, as Discord's client would: unknown or
        missing required options, values outside choices or limits raise ValueError, as does a
        command hidden from the member by ``default_member_permissions``.
        """
        guild, channel, member = self._guild_target(guild, channel, user)
        data = self._command(name, options or {}, None, guild, member, channel)
        return await self.interact(
            2, data, guild=guild, channel=channel, user=member, locale=locale
        )

    async def slash_dm(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: User,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """Invoke a global command in the bot's DM with ``user`` (context 1)."""
        data = self._command(name, options or {}, None, None, None, None)
        return await self.interact(2, data, user=user, dm=True, locale=locale)

    async def autocomplete(
        self,
        name: str,
        options: Mapping[str, Any],
        focused: str,
        *,
        guild: Guild | None = None,
        channel: Channel | None = None,
        user: Member | User | None = None,
        timeout: float = 2.0,  # noqa: ASYNC109
    ) -> list[JSON]:
        """Type ``options[focused]`` into an autocomplete option; returns the choices sent."""
        guild, channel, member = self._guild_target(guild, channel, user)
        data = self._command(name, options, focused, guild, member, channel)
        record = await self.interact(4, data, guild=guild, channel=channel, user=member)
        record.focused_type = focused_type(data)
        await self.wait_for_response(record, timeout)
        return record.choices

    def _guild_target(
        self, guild: Guild | None, channel: Channel | None, user: Member | User | None
    ) -> tuple[Guild, Channel, Member]:
        if guild is None:
            guild = self._guild_of(channel) if channel else None
        if guild is None:
            if len(self.guilds) != 1:
                raise ValueError(f"say which guild: the double has {len(self.guilds)}")
            guild = self.guilds[0]
        if channel is None:
            channel = next(c for c in guild.channels if c.type == ChannelType.GUILD_TEXT)
        if user is None:
            member = next(m for m in guild.members if not m.user.bot and m.id != guild.owner.id)
        else:
            found = guild.member(user.id)
            if found is None:
                raise ValueError(f"{user!r} is not a member of {guild.name}")
            member = found
        return guild, channel, member

    def _command(
        self,
        name: str,
        values: Mapping[str, Any],
        focused: str | None,
        guild: Guild | None,
        member: Member | None,
        channel: Channel | None,
    ) -> JSON:
        top = name.split()[0]
        guild_commands = self.guild_commands.get(guild.id, []) if guild else []
        cmd, _ = find_command(self.global_commands, guild_commands, top, guild)
        if guild is not None and member is not None:
            check_visible(cmd, guild, member)
        return command_data(cmd, name, values, focused=focused, guild=guild, channel=channel)
