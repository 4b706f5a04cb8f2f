"""The bot's direct rooms: one per member, found again after a restart.

Owns: which room is the direct room with which member, both ways, kept in the store under
a keyed hash of the member's id (``gateway.member_hash``), never the id itself (entries saved
before the hashing are migrated on load); opening a new direct room when there is none, once
across crashes; forgetting one the member left, so the next private reply opens a new one.

Opening a room is not idempotent on Matrix (createRoom has no transaction id), and the bot
can stop between the homeserver making the room and the bot writing it down. So the member
(their key) is written down as pending first; a pending member with no room is looked for
before another room is made: a room the bot made that only the bot and that member are in
(joined or invited) is theirs.

A direct room a member opens (invites the bot to, ``is_direct``) has the same window
between the bot's join and its filing: the room is written down as being joined, with
the member's key, before the join, and filed when a sync shows the bot in it (the first
sync after a restart, before any command there is judged), so it is never taken for a
community room.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

from nio import JoinedRoomsResponse, RoomCreateResponse, RoomGetStateResponse, RoomPreset

from companion.gateway import Gateway
from companion.ports import PostError
from companion_adapters.matrix.client import Client
from companion_adapters.matrix.crypto import Crypto
from companion_adapters.matrix.rooms import RoomState
from companion_adapters.matrix.sending import Sender

log = logging.getLogger("companion_adapters.matrix")

DIRECT_SCOPE = "matrix:direct"  # the hasher's "community" for the direct-room bookkeeping


ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


def opened_for(events: object, me: str, user_id: str) -> bool:
    """Whether a room's state (``/state``) is a room ``me`` made with only ``user_id`` in it
    besides (joined or invited): the direct room a stopped start was opening."""
    if not isinstance(events, list):
        return False
    made_by_me = False
    present: set[str] = set()
    for event in events:
        if not isinstance(event, Mapping):
            continue
        content = event.get("content")
        if event.get("type") == "m.room.create" and event.get("state_key") == "":
            made_by_me = event.get("sender") == me
        elif (
            event.get("type") == "m.room.member"
            and isinstance(content, Mapping)
            and content.get("membership") in ("join", "invite")
        ):
            present.add(str(event.get("state_key")))
    return made_by_me and present == {me, user_id}


def is_encrypted(events: list[Any]) -> bool:
    return any(isinstance(e, Mapping) and e.get("type") == "m.room.encryption" for e in events)


class DirectRooms:
    """``room_id in direct`` tells a direct room from a community room."""

    def __init__(
        self,
        gateway: Gateway,
        me: str,
        client: Client,
        sender: Sender,
        crypto: Crypto | None,
        *,
        rooms: Mapping[str, RoomState],
        encrypt: bool = True,
    ) -> None:
        self.gateway = gateway
        self.me = me
        self.client = client
        self.sender = sender
        self.crypto = crypto
        self.rooms = rooms  # the adapter's, as last synced: who made each room
        self.encrypt = encrypt and crypto is not None  # the rooms it opens
        self.by_room: dict[str, str] = {}  # direct room id -> member key
        self.by_member: dict[str, str] = {}  # member key -> direct room id
        self.pending: set[str] = set()  # member keys a room was being opened for
        self.joining: dict[str, str] = {}  # a member's direct room being joined -> their key
        self._key = f"matrix:direct:{self.me}"
        self._pending_key = f"matrix:direct-pending:{self.me}"
        self._joining_key = f"matrix:direct-joining:{self.me}"
        self._lock = asyncio.Lock()

    def __contains__(self, room_id: object) -> bool:
        return room_id in self.by_room

    def member_key(self, user_id: str) -> str:
        """What the direct-room bookkeeping files a member under: a keyed hash of the id."""
        return self.gateway.member_hash(DIRECT_SCOPE, user_id)

    def has_room_with(self, user_id: str) -> bool:
        return self.member_key(user_id) in self.by_member

    def is_with(self, room_id: str, user_id: str) -> bool:
        """Is this the direct room with that member?"""
        return self.by_room.get(room_id) == self.member_key(user_id)

    async def load(self) -> None:
        """The saved direct rooms; entries from before they were hashed (a user id) are
        hashed now and saved again, so no user id stays in the database."""
        pending = await self.gateway.kv.get(self._pending_key)
        try:
            self.pending = {str(key) for key in json.loads(pending or "[]")}
        except (ValueError, TypeError):
            log.warning("the saved list of direct rooms being opened was unreadable")
        joining = await self.gateway.kv.get(self._joining_key)
        try:
            self.joining = {str(k): str(v) for k, v in json.loads(joining or "{}").items()}
        except (ValueError, AttributeError):
            log.warning("the saved list of direct rooms being joined was unreadable")
        saved = await self.gateway.kv.get(self._key)
        if not saved:
            return
        try:
            loaded = json.loads(saved)
            entries = [(str(k), str(v)) for k, v in loaded.items()]
        except (ValueError, AttributeError):
            log.warning("the saved list of direct rooms was unreadable; starting a new one")
            return
        migrated = False
        for room_id, value in entries:
            if value.startswith("@"):
                value, migrated = self.member_key(value), True
            if value not in self.by_member:
                self.by_room[room_id] = value
                self.by_member[value] = room_id
        if migrated or len(self.by_room) != len(entries):
            await self._save()

    async def room_with(self, user_id: str) -> str:
        """The direct room with a user: the one remembered, the one a stopped start made
        (found again), or a new one (invited)."""
        async with self._lock:
            key = self.member_key(user_id)
            known = self.by_member.get(key)
            if known is not None:
                return known
            if key in self.pending:  # opened before, perhaps, by a start that stopped
                found = await self._opened_before(user_id)
                if found is not None:
                    return found
            else:
                self.pending.add(key)  # before the homeserver makes it: a crash finds it
                await self._save_pending()
            # Encrypted from its first event when the bot encrypts: what it says privately
            # (a suggestion's fate, an anonymous question's receipt) stays private.
            encrypted = [ENCRYPTION_STATE] if self.encrypt else []
            response = await self.sender.request(
                lambda: self.client.room_create(
                    is_direct=True,
                    invite=[user_id],
                    preset=RoomPreset.trusted_private_chat,
                    initial_state=encrypted,
                ),
                f"opening a direct room with {user_id}",
            )
            if not isinstance(response, RoomCreateResponse):
                self.pending.discard(key)  # refused: no room was made
                await self._save_pending()
                raise PostError(f"could not open a direct room with {user_id}: {response}")
            room_id = str(response.room_id)
            if self.crypto is not None:
                self.crypto.know_room(room_id, user_id, encrypted=self.encrypt)
            await self.remember(room_id, user_id)
            return room_id

    async def remember(self, room_id: str, user_id: str) -> None:
        key = self.member_key(user_id)
        self.by_room[room_id] = key
        self.by_member[key] = room_id
        await self._save()
        if key in self.pending:
            self.pending.discard(key)
            await self._save_pending()
        if self.joining.pop(room_id, None) is not None:
            await self._save_joining()

    async def joining_room(self, room_id: str, user_id: str) -> None:
        """The bot is about to join the direct room ``user_id`` invited it to: written down
        first, so a crash after the join still files it (:meth:`joined`)."""
        self.joining[room_id] = self.member_key(user_id)
        await self._save_joining()

    async def not_joined(self, room_id: str) -> None:
        """A direct room being joined that the bot did not join (refused, or left)."""
        if self.joining.pop(room_id, None) is not None:
            await self._save_joining()

    async def joined(self, room_id: str) -> bool:
        """A sync shows the bot in a direct room it was joining (a start that stopped after
        the join, before filing it): filed now, unless the member has another by then.
        Whether it was one being joined."""
        key = self.joining.pop(room_id, None)
        if key is None:
            return False
        log.info("filing the direct room %s joined before a restart", room_id)
        if key not in self.by_member and room_id not in self.by_room:
            self.by_room[room_id] = key
            self.by_member[key] = room_id
            await self._save()
        await self._save_joining()
        return True

    async def _opened_before(self, user_id: str) -> str | None:
        """The room a start that stopped was opening with ``user_id``, if the homeserver
        made it: of the rooms the bot is in and has not filed, one it made with only that
        member besides (joined or invited). Filed now."""
        joined = await self.sender.request(self.client.joined_rooms, "listing my rooms")
        if not isinstance(joined, JoinedRoomsResponse):
            log.warning("could not list the rooms I am in (%s); opening a new one", joined)
            return None
        for room_id in joined.rooms:
            synced = self.rooms.get(room_id)
            if room_id in self.by_room or (
                synced is not None and synced.creators and self.me not in synced.creators
            ):
                continue  # filed already, or made by someone else (a community room)
            state = await self.sender.request(
                partial(self.client.room_get_state, room_id),
                f"reading the state of {room_id}",
            )
            if isinstance(state, RoomGetStateResponse) and opened_for(
                state.events, self.me, user_id
            ):
                log.info("found the direct room %s opened before a restart", room_id)
                if self.crypto is not None:
                    self.crypto.know_room(room_id, user_id, encrypted=is_encrypted(state.events))
                await self.remember(room_id, user_id)
                return room_id
        return None

    async def _save(self) -> None:
        await self.gateway.kv.set(self._key, json.dumps(self.by_room))

    async def _save_pending(self) -> None:
        await self.gateway.kv.set(self._pending_key, json.dumps(sorted(self.pending)))

    async def _save_joining(self) -> None:
        await self.gateway.kv.set(self._joining_key, json.dumps(self.joining))

    def left(self, room_id: str, event: Mapping[str, Any]) -> bool:
        """The other person left (or was removed from) a direct room with the bot."""
        other = self.by_room.get(room_id)
        content = event.get("content")
        user = event.get("state_key")
        return (
            other is not None
            and event.get("type") == "m.room.member"
            and isinstance(user, str)
            and user != self.me
            and isinstance(content, Mapping)
            and content.get("membership") in ("leave", "ban")
            and self.member_key(user) == other
        )

    async def forget(self, room_id: str, *, leave: bool) -> None:
        """A direct room nobody reads any more: the next private reply opens a new one."""
        key = self.by_room.pop(room_id, None)
        if key is not None and self.by_member.get(key) == room_id:
            del self.by_member[key]
        await self._save()
        if leave:
            try:
                await self.sender.leave(room_id)
            except PostError as error:
                log.warning("could not leave the direct room %s: %s", room_id, error)
