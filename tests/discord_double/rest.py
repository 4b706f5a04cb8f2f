"""The REST half of the double: the v10 routes a slash-command bot uses, strict as Discord.

Every refusal is recorded in ``errors``; a request to any other route gets a JSON 404 and is
recorded in ``unhandled``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .models import (
    JSON,
    MAX_APPLIED_TAGS,
    REQUIRE_TAG,
    Channel,
    ChannelType,
    Guild,
    Intent,
    Perm,
    User,
    new_id,
    now_iso,
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
from .validation import (
    EPHEMERAL,
    FormErrors,
    check_length,
    validate_autocomplete,
    validate_commands,
    validate_message,
    validate_modal,
)

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Failure = tuple[int, JSON]

NONCE_WINDOW = 300.0  # seconds during which enforce_nonce deduplicates
FOLLOWUP_WINDOW = 15 * 60.0
ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
LOADING = 128  # message flag of a deferred response's "thinking..." message
# Interaction type -> callback types Discord accepts for it
CALLBACK_TYPES = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}
# Application flags for granted privileged intents (GATEWAY_*_LIMITED)
INTENT_APP_FLAGS = {
    Intent.GUILD_PRESENCES: 1 << 13,
    Intent.GUILD_MEMBERS: 1 << 15,
    Intent.MESSAGE_CONTENT: 1 << 19,
}


def json_response(data: Any, status: int = 200) -> web.Response:
    """``Content-Type`` exactly ``application/json``: discord.py ignores bodies with a charset."""
    return web.Response(
        status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
    )


def error(code: int, message: str) -> JSON:
    return {"code": code, "message": message}


UNKNOWN_GUILD = (404, error(10004, "Unknown Guild"))
UNKNOWN_MEMBER = (404, error(10007, "Unknown Member"))
UNKNOWN_CHANNEL = (404, error(10003, "Unknown Channel"))
UNKNOWN_MESSAGE = (404, error(10008, "Unknown Message"))
UNKNOWN_WEBHOOK = (404, error(10015, "Unknown Webhook"))
UNKNOWN_INTERACTION = (404, error(10062, "Unknown interaction"))
MISSING_ACCESS = (403, error(50001, "Missing Access"))
MISSING_PERMISSIONS = (403, error(50013, "Missing Permissions"))


class Refused(Exception):
    """Raised inside a handler to answer with a Discord error (recorded in ``errors``)."""

    def __init__(self, failure: Failure, payload: Any = None) -> None:
        super().__init__(failure)
        self.status, self.body = failure
        self.payload = payload


class RestApi:
    """REST handlers, mixed into :class:`~tests.discord_double.server.DiscordDouble`."""

    # State the handlers share with DiscordDouble (set in its __init__).
    token: str
    application_id: int
    bot: User
    owner: User
    port: int
    privileged_intents: int
    users: dict[int, User]
    guilds: list[Guild]
    dm_channels: dict[int, Channel]
    global_commands: list[JSON]
    guild_commands: dict[int, list[JSON]]
    interaction_deadline: float
    messages: list[SentMessage]
    callbacks: list[Callback]
    interactions: list[InteractionRecord]
    threads: list[ThreadRecord]
    command_syncs: list[CommandSync]
    errors: list[RequestError]
    unhandled: list[Unhandled]
    requests: list[tuple[str, str]]
    typing: list[int]
    reactions: list[tuple[int, int, str]]
    _store: dict[int, tuple[JSON, SentMessage | None]]
    _nonces: dict[str, tuple[float, SentMessage]]

    # Provided by DiscordDouble.
    _touch: Callable[[], None]
    _wants: Callable[[int], bool]
    guild: Callable[[int], Guild | None]
    commands: Callable[[Guild | None], list[JSON]]
    dm_channel: Callable[[User], Channel]
    dispatch: Callable[[str, JSON], Awaitable[int]]
    _publish: Callable[[str, JSON, Guild | None], Awaitable[None]]
    native_routes: Callable[[], list[tuple[str, str, Any]]]
    start_poll: Callable[[JSON, int | None, JSON], None]

    @property
    def application_flags(self) -> int:
        """The GATEWAY_*_LIMITED flags of the privileged intents the app was granted."""
        return sum(
            flag for intent, flag in INTENT_APP_FLAGS.items() if self.privileged_intents & intent
        )

    def add_routes(self, app: web.Application) -> None:
        api = "/api/v10"
        for method, path, handler in [
            ("GET", "/users/@me", self._get_me),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/gateway", self._get_gateway),
            ("GET", "/gateway/bot", self._get_gateway),
            ("GET", "/applications/{app}/commands", self._get_commands),
            ("PUT", "/applications/{app}/commands", self._put_commands),
            ("GET", "/applications/{app}/guilds/{guild}/commands", self._get_commands),
            ("PUT", "/applications/{app}/guilds/{guild}/commands", self._put_commands),
            ("POST", "/interactions/{id}/{token}/callback", self._callback),
            ("POST", "/webhooks/{app}/{token}", self._followup),
            ("GET", "/webhooks/{app}/{token}/messages/{mid}", self._webhook_message),
            ("PATCH", "/webhooks/{app}/{token}/messages/{mid}", self._webhook_message),
            ("DELETE", "/webhooks/{app}/{token}/messages/{mid}", self._webhook_message),
            ("GET", "/guilds/{guild}", self._get_guild),
            ("GET", "/guilds/{guild}/channels", self._get_guild_channels),
            ("GET", "/guilds/{guild}/members/{user}", self._get_member),
            ("GET", "/channels/{cid}", self._get_channel),
            ("POST", "/channels/{cid}/messages", self._post_message),
            ("GET", "/channels/{cid}/messages/{mid}", self._channel_message),
            ("PATCH", "/channels/{cid}/messages/{mid}", self._channel_message),
            ("DELETE", "/channels/{cid}/messages/{mid}", self._channel_message),
            ("POST", "/channels/{cid}/messages/{mid}/threads", self._thread_from_message),
            ("POST", "/channels/{cid}/threads", self._post_thread),
            ("POST", "/channels/{cid}/typing", self._typing),
            ("PUT", "/channels/{cid}/messages/{mid}/reactions/{emoji}/@me", self._react),
            ("POST", "/users/@me/channels", self._open_dm),
            *self.native_routes(),
        ]:
            app.router.add_route(method, api + path, handler)

    # --- HTTP plumbing ----------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if request.match_info.http_exception is not None:
            body = await request.text() if request.can_read_body else ""
            self.unhandled.append(Unhandled(request.method, path, body))
            log.warning("discord double: unhandled %s %s", request.method, path)
            self._touch()
            return json_response(error(0, "404: Not Found"), 404)
        if path.startswith("/gateway"):
            return await handler(request)
        self.requests.append((request.method, path))
        tokenless = path.startswith(("/api/v10/interactions/", "/api/v10/webhooks/"))
        if not tokenless and request.headers.get("Authorization") != f"Bot {self.token}":
            return self._refuse(request, (401, error(0, "401: Unauthorized")))
        try:
            return await handler(request)
        except Refused as refused:
            return self._refuse(request, (refused.status, refused.body), refused)
        except Exception as exc:  # a bug in the double: fail fast, never 5xx (discord.py retries)
            log.exception("discord double failed on %s %s", request.method, path)
            return self._refuse(request, (400, error(0, f"discord double bug: {exc!r}")))
        finally:
            self._touch()

    def _refuse(
        self, request: web.Request, failure: Failure, exc: Refused | None = None
    ) -> web.Response:
        status, body = failure
        payload = exc.payload if exc is not None else None
        self.errors.append(RequestError(request.method, request.path, status, body, payload))
        return json_response(body, status)

    async def _body(self, request: web.Request) -> tuple[Any, list[str]]:
        """The JSON body, or for multipart the ``payload_json`` part plus the file names."""
        if request.content_type == "multipart/form-data":
            payload, files = None, []
            reader = await request.multipart()
            async for part in reader:
                if getattr(part, "name", None) == "payload_json":
                    payload = json.loads(await part.text())  # type: ignore[union-attr]
                elif getattr(part, "filename", None):
                    files.append(str(part.filename))  # type: ignore[union-attr]
                    await part.read()  # type: ignore[union-attr]
            return payload or {}, files
        text = await request.text()
        if not text:
            return {}, []
        try:
            return json.loads(text), []
        except ValueError:
            raise Refused((400, error(50109, "The request body contains invalid JSON."))) from None

    # --- REST: identity and commands ----------------------------------------------------

    async def _get_me(self, request: web.Request) -> web.Response:
        me = self.bot.payload() | {"verified": True, "mfa_enabled": False, "flags": 0}
        return json_response(me)

    async def _get_application(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "id": str(self.application_id),
                "name": self.bot.username,
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": self.owner.payload(),
                "flags": self.application_flags,
                "bot": self.bot.payload(),
                "interactions_endpoint_url": None,
                "summary": "",
                "team": None,
            }
        )

    async def _get_gateway(self, request: web.Request) -> web.Response:
        data: JSON = {"url": f"ws://127.0.0.1:{self.port}/gateway"}
        if request.path.endswith("/bot"):
            limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
            data |= {"shards": 1, "session_start_limit": limit}
        return json_response(data)

    def _command_scope(self, request: web.Request) -> Guild | None:
        if request.match_info["app"] != str(self.application_id):
            raise Refused((403, error(50001, "Missing Access")))
        if "guild" not in request.match_info:
            return None
        guild = self.guild(int(request.match_info["guild"]))
        if guild is None or guild.member(self.bot.id) is None:
            raise Refused(MISSING_ACCESS)
        return guild

    async def _get_commands(self, request: web.Request) -> web.Response:
        return json_response(self.commands(self._command_scope(request)))

    async def _put_commands(self, request: web.Request) -> web.Response:
        guild = self._command_scope(request)
        payload, _ = await self._body(request)
        guild_id = guild.id if guild else None
        errors = validate_commands(payload)
        if errors:
            self.command_syncs.append(CommandSync(guild_id, payload, False, errors.body()))
            raise Refused((400, errors.body()), payload)
        old = {(c.get("type", 1), c["name"]): c["id"] for c in self.commands(guild)}
        stored = []
        for command in payload:
            kind = command.get("type", 1)
            item = {
                "type": kind,
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "nsfw": False,
                "contexts": None,
                "integration_types": [0],
                **command,
                "id": old.get((kind, command["name"])) or str(new_id()),
                "application_id": str(self.application_id),
                "version": str(new_id()),
            }
            if item["default_member_permissions"] is not None:
                item["default_member_permissions"] = str(item["default_member_permissions"])
            if guild is not None:
                item["guild_id"] = str(guild.id)
            stored.append(item)
        if guild is None:
            self.global_commands = stored
        else:
            self.guild_commands[guild.id] = stored
        self.command_syncs.append(CommandSync(guild_id, payload, True, stored))
        return json_response(stored)

    # --- REST: interactions -----------------------------------------------------------

    def _interaction(self, interaction_id: str, token: str) -> InteractionRecord:
        record = next((i for i in self.interactions if str(i.id) == interaction_id), None)
        if record is None or record.token != token:
            raise Refused(UNKNOWN_INTERACTION)
        return record

    async def _callback(self, request: web.Request) -> web.StreamResponse:
        record = self._interaction(request.match_info["id"], request.match_info["token"])
        payload, files = await self._body(request)
        age = asyncio.get_running_loop().time() - record.created_at
        if age > self.interaction_deadline:
            raise Refused(UNKNOWN_INTERACTION)
        if record.callback is not None:
            raise Refused((400, error(40060, "Interaction has already been acknowledged.")))
        kind, data = payload.get("type"), payload.get("data") or {}
        if kind not in CALLBACK_TYPES.get(record.type, set()):
            errors = FormErrors()
            errors.add(("type",), "INTERACTION_CALLBACK_TYPE_INVALID", "Invalid callback type")
            raise Refused((400, errors.body()))
        if kind == 4:
            failure = validate_message(data, files=len(files), interaction=True)
            if failure:
                raise Refused(failure)
        if kind == 8:
            self._check(validate_autocomplete(data, record.focused_type or 3))
        if kind == 9:
            self._check(validate_modal(data))
        if kind in (4, 5):
            body = dict(data) if kind == 4 else {"content": "", "flags": data.get("flags", 0)}
            if kind == 5:
                body["flags"] = (body["flags"] or 0) | LOADING
            record.original = await self._create(
                record, body, files, "interaction", msg_type=20 if record.type == 2 else 0
            )
        record.callback = Callback(record.id, kind, data, payload)
        self.callbacks.append(record.callback)
        if request.query.get("with_response") not in ("1", "true", "True"):
            return web.Response(status=204)
        response: JSON = {
            "interaction": {
                "id": str(record.id),
                "type": record.type,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool((data.get("flags") or 0) & EPHEMERAL),
            },
            "resource": {"type": kind},
        }
        if record.original is not None:
            response["interaction"]["response_message_id"] = str(record.original.id)
            response["resource"]["message"] = record.original.data
        return json_response(response)

    def _check(self, errors: FormErrors) -> None:
        if errors:
            raise Refused((400, errors.body()))

    def _webhook(self, request: web.Request) -> InteractionRecord:
        token = request.match_info["token"]
        record = next((i for i in self.interactions if i.token == token), None)
        loop_time = asyncio.get_running_loop().time()
        if (
            request.match_info["app"] != str(self.application_id)
            or record is None
            or record.callback is None
            or loop_time - record.created_at > FOLLOWUP_WINDOW
        ):
            raise Refused(UNKNOWN_WEBHOOK)
        return record

    async def _followup(self, request: web.Request) -> web.StreamResponse:
        record = self._webhook(request)
        payload, files = await self._body(request)
        failure = validate_message(payload, files=len(files), interaction=True)
        if failure:
            raise Refused(failure)
        original = record.original
        if original is not None and original.flags & LOADING:
            # The first followup after a defer replaces the "thinking..." message.
            await self._edit(original, payload, files, keep_flags=original.flags & EPHEMERAL)
            message = original
        else:
            message = await self._create(record, payload, files, "followup")
        record.followups.append(message)
        if request.query.get("wait") in ("false", "0", "False"):
            return web.Response(status=204)
        return json_response(message.data)

    async def _webhook_message(self, request: web.Request) -> web.StreamResponse:
        record = self._webhook(request)
        mid = request.match_info["mid"]
        if mid == "@original":
            message = record.original
        else:
            message = next((m for m in record.followups if str(m.id) == mid), None)
        if message is None or message.deleted:
            raise Refused(UNKNOWN_MESSAGE)
        if request.method == "DELETE":
            await self._delete(message)
            return web.Response(status=204)
        if request.method == "PATCH":
            payload, files = await self._body(request)
            failure = validate_message(payload, files=len(files), create=False, interaction=True)
            if failure:
                raise Refused(failure)
            await self._edit(message, payload, files, keep_flags=message.flags & EPHEMERAL)
        return json_response(message.data)

    # --- REST: guilds -------------------------------------------------------------------

    def _bots_guild(self, request: web.Request) -> Guild:
        """The route's guild, if the bot is in it (Discord answers Unknown Guild otherwise)."""
        guild_id = request.match_info["guild"]
        guild = self.guild(int(guild_id)) if guild_id.isdigit() else None
        if guild is None or guild.member(self.bot.id) is None:
            raise Refused(UNKNOWN_GUILD)
        return guild

    async def _get_guild(self, request: web.Request) -> web.Response:
        """The guild object as REST has it: roles, no channels, members or threads."""
        guild = self._bots_guild(request)
        gateway_only = {"channels", "threads", "members", "presences", "voice_states"}
        gateway_only |= {"joined_at", "large", "member_count", "unavailable"}
        gateway_only |= {"stage_instances", "guild_scheduled_events", "soundboard_sounds"}
        data = {k: v for k, v in guild.payload().items() if k not in gateway_only}
        if request.query.get("with_counts") in ("1", "true"):
            data |= {"approximate_member_count": len(guild.members)}
            data |= {"approximate_presence_count": 0}
        return json_response(data)

    async def _get_guild_channels(self, request: web.Request) -> web.Response:
        """The guild's channels the bot can view (Discord omits the others), no threads."""
        guild = self._bots_guild(request)
        bot = guild.member(self.bot.id)
        assert bot is not None
        visible = [c for c in guild.channels if guild.permissions_in(bot, c) & Perm.VIEW_CHANNEL]
        return json_response([c.payload() for c in visible])

    async def _get_member(self, request: web.Request) -> web.Response:
        guild = self._bots_guild(request)
        user_id = request.match_info["user"]
        member = guild.member(int(user_id)) if user_id.isdigit() else None
        if member is None:
            raise Refused(UNKNOWN_MEMBER)
        return json_response(member.payload())

    # --- REST: channels, messages and threads -----------------------------------------

    def find_channel(self, channel_id: int | str) -> Channel | None:
        """A guild channel, thread or DM channel by id."""
        for guild in self.guilds:
            if (channel := guild.channel(int(channel_id))) is not None:
                return channel
        return next((c for c in self.dm_channels.values() if c.id == int(channel_id)), None)

    def _guild_of(self, channel: Channel | None) -> Guild | None:
        if channel is None or channel.guild_id is None:
            return None
        return self.guild(channel.guild_id)

    def _channel(self, request: web.Request, needed: int = Perm.VIEW_CHANNEL) -> Channel:
        """The channel of the route, if the bot has the ``needed`` permissions there."""
        channel = self.find_channel(request.match_info["cid"])
        if channel is None:
            raise Refused(UNKNOWN_CHANNEL)
        guild = self._guild_of(channel)
        if guild is not None:
            bot = guild.member(self.bot.id)
            perms = guild.permissions_in(bot, channel) if bot else 0
            if not perms & Perm.VIEW_CHANNEL:
                raise Refused(MISSING_ACCESS)
            if needed & ~perms:
                raise Refused(MISSING_PERMISSIONS)
        return channel

    def _message(self, channel: Channel, mid: str) -> tuple[JSON, SentMessage | None]:
        found = self._store.get(int(mid)) if mid.isdigit() else None
        if found is None or found[0]["channel_id"] != str(channel.id):
            raise Refused(UNKNOWN_MESSAGE)
        return found

    async def _get_channel(self, request: web.Request) -> web.Response:
        return json_response(self._channel(request).payload())

    async def _post_message(self, request: web.Request) -> web.Response:
        payload, files = await self._body(request)
        peek = self._channel(request)
        if peek.type == ChannelType.GUILD_FORUM:
            raise Refused((400, error(50008, "Cannot send messages in a non-text channel")))
        needed = Perm.SEND_MESSAGES_IN_THREADS if peek.is_thread else Perm.SEND_MESSAGES
        channel = self._channel(request, needed | (Perm.ATTACH_FILES if files else 0))
        failure = validate_message(payload, files=len(files))
        if failure:
            raise Refused(failure)
        nonce = payload.get("nonce")
        now = time.monotonic()
        if payload.get("enforce_nonce") and nonce is not None:
            seen = self._nonces.get(str(nonce))
            if seen is not None and now - seen[0] < NONCE_WINDOW:
                return json_response(seen[1].data)
        message = await self._create(channel, payload, files, "channel")
        if nonce is not None:
            self._nonces[str(nonce)] = (now, message)
        return json_response(message.data)

    async def _channel_message(self, request: web.Request) -> web.StreamResponse:
        needed = Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY
        channel = self._channel(request, needed if request.method == "GET" else Perm.VIEW_CHANNEL)
        data, sent = self._message(channel, request.match_info["mid"])
        mine = data["author"]["id"] == str(self.bot.id)
        if request.method == "GET":
            return json_response(data)
        if request.method == "DELETE":
            if not mine:
                self._channel(request, Perm.MANAGE_MESSAGES)
            await self._delete(sent or data)
            return web.Response(status=204)
        if sent is None or not mine:
            raise Refused((403, error(50005, "Cannot edit a message authored by another user")))
        payload, files = await self._body(request)
        failure = validate_message(payload, files=len(files), create=False)
        if failure:
            raise Refused(failure)
        await self._edit(sent, payload, files)
        return json_response(sent.data)

    def _thread_name(self, payload: JSON) -> str:
        errors = FormErrors()
        check_length(errors, ("name",), payload.get("name"), 1, 100)
        duration = payload.get("auto_archive_duration")
        if duration is not None and duration not in ARCHIVE_DURATIONS:
            errors.add(("auto_archive_duration",), "BASE_TYPE_CHOICES", "Invalid duration")
        self._check(errors)
        return str(payload["name"])

    async def _new_thread(
        self, parent: Channel, payload: JSON, source: str, *, thread_id: int | None = None
    ) -> ThreadRecord:
        thread = Channel(
            self._thread_name(payload),
            payload.get("type") or ChannelType.PUBLIC_THREAD,
            id=thread_id or new_id(),
            guild_id=parent.guild_id,
            parent_id=parent.id,
            owner_id=self.bot.id,
            auto_archive_duration=payload.get("auto_archive_duration") or 1440,
            applied_tags=list(payload.get("applied_tags") or []),
        )
        guild = self._guild_of(parent)
        assert guild is not None
        guild.threads.append(thread)
        record = ThreadRecord(thread, source, payload)
        self.threads.append(record)
        if self._wants(Intent.GUILDS):
            await self.dispatch("THREAD_CREATE", thread.payload() | {"newly_created": True})
        return record

    def _forum_tags(self, forum: Channel, applied: Any) -> None:
        """A forum post's ``applied_tags``: ids of the forum's tags, at most 5, and at least
        one where the forum has the REQUIRE_TAG flag."""
        if applied is not None and not isinstance(applied, list):
            errors = FormErrors()
            errors.add(("applied_tags",), "BASE_TYPE_LIST", "Must be a list.")
            raise Refused((400, errors.body()))
        applied = applied or []
        if not applied and forum.flags & REQUIRE_TAG:
            raise Refused(
                (400, error(40067, "A tag is required to create a forum post in this channel"))
            )
        known = {str(t.id) for t in forum.available_tags}
        errors = FormErrors()
        if len(applied) > MAX_APPLIED_TAGS:
            errors.add(("applied_tags",), "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
        for i, tag in enumerate(applied):
            if str(tag) not in known:
                errors.add(("applied_tags", str(i)), "TAG_INVALID", "Tag is not valid.")
        self._check(errors)

    async def _thread_from_message(self, request: web.Request) -> web.Response:
        payload, _ = await self._body(request)
        channel = self._channel(request, Perm.CREATE_PUBLIC_THREADS)
        if channel.type != ChannelType.GUILD_TEXT:
            raise Refused((400, error(50024, "Cannot execute action on this channel type")))
        data, _ = self._message(channel, request.match_info["mid"])
        if any(t.channel.id == int(data["id"]) for t in self.threads):
            raise Refused(
                (400, error(160004, "A thread has already been created for this message"))
            )
        # A thread started from a message has the message's id.
        payload = {k: v for k, v in payload.items() if k != "type"}
        record = await self._new_thread(channel, payload, "message", thread_id=int(data["id"]))
        return json_response(record.channel.payload(), 201)

    async def _post_thread(self, request: web.Request) -> web.Response:
        payload, files = await self._body(request)
        parent = self._channel(request)
        if parent.type == ChannelType.GUILD_FORUM:
            self._channel(request, Perm.SEND_MESSAGES)
            message = payload.get("message")
            if not isinstance(message, dict):
                errors = FormErrors()
                errors.add(("message",), "BASE_TYPE_REQUIRED", "This field is required")
                raise Refused((400, errors.body()))
            self._thread_name(payload)
            self._forum_tags(parent, payload.get("applied_tags"))
            failure = validate_message(message, files=len(files))
            if failure:
                status, body = failure
                if "errors" in body:
                    body = body | {"errors": {"message": body["errors"]}}
                raise Refused((status, body))
            record = await self._new_thread(parent, payload | {"type": 11}, "forum")
            # The starter message of a forum post has the thread's id.
            record.starter = await self._create(
                record.channel, message, files, "forum", message_id=record.channel.id
            )
            body = record.channel.payload() | {"message": record.starter.data}
            return json_response(body, 201)
        if parent.type != ChannelType.GUILD_TEXT:
            raise Refused((400, error(50024, "Cannot execute action on this channel type")))
        kind = payload.get("type") or ChannelType.PRIVATE_THREAD
        if kind not in (ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD):
            raise Refused((400, error(50024, "Cannot execute action on this channel type")))
        needed = (
            Perm.CREATE_PUBLIC_THREADS
            if kind == ChannelType.PUBLIC_THREAD
            else Perm.CREATE_PRIVATE_THREADS
        )
        self._channel(request, needed)
        record = await self._new_thread(parent, payload | {"type": kind}, "channel")
        return json_response(record.channel.payload(), 201)

    async def _typing(self, request: web.Request) -> web.StreamResponse:
        self.typing.append(self._channel(request, Perm.SEND_MESSAGES).id)
        return web.Response(status=204)

    async def _react(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request, Perm.ADD_REACTIONS | Perm.READ_MESSAGE_HISTORY)
        data, _ = self._message(channel, request.match_info["mid"])
        self.reactions.append((channel.id, int(data["id"]), request.match_info["emoji"]))
        return web.Response(status=204)

    async def _open_dm(self, request: web.Request) -> web.Response:
        payload, _ = await self._body(request)
        user = self.users.get(int((payload or {}).get("recipient_id", 0)))
        if user is None:
            raise Refused((400, error(50033, "Invalid Recipients")))
        return json_response(self.dm_channel(user).payload())

    # --- messages ---------------------------------------------------------------------

    def _build_message(
        self,
        channel: Channel,
        guild: Guild | None,
        payload: JSON,
        *,
        author: User,
        files: list[str] | None = None,
        msg_type: int = 0,
        message_id: int | None = None,
        webhook: bool = False,
    ) -> JSON:
        mid = message_id or new_id()
        mentions, roles, everyone = self._mentions(payload, guild, channel, author)
        message: JSON = {
            "id": str(mid),
            "channel_id": str(channel.id),
            "author": author.payload(),
            "content": payload.get("content") or "",
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts", False)),
            "mention_everyone": everyone,
            "mentions": mentions,
            "mention_roles": roles,
            "attachments": [self._attachment(name) for name in files or []],
            "embeds": list(payload.get("embeds") or []),
            "components": list(payload.get("components") or []),
            "pinned": False,
            "type": msg_type,
            "flags": payload.get("flags") or 0,
        }
        if payload.get("nonce") is not None:
            message["nonce"] = payload["nonce"]
        if payload.get("poll") is not None:
            self.start_poll(message, guild.id if guild else None, payload["poll"])
        if webhook:  # interaction responses and followups
            message["webhook_id"] = message["application_id"] = str(self.application_id)
        reference = payload.get("message_reference")
        if reference:
            ref_id = str(reference.get("message_id"))
            found = self._store.get(int(ref_id)) if ref_id.isdigit() else None
            if found is None:
                if reference.get("fail_if_not_exists", True):
                    errors = FormErrors()
                    errors.add(
                        ("message_reference",),
                        "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                        "Unknown message",
                    )
                    raise Refused((400, errors.body()))
            else:
                message["type"] = 19 if msg_type == 0 else msg_type
                message["message_reference"] = {
                    "type": 0,
                    "message_id": ref_id,
                    "channel_id": found[0]["channel_id"],
                }
                message["referenced_message"] = found[0]
        self._store[mid] = (message, None)
        channel.last_message_id = mid
        if channel.is_thread:
            channel.message_count += 1
        return message

    async def _create(
        self,
        where: Channel | InteractionRecord,
        payload: JSON,
        files: list[str],
        source: str,
        *,
        msg_type: int = 0,
        message_id: int | None = None,
    ) -> SentMessage:
        interaction = where if isinstance(where, InteractionRecord) else None
        channel = self.find_channel(interaction.payload["channel_id"]) if interaction else where
        if not isinstance(channel, Channel):
            raise Refused(UNKNOWN_CHANNEL)
        guild = self._guild_of(channel)
        data = self._build_message(
            channel,
            guild,
            payload,
            author=self.bot,
            files=files,
            msg_type=msg_type,
            message_id=message_id,
            webhook=interaction is not None,
        )
        if interaction is not None:
            data["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "name": interaction.name,
                "user": self._interaction_user(interaction),
                "authorizing_integration_owners": interaction.payload.get(
                    "authorizing_integration_owners", {}
                ),
            }
        sent = SentMessage(int(data["id"]), channel.id, source, payload, data, list(files))
        self._store[sent.id] = (data, sent)
        self.messages.append(sent)
        await self._publish("MESSAGE_CREATE", data, guild)
        return sent

    @staticmethod
    def _interaction_user(record: InteractionRecord) -> JSON:
        if "member" in record.payload:
            return dict(record.payload["member"]["user"])
        return dict(record.payload["user"])

    async def _edit(
        self, sent: SentMessage, payload: JSON, files: list[str], keep_flags: int = 0
    ) -> None:
        data = sent.data
        channel = self.find_channel(sent.channel_id)
        guild = self._guild_of(channel)
        for key, empty in (("content", ""), ("embeds", []), ("components", [])):
            if key in payload:
                data[key] = empty if payload[key] is None else payload[key]
        if "content" in payload or "allowed_mentions" in payload:
            mentions, roles, everyone = self._mentions(payload, guild, channel, self.bot)
            data |= {"mentions": mentions, "mention_roles": roles, "mention_everyone": everyone}
        if files:
            data["attachments"] = data["attachments"] + [self._attachment(n) for n in files]
        flags = payload.get("flags")
        data["flags"] = ((data["flags"] if flags is None else flags) & ~LOADING) | keep_flags
        data["edited_timestamp"] = now_iso()
        sent.edits.append(payload)
        await self._publish("MESSAGE_UPDATE", data, guild)

    async def _delete(self, message: SentMessage | JSON) -> None:
        data = message.data if isinstance(message, SentMessage) else message
        if isinstance(message, SentMessage):
            message.deleted = True
        self._store.pop(int(data["id"]), None)
        channel = self.find_channel(data["channel_id"])
        guild = self._guild_of(channel)
        if self._wants(Intent.GUILD_MESSAGES if guild else Intent.DIRECT_MESSAGES):
            event = {"id": data["id"], "channel_id": data["channel_id"]}
            if guild is not None:
                event["guild_id"] = str(guild.id)
            await self.dispatch("MESSAGE_DELETE", event)

    def _attachment(self, filename: str) -> JSON:
        aid = new_id()
        url = f"http://127.0.0.1:{self.port}/attachments/{aid}/{filename}"
        return {"id": str(aid), "filename": filename, "size": 0, "url": url, "proxy_url": url}

    def _mentions(
        self, payload: JSON, guild: Guild | None, channel: Channel | None, author: User
    ) -> tuple[list[JSON], list[str], bool]:
        """Who a message really pings, given its ``allowed_mentions`` (None = parse all)."""
        content = payload.get("content") or ""
        allowed = payload.get("allowed_mentions")
        parse = {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse", []))
        only_users = {int(u) for u in (allowed or {}).get("users", [])}
        only_roles = {int(r) for r in (allowed or {}).get("roles", [])}
        perms = 0
        if guild is not None and channel is not None:
            member = guild.member(author.id)
            perms = guild.permissions_in(member, channel) if member else 0
        users = []
        for uid in dict.fromkeys(int(u) for u in re.findall(r"<@!?(\d+)>", content)):
            if uid in self.users and ("users" in parse or uid in only_users):
                users.append(self.users[uid].payload())
        reference = payload.get("message_reference") or {}
        replied = str(reference.get("message_id", ""))
        if replied.isdigit() and int(replied) in self._store:
            if allowed is None or allowed.get("replied_user"):
                author_data = self._store[int(replied)][0]["author"]
                if all(u["id"] != author_data["id"] for u in users):
                    users.append(author_data)
        roles = []
        for rid in dict.fromkeys(int(r) for r in re.findall(r"<@&(\d+)>", content)):
            role = next((r for r in guild.roles if r.id == rid), None) if guild else None
            pingable = role is not None and (role.mentionable or perms & Perm.MENTION_EVERYONE)
            if pingable and ("roles" in parse or rid in only_roles):
                roles.append(str(rid))
        everyone = (
            bool(re.search(r"@(everyone|here)", content))
            and "everyone" in parse
            and bool(perms & Perm.MENTION_EVERYONE)
        )
        return users, roles, everyone
