"""The sync loop: long-polls the homeserver until cancelled, and says how it is going.

Owns: the sync filters (only what the bot reads); the sync token, saved once a sync's
events are handled, so a restart resumes where it stopped (and the first start ever
answers nothing said before it); reconnecting with backoff, or after ``retry_after_ms``
when rate limited; a refused sync token (start afresh) or access token (log in again with
a password, else a clear error); its health: the adapter_up and heartbeat metrics, and
:attr:`syncs`, :attr:`failures_in_a_row` for logs and tests, and :attr:`synced`, the
one record of the first sync having loaded the rooms (the sender and the crypto ask it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nio import ErrorResponse, SyncResponse

from companion.gateway import Gateway, StoreUnavailable
from companion_adapters.matrix import crypto, inbound, native
from companion_adapters.matrix.client import (
    BACKOFF_FIRST,
    BACKOFF_MAX,
    MAX_RETRY_AFTER,
    NETWORK_ERRORS,
    Client,
    http_status,
    is_rate_limited,
)
from companion_adapters.matrix.session import Session
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
    """Only what the bot reads: messages, poll responses and reactions (and their
    redactions), and the state that decides power, names and encryption; nothing else.

    Members are not lazy-loaded: the first sync of a run (full state) brings every
    member's name once (in a large room, a bigger first sync), later syncs only what
    changed. Lazy loading (just the senders) cost a keys query before nearly every reply
    in an encrypted room (issue 24): Synapse remembers one membership per member, not per
    room, so a member who speaks in two of the bot's rooms had their membership sent
    again in the state of nearly every sync, and Synapse counts each membership in a
    sync's state as a newly joined user, in ``device_lists.changed``, so matrix-nio asked
    for their devices again (and for the bot's own, after each reply). And Synapse's
    record of the memberships it sent outlives a restart of the bot, so a member quiet
    since the restart was never sent again and lost their display name."""
    nothing = {"not_types": ["*"]}
    return {
        "presence": nothing,
        "account_data": nothing,
        "room": {
            "state": {"types": _STATE_TYPES, "lazy_load_members": False},  # see above
            "timeline": {
                "types": [*_STATE_TYPES, "m.room.message", crypto.ENCRYPTED, *sorted(native.TYPES)],
                "limit": limit,
                "lazy_load_members": False,
            },
            "ephemeral": nothing,
            "account_data": nothing,
        },
    }


FILTER = sync_filter(TIMELINE_LIMIT)
CATCH_UP_FILTER = sync_filter(CATCH_UP_LIMIT)


class SyncLoop:
    """Syncs one bot account's client and hands each response to the :class:`Timeline`."""

    def __init__(
        self,
        gateway: Gateway,
        client: Client,
        session: Session,
        timeline: Timeline,
        crypto: crypto.Crypto | None,
        timeout_ms: int = SYNC_TIMEOUT_MS,
        *,
        synced: asyncio.Event,
    ) -> None:
        self.gateway = gateway
        self.client = client
        self.session = session
        self.timeline = timeline
        self.crypto = crypto
        self.sync_timeout_ms = timeout_ms
        self._token_key = f"matrix:next_batch:{session.me}"
        # What the sync loop is doing, for logs and tests.
        self.syncs = 0
        self.failures_in_a_row = 0
        # The first sync has loaded the rooms. Set here alone; the Sender and the Crypto
        # ask this one event (the adapter hands it to them) rather than keeping their own.
        self.synced = synced
        # Called once, after the first sync has loaded the rooms (the adapter attaches its
        # port then: matrix-nio cannot send to a room it has not synced).
        self.on_first_sync: Callable[[], Awaitable[None]] | None = None
        self._unsaved: str | None = None  # a token the database was away to take

    async def forever(self) -> None:
        """Sync until cancelled. The token is saved after each sync, once its events are
        handled; connection failures are retried with backoff, never fatal."""
        token = await self.gateway.kv.get(self._token_key)
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
                self.gateway.health.adapter_up(inbound.PLATFORM, False)
                if isinstance(response, ErrorResponse) and self._bad_token(response, token):
                    log.warning("the saved sync token was refused; starting afresh")
                    token, answer, full_state = None, False, True
                delay = await self._failed(response, delay)
                continue
            if self.failures_in_a_row:
                log.warning("syncing again after %d failed attempt(s)", self.failures_in_a_row)
            self.failures_in_a_row = 0
            delay = BACKOFF_FIRST
            if self.crypto is not None:
                # Keys uploaded, to-device messages sent; the devices of who joined are
                # learnt before a send to an encrypted room (Crypto.ready), else below.
                await self.crypto.keep_up(learn_devices=False)
            if not self.synced.is_set():
                # The rooms are loaded now (nio took the response in): synced, so the port
                # can send as soon as it goes to the gateway, before this sync's events are
                # handled, since what they change (an RSVP by reaction, say) is shown
                # through it.
                self.synced.set()
                if self.on_first_sync is not None:
                    await self.on_first_sync()
            await self.timeline.handle(response, answer=answer)
            if self.crypto is not None:
                await self.crypto.learn_devices()
            answer, full_state = True, False
            if response.next_batch and response.next_batch != token:
                token = self._unsaved = response.next_batch
            await self._save_token()
            self.syncs += 1
            self.gateway.health.heartbeat(inbound.PLATFORM)

    async def _save_token(self) -> None:
        """Save the newest token; with the database away, keep it and try after the next
        sync (the loop goes on: issue 22, a PostgreSQL restart ended the process here).
        A crash meanwhile resumes from the older token: the commands since are seen again,
        and their replies carry the same transaction ids, so none is answered twice."""
        if self._unsaved is None:
            return
        try:
            await self.gateway.kv.set(self._token_key, self._unsaved)
        except StoreUnavailable as error:
            log.warning("could not save the sync token yet (%s); trying after the next", error)
            return
        self._unsaved = None

    @staticmethod
    def _bad_token(response: ErrorResponse, token: str | None) -> bool:
        status = http_status(response)
        return token is not None and status == 400 and response.status_code != "M_LIMIT_EXCEEDED"

    async def _failed(self, problem: object, delay: float) -> float:
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
