"""matrix-nio's client as the adapter uses it, and how its answers are read.

Owns: the bot account's client (nio configured not to retry: the adapter's parts retry,
visibly in the logs), which keeps the raw invite state of each sync and takes no room state
from a decrypted event; the errors that mean "the homeserver is not reachable right now";
the backoff figures every retry shares; and small readers of nio's responses and events
(HTTP status, rate limit, raw event dicts).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
from nio import AsyncClient, AsyncClientConfig, EncryptionError, ErrorResponse, MegolmEvent
from nio.events import BadEventType, Event
from nio.rooms import MatrixRoom

from companion_adapters.matrix.settings import MatrixConfig

BACKOFF_FIRST = 0.25
BACKOFF_MAX = 30.0
MAX_RETRY_AFTER = 30.0

NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)


class Client(AsyncClient):
    """matrix-nio's client, keeping the raw invite state of the last sync: nio keeps only
    member, name and alias events of an invite, and drops m.room.encryption; and never
    taking a decrypted event as room state (below)."""

    raw_invites: dict[str, list[dict[str, Any]]] = {}

    def _handle_timeline_event(
        self,
        event: Event | BadEventType,
        room_id: str,
        room: MatrixRoom,
        encrypted_rooms: set[str],
    ) -> Event | BadEventType | None:
        """An encrypted timeline event is decrypted and nothing more. matrix-nio would then
        apply the plaintext to its view of the room as if the homeserver had sent it: the
        sender's claims (an ``m.room.member`` leave for another member, a join for someone
        outside, ``m.room.power_levels``) would change whom the room keys of the bot's
        messages are shared with, and the power levels. Only the homeserver's own state
        events change the room; nio takes nothing from an event it cannot decrypt either.
        (A private hook of nio's sync handling: the test
        ``test_a_decrypted_event_never_changes_nios_room...`` fails if it moves.)"""
        if not isinstance(event, MegolmEvent):
            return super()._handle_timeline_event(event, room_id, room, encrypted_rooms)
        if self.olm is None:
            return None
        event.room_id = room_id
        try:
            return self.olm.decrypt_megolm_event(event, room_id)
        except EncryptionError:
            return None  # stays a MegolmEvent: the timeline notes it as unreadable

    async def parse_body(self, transport_response: aiohttp.ClientResponse) -> dict[Any, Any]:
        body: dict[Any, Any] = await super().parse_body(transport_response)
        if transport_response.url.path.endswith("/sync") and isinstance(body, dict):
            rooms = body.get("rooms")
            invites = rooms.get("invite") if isinstance(rooms, dict) else None
            raw: dict[str, list[dict[str, Any]]] = {}
            for room_id, info in invites.items() if isinstance(invites, dict) else ():
                state = info.get("invite_state") if isinstance(info, dict) else None
                events = state.get("events") if isinstance(state, dict) else None
                if isinstance(events, list):
                    raw[room_id] = [copy.deepcopy(e) for e in events if isinstance(e, dict)]
            self.raw_invites = raw
        return body


def new_client(config: MatrixConfig, store: Path | None) -> Client:
    """The bot account's client; with an encryption store (a directory), it encrypts."""
    return Client(
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


def http_status(response: object) -> int | None:
    transport = getattr(response, "transport_response", None)
    status = getattr(transport, "status", None)
    return status if isinstance(status, int) else None


def is_rate_limited(response: ErrorResponse) -> bool:
    return response.status_code == "M_LIMIT_EXCEEDED" or http_status(response) == 429


def problem(response: ErrorResponse) -> str:
    return f"{response.status_code or http_status(response)}: {response.message}"


def sources(events: Iterable[object]) -> list[Mapping[str, Any]]:
    """The raw dicts behind matrix-nio's event objects (the logic works on those). An event
    nio decrypted is the sender's plaintext: it is never room state, whatever it claims (a
    ``state_key`` in it would let any member forge the power levels)."""
    out = []
    for event in events:
        source = getattr(event, "source", None)
        if not isinstance(source, Mapping):
            continue
        content = getattr(event, "content", None)
        if "content" not in source and isinstance(content, dict):
            source = {**source, "content": content}  # nio pops it from invite member events
        if getattr(event, "decrypted", False) and "state_key" in source:
            source = {key: value for key, value in source.items() if key != "state_key"}
        out.append(source)
    return out
