"""The Discord adapter: slash commands in, Invocations to the core, Replies out; a ChatPort.

The commands are the core's registry rendered as data (``tree.py``) and synced in
``setup_hook``; interactions arrive through ``on_interaction`` and are routed back to their
``CommandSpec`` by name. discord.py's ``app_commands`` framework is not used: it builds
commands from decorated Python functions, while here they are declared once, as data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Iterator, Mapping
from typing import Any

import discord
import yarl
from discord import app_commands

from companion.commands import APOLOGY
from companion.config import ConfigError, Settings
from companion.events import Actor, Invocation, NativeAnswer, Place
from companion.gateway import Gateway
from companion_adapters.discord.config import TOKEN_VARIABLE, DiscordConfig, token
from companion_adapters.discord.moderators import ModeratorLookup, moderates
from companion_adapters.discord.port import NO_MENTIONS, PLATFORM, DiscordPort
from companion_adapters.discord.render import (
    split_message,
    to_discord,
)
from companion_adapters.discord.tree import (
    RenderedTree,
    Route,
    RouteKey,
    render_tree,
)

log = logging.getLogger(__name__)

DEFER_AFTER = 2.0  # seconds: defer a reply that is not ready by then (Discord waits 3 s)
MAX_CHOICE = 100
STALE = "I don't know that command any more; Discord may still be updating the list."
ANSWERED_PRIVATELY = "I answered you privately."
SUBCOMMAND_TYPES = (1, 2)


class CompanionClient(discord.Client):
    """discord.py's client, with only what a slash-command bot needs from the gateway."""

    def __init__(self, adapter: DiscordAdapter, **options: Any) -> None:
        # No voice here: spare the log the warnings about voice libraries not installed.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        intents = discord.Intents.none()
        intents.guilds = True  # channels (text or forum) and roles, for threads and moderators
        intents.guild_polls = True  # votes in the bot's native polls (MESSAGE_POLL_VOTE_*)
        intents.guild_scheduled_events = True  # "Interested" in its Guild Scheduled Events
        options.setdefault("allowed_mentions", NO_MENTIONS)
        options.setdefault("member_cache_flags", discord.MemberCacheFlags.none())
        options.setdefault("chunk_guilds_at_startup", False)
        options.setdefault("max_messages", None)
        super().__init__(intents=intents, **options)
        self.adapter = adapter
        # discord.py dispatches "Interested" only for a member already in its cache, which
        # a bot without the members intent does not keep: read the raw events, then let
        # discord.py parse them as ever.
        parsers = self._connection.parsers
        for name, add in (
            ("GUILD_SCHEDULED_EVENT_USER_ADD", True),
            ("GUILD_SCHEDULED_EVENT_USER_REMOVE", False),
        ):
            parse = parsers[name]

            def raw(data: Any, parse: Any = parse, add: bool = add) -> None:
                self.dispatch("raw_scheduled_event_interest", dict(data), add)
                parse(data)

            parsers[name] = raw

    async def setup_hook(self) -> None:
        await self.adapter.setup()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.adapter.on_interaction(interaction)

    async def on_raw_poll_vote_add(self, payload: discord.RawPollVoteActionEvent) -> None:
        await self.adapter.on_poll_vote(payload, add=True)

    async def on_raw_poll_vote_remove(self, payload: discord.RawPollVoteActionEvent) -> None:
        await self.adapter.on_poll_vote(payload, add=False)

    async def on_raw_scheduled_event_interest(self, data: dict[str, Any], add: bool) -> None:
        await self.adapter.on_interest(data, add=add)

    def gateway_open(self) -> bool:
        ws = self.ws
        return ws is not None and ws.open


class ShardedCompanionClient(CompanionClient, discord.AutoShardedClient):
    """The same client running some of the bot's shards (``shard_ids`` of ``shard_count``):
    Discord sends it only the events of those shards' guilds."""

    def gateway_open(self) -> bool:
        shards = self.shards.values()
        return bool(shards) and not any(shard.is_closed() for shard in shards)


def make_client(adapter: DiscordAdapter, config: DiscordConfig, **options: Any) -> CompanionClient:
    if config.shard_count is None:
        return CompanionClient(adapter, **options)
    options.setdefault("shard_count", config.shard_count)
    options.setdefault("shard_ids", config.shard_ids)  # None: every shard
    return ShardedCompanionClient(adapter, **options)


