"""The Matrix adapter on matrix-nio: a sync loop in, ``m.notice`` replies out, a ChatPort.

Thin on purpose: events become (line, Actor, Place) for the dispatcher, Replies become
notices. What is kept between runs lives in the bot's own database (``app.store.kv``):
the sync token, the direct rooms, and (with a password login) the device and its token.
Nothing kept there names a member: a direct room is filed under a keyed hash of the
member's id (``app.hasher``), never the id itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from nio import (
    AsyncClientConfig,
    ErrorResponse,
    SyncResponse,
)

from companion import anonymity
from companion.app import App
from companion.events import Actor, Kind, MessageRef, Place
from companion_adapters.matrix import crypto, inbound, outbound
from companion_adapters.matrix.client import (
    BACKOFF_FIRST,
    BACKOFF_MAX,
    MAX_RETRY_AFTER,
    NETWORK_ERRORS,
    Client,
    http_status,
    is_rate_limited,
)
from companion_adapters.matrix.direct import DirectRooms
from companion_adapters.matrix.membership import Membership
from companion_adapters.matrix.replies import Replies
from companion_adapters.matrix.rooms import RoomState
from companion_adapters.matrix.sending import Sender
from companion_adapters.matrix.session import Session
from companion_adapters.matrix.settings import MatrixConfig
from companion_adapters.matrix.timeline import Timeline

log = logging.getLogger("companion_adapters.matrix")


SYNC_TIMEOUT_MS = 30_000  # long-poll: the homeserver answers at once when something happens
TIMELINE_LIMIT = 50
CATCH_UP_LIMIT = 100  # the first sync after a restart reaches further back

_STATE_TYPES = [
    "m.room.create",
    "m.room.power_levels",
    "m.room.member",
    "m.room.encryption",
    "m.room.name",
]


def sync_filter(limit: int) -> dict[str, Any]:
    """Only what the bot reads: messages and the state that decides power, names and
    encryption; members lazy-loaded (just the senders), nothing else."""
    nothing = {"not_types": ["*"]}
    return {
        "presence": nothing,
        "account_data": nothing,
        "room": {
            "state": {"types": _STATE_TYPES, "lazy_load_members": True},
            "timeline": {
                "types": [*_STATE_TYPES, "m.room.message", crypto.ENCRYPTED],
                "limit": limit,
                "lazy_load_members": True,
            },
            "ephemeral": nothing,
            "account_data": nothing,
        },
    }


FILTER = sync_filter(TIMELINE_LIMIT)
CATCH_UP_FILTER = sync_filter(CATCH_UP_LIMIT)


class MatrixAdapter:
    """One bot account: call :meth:`login`, then :meth:`sync_forever`; it is the ChatPort."""

    def __init__(
        self,
        app: App,
        config: MatrixConfig,
        *,
        wall_clock: Callable[[], float] | None = None,
        sync_timeout_ms: int = SYNC_TIMEOUT_MS,
    ) -> None:
        self.app = app
        self.config = config
        self.sync_timeout_ms = sync_timeout_ms
        store = crypto.store_dir(config, app.settings.db_path) if crypto.enabled(config) else None
        self.client = Client(
            config.homeserver,
            config.user_id,
            store_path=str(store or ""),
            config=AsyncClientConfig(
                max_limit_exceeded=0,  # rate limits and timeouts are retried here, visibly
                max_timeouts=0,
                request_timeout=20,
                store_sync_tokens=False,
                encryption_enabled=store is not None,
            ),
        )
        self.crypto = crypto.Crypto(self.client, config, store) if store else None
        self.me = config.user_id
        self.rooms: dict[str, RoomState] = {}
        self.sender = Sender(self.client, self.rooms, self.crypto)
        self.session = Session(app, config, self.client, self.crypto)
        self.direct = DirectRooms(app, self.me, self.client, self.sender, self.crypto)
        self.membership = Membership(
            config, self.client, self.sender, self.rooms, self.direct, self.crypto
        )
        self.replies = Replies(app, config, self.sender, self.direct)
        self.timeline = Timeline(
            config,
            self.client,
            self.rooms,
            sender=self.sender,
            direct=self.direct,
            membership=self.membership,
            replies=self.replies,
            crypto=self.crypto,
            wall_clock=wall_clock or time.time,  # the age of commands (server timestamps)
        )
        self._token_key = f"matrix:next_batch:{self.me}"
        # What the sync loop is doing, for logs and tests.
        self.syncs = 0
        self.failures_in_a_row = 0
        self.synced = asyncio.Event()

    # --- start ------------------------------------------------------------------------------

    async def login(self) -> None:
        """Log in (see :class:`Session`), then load the saved direct rooms."""
        await self.session.login()
        await self.direct.load()
        log.info("logged in to %s as %s", self.config.homeserver, self.me)

    async def close(self) -> None:
        self.sender.closed = True
        await self.client.close()

    # --- the sync loop ----------------------------------------------------------------------

    async def sync_forever(self) -> None:
        """Sync until cancelled. The token is saved after each sync, once its events are
        handled; connection failures are retried with backoff, never fatal."""
        token = await self.app.store.kv.get(self._token_key)
        answer = token is not None  # first start ever: answer nothing said before it
        full_state = True  # the room state is not kept between runs: fetch it once
        delay = BACKOFF_FIRST
        while True:
            try:
                response: object = await self.client.sync(
                    timeout=0 if full_state else self.sync_timeout_ms,
                    sync_filter=CATCH_UP_FILTER if full_state else FILTER,
                    since=token,
                    full_state=full_state or None,
                )
            except NETWORK_ERRORS as error:
                response = error
            if not isinstance(response, SyncResponse):
                self.app.metrics.adapter_up(inbound.PLATFORM, False)
                if isinstance(response, ErrorResponse) and self._bad_token(response, token):
                    log.warning("the saved sync token was refused; starting afresh")
                    token, answer, full_state = None, False, True
                delay = await self._sync_failed(response, delay)
                continue
            if self.failures_in_a_row:
                log.warning("syncing again after %d failed attempt(s)", self.failures_in_a_row)
            self.failures_in_a_row = 0
            delay = BACKOFF_FIRST
            if self.crypto is not None:
                await self.crypto.keep_up()  # the devices of who joined, before any reply
            await self.timeline.handle(response, answer=answer)
            answer, full_state = True, False
            if response.next_batch and response.next_batch != token:
                token = response.next_batch
                await self.app.store.kv.set(self._token_key, token)
            self.syncs += 1
            self.app.metrics.heartbeat(inbound.PLATFORM)
            self.synced.set()

    @staticmethod
    def _bad_token(response: ErrorResponse, token: str | None) -> bool:
        status = http_status(response)
        return token is not None and status == 400 and response.status_code != "M_LIMIT_EXCEEDED"

    async def _sync_failed(self, problem: object, delay: float) -> float:
        """Log, wait, and return the next delay. An access token the homeserver no longer
        accepts is fatal with a token (say so), and a new login with a password."""
        self.failures_in_a_row += 1
        wait = delay
        if isinstance(problem, ErrorResponse):
            if problem.status_code == "M_UNKNOWN_TOKEN":
                await self.session.log_in_again()
                return BACKOFF_FIRST
            if is_rate_limited(problem) and problem.retry_after_ms:
                wait = min(problem.retry_after_ms / 1000, MAX_RETRY_AFTER)
            what = str(problem)
        else:
            what = f"{type(problem).__name__}: {problem}"
        log.warning(
            "sync failed (%s); attempt %d, trying again in %.2f s",
            what,
            self.failures_in_a_row,
            wait,
        )
        await asyncio.sleep(wait)
        return min(max(delay * 2, BACKOFF_FIRST), BACKOFF_MAX)

    # --- ChatPort and PrivateChannel ---------------------------------------------------------

    async def post(
        self, place: Place, text: str, *, key: str, kind: Kind = Kind.ANSWER
    ) -> MessageRef:
        relates = outbound.in_thread(place.thread_id) if place.thread_id else None
        event_id = await self.sender.send_md(place.room_id, text, relates, key, kind)
        return MessageRef(place, event_id)

    async def open_thread(
        self, place: Place, title: str, text: str, *, key: str, kind: Kind = Kind.DISCUSSION
    ) -> Place:
        """A root notice (the title, plain text) and the text as the first message of its
        thread."""
        root = await self.sender.send(place.room_id, outbound.thread_root(title), key + "r")
        await self.sender.send_md(place.room_id, text, outbound.in_thread(root), key + "t", kind)
        return Place(place.platform, place.community_id, place.room_id, thread_id=root)

    async def notify(self, place: Place, member_id: str, text: str, *, key: str) -> None:
        """A private notice to one member (a suggestion's outcome), in their direct room;
        the key makes the transaction id, so a retried notice arrives once."""
        direct = await self.direct.room_with(member_id)
        await self.sender.send_md(direct, text, None, outbound.txn_id("notice", key), Kind.NOTICE)

    async def shared_communities(self, actor: Actor) -> list[anonymity.Community]:
        """The community rooms the member shares with the bot (behind anonymous questions)."""
        return await self.membership.shared_communities(actor.id)

    async def is_moderator(self, platform: str, community_id: str, member_id: str) -> bool | None:
        """The web dashboard's check, from the room's power levels as last synced: a member
        whose power drops below the moderator level loses the dashboard for that room."""
        if platform != inbound.PLATFORM:
            return None
        room = self.rooms.get(community_id)
        if room is None:  # the bot has left the room
            return False
        return room.is_moderator(member_id, self.config.moderator_level)
