"""Every request the running bot makes to the homeserver, and every message it sends.

Owns: retrying a request while rate limited (after ``retry_after_ms``), unreachable or
failing with 5xx (backing off), at most SEND_ATTEMPTS times; sending one event with a
transaction id, so a retry posts nothing twice; a Reply's text as one or more notices;
leaving a room. What goes wrong is classified for the scheduler (companion.ports): a
refusal (4xx: forbidden, not in the room) is a PermanentFailure; the homeserver unreachable,
failing or rate limiting past SEND_ATTEMPTS, a room the client has not synced yet, or the
bot's own token refused (401), a TransientFailure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from nio import ErrorResponse, LocalProtocolError, RoomSendResponse
from nio.exceptions import OlmUnverifiedDeviceError

from companion.events import Kind
from companion.ports import PermanentFailure, TransientFailure
from companion_adapters.matrix import outbound
from companion_adapters.matrix.client import (
    BACKOFF_FIRST,
    MAX_RETRY_AFTER,
    NETWORK_ERRORS,
    Client,
    http_status,
    is_rate_limited,
    problem,
)
from companion_adapters.matrix.crypto import Crypto
from companion_adapters.matrix.rooms import RoomState

log = logging.getLogger("companion_adapters.matrix")

T = TypeVar("T")

SEND_ATTEMPTS = 6  # 0.25 + 0.5 + 1 + 2 + 4 s between them: a homeserver restart fits
TOKEN_REFUSED = ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN")  # the sync logs in again on these


class Sender:
    """Requests and sends for one bot account; after :attr:`closed` nothing is sent."""

    def __init__(
        self,
        client: Client,
        rooms: dict[str, RoomState],
        crypto: Crypto | None,
        first_sync: asyncio.Event,
    ) -> None:
        self.client = client
        self.rooms = rooms  # the adapter's, as last synced: is a room encrypted?
        self.crypto = crypto
        self.closed = False
        self._first_sync = first_sync  # the sync loop's (SyncLoop.synced): it alone sets it

    @property
    def synced(self) -> bool:
        """The first sync has loaded the rooms (the sync loop says)."""
        return self._first_sync.is_set()

    async def send_md(
        self,
        room_id: str,
        md: str,
        relates_to: dict[str, Any] | None,
        txn: str,
        kind: Kind = Kind.ANSWER,
    ) -> str:
        """Send a Reply text as one notice (or several if it is very long); the first id."""
        first = ""
        for i, content in enumerate(outbound.notices(md, relates_to, kind=kind)):
            event_id = await self.send(room_id, content, txn if i == 0 else f"{txn}.{i}")
            first = first or event_id
        return first

    async def send(
        self, room_id: str, content: dict[str, Any], txn: str, event_type: str = "m.room.message"
    ) -> str:
        """One event with a transaction id (a retry posts nothing twice); a refusal is
        permanent. Returns the event id or raises a PostError (classified, above)."""
        if self.closed:
            raise TransientFailure("the Matrix connection is closed")
        room = self.rooms.get(room_id)
        if room is not None and room.encrypted and self.crypto is None:
            raise PermanentFailure(f"{room_id} is end-to-end encrypted, which I don't support yet")
        send: dict[str, Any] = {"tx_id": txn}
        if self.crypto is not None:
            send["ignore_unverified_devices"] = await self.crypto.ready(room_id)
        try:
            response = await self.request(
                lambda: self.client.room_send(room_id, event_type, content, **send),
                f"sending to {room_id}",
            )
        except OlmUnverifiedDeviceError as error:
            why = f'an unverified device is there (unverified_devices = "refuse"): {error}'
            raise PermanentFailure(f"not sending to {room_id}: {why}") from None
        except LocalProtocolError as error:
            # matrix-nio with encryption knows only the rooms it has synced: before the first
            # sync that is no refusal (issue 22: it paused schedules after a restart).
            if not self.synced or room_id in self.rooms:
                raise TransientFailure(f"not sending to {room_id} yet: {error}") from None
            raise PermanentFailure(f"I am not in {room_id} ({error})") from None
        if isinstance(response, RoomSendResponse):
            return str(response.event_id)
        if http_status(response) == 401 or response.status_code in TOKEN_REFUSED:
            # The bot's token, not the room, was refused (revoked, expired, a soft logout):
            # its schedules wait for a working token rather than being paused.
            raise TransientFailure(
                f"the homeserver refused the bot's token sending to {room_id} ({problem(response)})"
            )
        raise PermanentFailure(f"{room_id} refused the message ({problem(response)})")

    async def leave(self, room_id: str) -> None:
        response = await self.request(lambda: self.client.room_leave(room_id), f"leaving {room_id}")
        if isinstance(response, ErrorResponse):
            log.warning("could not leave %s: %s", room_id, response)

    async def request(self, call: Callable[[], Awaitable[T]], what: str) -> T:
        """One homeserver request, tried again while rate limited (after ``retry_after_ms``),
        unreachable or failing with 5xx (backing off), at most SEND_ATTEMPTS times. Returns
        the answer or the refusal (a 4xx error); raises TransientFailure if it never got either."""
        delay = BACKOFF_FIRST
        trouble = ""
        limited: float | None = None  # the homeserver's last retry_after, in seconds
        for attempt in range(1, SEND_ATTEMPTS + 1):
            wait = delay
            try:
                response = await call()
            except NETWORK_ERRORS as error:
                trouble = f"{type(error).__name__}: {error}"
                delay *= 2
            else:
                if not isinstance(response, ErrorResponse):
                    return response
                status = http_status(response)
                trouble = problem(response)
                if is_rate_limited(response):
                    limited = (response.retry_after_ms or 1000) / 1000
                    wait = min(limited, MAX_RETRY_AFTER)
                elif status is None or status >= 500:
                    delay *= 2
                else:
                    return response
            if attempt < SEND_ATTEMPTS:
                log.warning("%s failed (%s); again in %.2f s", what, trouble, wait)
                await asyncio.sleep(wait)
        raise TransientFailure(
            f"{what} failed {SEND_ATTEMPTS} times ({trouble})", retry_after=limited
        )