class DiscordAdapter:
    """One bot connection serving the core through its gateway; its port is the scheduler's
    way into Discord."""

    def __init__(self, gateway: Gateway, config: DiscordConfig, **client_options: Any) -> None:
        self.gateway = gateway
        self.config = config
        self.tree: RenderedTree = render_tree(
            gateway.commands, global_scope=config.test_guild_id is None
        )
        self.routes: Mapping[RouteKey, Route] = self.tree.routes
        self.client = make_client(self, config, **client_options)
        self.moderators = ModeratorLookup(self.client, config.moderator_role_ids, gateway.clock)
        self.port = DiscordPort(self.client, self.moderators, config.forum_tags)
        gateway.health.probe(self._report_health)

    def _report_health(self) -> None:
        """Read at each scrape: connected, and the gateway heartbeat's round trip."""
        latency = self.client.latency
        if self.client.is_ready() and not self.client.is_closed() and self.client.gateway_open():
            self.gateway.health.heartbeat(PLATFORM, latency if math.isfinite(latency) else None)
        else:
            self.gateway.health.adapter_up(PLATFORM, False)

    # --- lifecycle ----------------------------------------------------------------------

    async def serve(self, bot_token: str) -> None:
        """Log in (a rejected token is a ConfigError), serve until cancelled, then close."""
        with endpoints(self.config.api_base, self.config.gateway_url):
            try:
                try:
                    await self.client.login(bot_token)
                except discord.LoginFailure:
                    raise ConfigError(
                        f"Discord rejected the bot token in {TOKEN_VARIABLE} (401 Unauthorized): "
                        "copy a fresh one from the developer portal (Bot > Reset Token)."
                    ) from None
                await self.client.connect(reconnect=True)
            finally:
                self.gateway.detach(PLATFORM, self.port)
                await self.client.close()

    async def setup(self) -> None:
        """Once per login (never on reconnects): sync the commands, then offer the ChatPort."""
        await self.sync_commands()
        # The scheduler starts with the first port attached (never a second loop).
        await self.gateway.attach(PLATFORM, self.port, shards=self.config.serving_shards)

    async def sync_commands(self) -> None:
        http = self.client.http
        app_id = self.client.application_id
        assert app_id is not None, "setup_hook runs after login, which sets the application id"
        guild_id = self.config.test_guild_id
        if guild_id is None:
            await http.bulk_upsert_global_commands(app_id, self.tree.commands)
            log.info("synced %d global commands", len(self.tree.commands))
            return
        try:
            await http.bulk_upsert_guild_commands(app_id, guild_id, self.tree.commands)
        except discord.Forbidden:
            raise ConfigError(
                f"[discord] test_guild_id {guild_id}: the bot cannot register commands there "
                "(is it in that guild, invited with the applications.commands scope?)."
            ) from None
        log.info("synced %d commands to guild %d", len(self.tree.commands), guild_id)

    # --- the platform's own answers: poll votes, "Interested" ----------------------------

    async def on_poll_vote(self, payload: discord.RawPollVoteActionEvent, *, add: bool) -> None:
        """A vote in a native poll (or its removal) counts like `/vote`."""
        if payload.guild_id is None:
            return
        answer = NativeAnswer(
            PLATFORM,
            str(payload.guild_id),
            str(payload.message_id),
            str(payload.user_id),
            payload.answer_id if add else None,
            was=None if add else payload.answer_id,
        )
        await self._native(answer)

    async def on_interest(self, data: Mapping[str, Any], *, add: bool) -> None:
        """ "Interested" in a scheduled event is a yes; taking it back takes back a yes."""
        try:
            guild, event, user = (
                str(int(data[k])) for k in ("guild_id", "guild_scheduled_event_id", "user_id")
            )
        except (KeyError, TypeError, ValueError):
            return
        answer = NativeAnswer(
            PLATFORM, guild, event, user, "yes" if add else None, was=None if add else "yes"
        )
        await self._native(answer)

    async def _native(self, answer: NativeAnswer) -> None:
        try:
            await self.gateway.native_answer(answer)
        except Exception:  # one answer's failure must not reach discord.py's loop
            log.exception("could not count an answer in guild %s", answer.community_id)

    # --- interactions -------------------------------------------------------------------

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        try:
            if interaction.type is discord.InteractionType.application_command:
                await self._command(interaction)
            elif interaction.type is discord.InteractionType.autocomplete:
                await self._autocomplete(interaction)
        except Exception:
            log.exception("interaction %s (%s) failed", interaction.id, _name(interaction))
            if interaction.type is discord.InteractionType.application_command:
                with contextlib.suppress(discord.HTTPException):
                    await self._say(interaction, [APOLOGY], ephemeral=True)

    def _target(
        self, interaction: discord.Interaction
    ) -> tuple[Route, dict[str, object], str | None] | None:
        """The route, the option values and the focused option (autocomplete) of a command."""
        data: Mapping[str, Any] = interaction.data or {}
        options = data.get("options") or []
        sub = None
        if options and options[0].get("type") in SUBCOMMAND_TYPES:
            sub = options[0]["name"]
            options = options[0].get("options") or []
        route = self.routes.get((data.get("name", ""), sub))
        if route is None:
            return None
        args: dict[str, object] = {}
        focused = None
        for option in options:
            if "value" in option:
                args[option["name"]] = option["value"]
                if option.get("focused"):
                    focused = option["name"]
        return route, args, focused

    def _actor(self, interaction: discord.Interaction) -> Actor:
        user = interaction.user
        return Actor(str(user.id), user.display_name, self._is_moderator(interaction))

    def _is_moderator(self, interaction: discord.Interaction) -> bool:
        """From the member's guild-level power (``moderators.moderates``), never from
        ``interaction.permissions``, which are resolved in the channel."""
        user, guild = interaction.user, interaction.guild
        if guild is None or not isinstance(user, discord.Member):
            return False  # a DM, or a guild the bot has no roles for: nobody moderates
        return moderates(guild, user, self.config.moderator_role_ids)

    @staticmethod
    def _place(interaction: discord.Interaction) -> Place:
        channel = interaction.channel
        channel_id = interaction.channel_id or 0
        if interaction.guild_id is None:
            return Place(PLATFORM, f"dm:{interaction.user.id}", str(channel_id))
        community = str(interaction.guild_id)
        if isinstance(channel, discord.Thread) and channel.parent_id:
            return Place(PLATFORM, community, str(channel.parent_id), str(channel.id))
        return Place(PLATFORM, community, str(channel_id))

    async def _command(self, interaction: discord.Interaction) -> None:
        target = self._target(interaction)
        if target is None:
            await self._say(interaction, [STALE], ephemeral=True)
            return
        route, args, _ = target
        spec = route.spec
        inv = Invocation(
            spec.name,
            args,
            self._actor(interaction),
            self._place(interaction),
            self.gateway.clock.now(),
        )
        response = interaction.response
        if spec.slow:
            await response.defer(ephemeral=spec.private, thinking=True)
            reply = await self.gateway.dispatch(inv)
        else:
            # Answer directly when the core is quick (always, so far); defer if it is not.
            loop = asyncio.get_running_loop()
            late: list[asyncio.Task[Any]] = []
            timer = loop.call_later(
                DEFER_AFTER,
                lambda: late.append(
                    loop.create_task(response.defer(ephemeral=spec.private, thinking=True))
                ),
            )
            try:
                reply = await self.gateway.dispatch(inv)
            finally:
                timer.cancel()
            if late:
                await late[0]
        if reply is None:  # over the flood limit, and told so already
            if response.is_done():  # deferred: take the "thinking..." away
                await interaction.delete_original_response()
                return
            # Discord shows "The application did not respond" to an interaction left
            # unanswered for 3 s: one private line instead.
            reply = self.gateway.held_back(inv.actor, inv.place)
        chunks = split_message(to_discord(reply.text))
        await self._say(interaction, chunks, reply.private, deferred_private=spec.private)

    async def _say(
        self,
        interaction: discord.Interaction,
        chunks: list[str],
        ephemeral: bool,
        *,
        deferred_private: bool = True,
    ) -> None:
        """The first chunk as the response, the rest as followups. After a defer, the first
        followup replaces "thinking..." and keeps the defer's visibility, so a private reply
        after a public defer first turns that message into a note, then goes out privately."""
        response = interaction.response
        rest = chunks
        if not response.is_done():
            await response.send_message(
                chunks[0], ephemeral=ephemeral, allowed_mentions=NO_MENTIONS, suppress_embeds=True
            )
            rest = chunks[1:]
        elif ephemeral and not deferred_private:
            await interaction.edit_original_response(
                content=ANSWERED_PRIVATELY, allowed_mentions=NO_MENTIONS
            )
        for chunk in rest:
            await interaction.followup.send(
                chunk, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS, suppress_embeds=True
            )

    async def _autocomplete(self, interaction: discord.Interaction) -> None:
        target = self._target(interaction)
        focused = target[2] if target is not None else None
        if target is None or focused is None:
            await interaction.response.autocomplete([])
            return
        route, args, _ = target
        partial = str(args.pop(focused, ""))
        inv = Invocation(
            route.spec.name,
            args,
            self._actor(interaction),
            self._place(interaction),
            self.gateway.clock.now(),
        )
        values = await self.gateway.complete(inv, focused, partial)
        choices: list[app_commands.Choice[Any]] = []
        integer = focused in route.integer_params
        for value in values:
            text = str(value)
            if not 0 < len(text) <= MAX_CHOICE:
                continue
            if integer:
                try:
                    choices.append(app_commands.Choice(name=text, value=int(text)))
                except ValueError:
                    continue
            else:
                choices.append(app_commands.Choice(name=text, value=text))
        await interaction.response.autocomplete(choices[:25])


@contextlib.contextmanager
def endpoints(api_base: str | None, gateway_url: str | None) -> Iterator[None]:
    """Point discord.py at a Discord-compatible server (its URLs are class attributes)."""
    http_route, websocket = discord.http.Route, discord.gateway.DiscordWebSocket
    saved = http_route.BASE, websocket.DEFAULT_GATEWAY
    if api_base:
        http_route.BASE = api_base
    if gateway_url:
        websocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        http_route.BASE, websocket.DEFAULT_GATEWAY = saved


def _name(interaction: discord.Interaction) -> str:
    data: Mapping[str, Any] = interaction.data or {}
    return str(data.get("name", "?"))


async def run(gateway: Gateway, settings: Settings, **client_options: Any) -> None:
    """Serve the core on Discord until cancelled. Bad settings or token: ConfigError, early."""
    config = DiscordConfig.from_settings(settings)
    bot_token = token()
    adapter = DiscordAdapter(gateway, config, **client_options)
    await adapter.serve(bot_token)
