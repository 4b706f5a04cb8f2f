"""The rooms the bot is in: invites, its hello, leaving what it cannot read.

Owns: accepting or declining an invite (allowed inviters; an encrypted room while
encryption is off is declined and the inviter told why in a direct room); the hello,
said once a joined room's state has arrived; leaving a room that turns encrypted while
encryption is off; and which community rooms a member shares with the bot (asked of the
homeserver).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

from nio import JoinResponse, RoomGetStateEventResponse

from companion.events import Place
from companion.ports import Community, PostError
from companion_adapters.matrix import crypto, inbound, outbound
from companion_adapters.matrix.client import NETWORK_ERRORS, Client
from companion_adapters.matrix.direct import DirectRooms
from companion_adapters.matrix.rooms import RoomState
from companion_adapters.matrix.sending import Sender
from companion_adapters.matrix.settings import MatrixConfig

log = logging.getLogger("companion_adapters.matrix")

MEMBERSHIP_LOOKUPS = 8  # membership questions to the homeserver at once


class Membership:
    """Joining, greeting and leaving rooms for one bot account."""

    def __init__(
        self,
        config: MatrixConfig,
        client: Client,
        sender: Sender,
        rooms: dict[str, RoomState],
        direct: DirectRooms,
        crypto: crypto.Crypto | None,
    ) -> None:
        self.config = config
        self.client = client
        self.sender = sender
        self.rooms = rooms
        self.direct = direct
        self.crypto = crypto
        self.me = config.user_id
        self.greet: dict[str, str | None] = {}  # joined, hello once its state is known

    def settle(self, room_id: str, room: RoomState, was_encrypted: bool) -> Awaitable[None] | None:
        """After a sync brought a joined room's state: leave it if it turned encrypted (and
        encryption is off), else say hello if it was just joined."""
        greet = room_id in self.greet
        inviter = self.greet.pop(room_id, None)
        if room.encrypted and not was_encrypted and self.crypto is None:
            return self._leave_encrypted(room_id, room, inviter)
        if greet:
            return self._hello(room_id)
        return None

    async def joined(self, room_id: str) -> None:
        """A sync shows the bot in a room: one it was joining as a member's direct room (a
        start stopped between the join and the filing) is filed now, before any command in
        it is judged, and greeted as it would have been."""
        if room_id in self.direct.joining and await self.direct.joined(room_id):
            self.greet.setdefault(room_id, None)

    async def on_invite(self, room_id: str, invite_state: Sequence[Mapping[str, Any]]) -> None:
        """Join (the hello follows in :meth:`settle`), or decline: an inviter not allowed,
        or an encrypted room while encryption is off (its inviter is told why)."""
        invite = inbound.invite_of(invite_state, self.me)
        try:
            if not self.config.may_invite(invite.inviter):
                log.info("declining the invite to %s from %s", room_id, invite.inviter)
                await self.sender.leave(room_id)
                return
            if invite.encrypted and self.crypto is None:
                log.warning("declining the encrypted room %s: %s", room_id, crypto.OFF)
                await self.sender.leave(room_id)
                if invite.inviter:
                    label = f"“{invite.room_name}”" if invite.room_name else room_id
                    done = f"declined the invite to {label}"
                    await self._explain_encryption(invite.inviter, room_id, done)
                return
            direct = (
                invite.inviter
                if invite.is_direct
                and invite.inviter
                and not self.direct.has_room_with(invite.inviter)
                else None
            )
            if direct is not None:  # written down before the join: a crash after it files it
                await self.direct.joining_room(room_id, direct)
            joined = await self.sender.request(
                lambda: self.client.join(room_id), f"joining {room_id}"
            )
            if not isinstance(joined, JoinResponse):
                log.warning("could not join %s: %s", room_id, joined)
                await self.direct.not_joined(room_id)
                return
            log.info("joined %s (invited by %s)", room_id, invite.inviter)
            if direct is not None:
                await self.direct.remember(room_id, direct)
            # The hello waits for the room's state in the next sync: an encrypted room whose
            # invite did not say so gets no plain-text hello.
            self.greet[room_id] = invite.inviter
        except PostError as error:
            log.warning("after the invite to %s: %s", room_id, error)
        except NETWORK_ERRORS as error:
            log.warning("handling the invite to %s failed: %s", room_id, error)

    def hello_text(self) -> str:
        """What the bot says in a room it has just joined."""
        p = self.config.command_prefix
        return (
            "Hello! I'm Companion, here to learn allyship together with you. "
            f"Type `{p}help` to see what I can do, or start with `{p}define allyship`."
        )

    async def _hello(self, room_id: str) -> None:
        try:
            await self.sender.send_md(
                room_id, self.hello_text(), None, outbound.txn_id("hello", room_id)
            )
        except PostError as error:
            log.warning("could not say hello in %s: %s", room_id, error)

    async def _leave_encrypted(self, room_id: str, room: RoomState, inviter: str | None) -> None:
        """A room the bot is in is (or became) encrypted: it cannot read it, so it leaves and
        tells whoever invited it, or else whoever turned encryption on."""
        try:
            await self.sender.leave(room_id)
            self.rooms.pop(room_id, None)
            if room_id in self.direct:
                await self.direct.forget(room_id, leave=False)
            who = inviter or room.encrypted_by
            if who and who != self.me:
                label = f"“{room.name}”" if room.name else room_id
                await self._explain_encryption(who, room_id, f"left {label}")
        except (PostError, *NETWORK_ERRORS) as error:
            log.warning("after leaving the encrypted room %s: %s", room_id, error)

    async def _explain_encryption(self, user_id: str, room_id: str, done: str) -> None:
        """One plain, unencrypted line in a direct room with the user."""
        direct = await self.direct.room_with(user_id)
        text = (
            f"I can't work in end-to-end encrypted rooms here yet, so I {done}. "
            "Invite me to a room without encryption to use me there."
        )
        await self.sender.send(
            direct, outbound.plain_notice(text), outbound.txn_id("e2ee", room_id)
        )

    async def shared_communities(self, user_id: str) -> list[Community]:
        """The community rooms (joined, not direct, not encrypted) the member is joined to
        (the capability behind anonymous questions): the homeserver is asked, a few rooms
        at a time."""
        candidates = [
            (room_id, room)
            for room_id, room in self.rooms.items()
            if room_id not in self.direct and (self.crypto is not None or not room.encrypted)
        ]
        limit = asyncio.Semaphore(MEMBERSHIP_LOOKUPS)

        async def joined(room_id: str) -> bool:
            async with limit:
                response = await self.sender.request(
                    lambda: self.client.room_get_state_event(room_id, "m.room.member", user_id),
                    f"looking up a membership in {room_id}",
                )
            return (
                isinstance(response, RoomGetStateEventResponse)
                and response.content.get("membership") == "join"
            )

        found = await asyncio.gather(*(joined(room_id) for room_id, _ in candidates))
        return [
            Community(Place(inbound.PLATFORM, room_id, room_id), room.name)
            for (room_id, room), member in zip(candidates, found, strict=True)
            if member
        ]
