"""One sync's events, room by room: state taken in, in order; commands picked out.

Owns: applying each joined room's state as it was when each message was said (so a
command is judged by the power its sender had then); what is not answered (anything said
before the bot joined, on the first sync ever, too old by the homeserver's clock, or in
a room it cannot read); the note about a message the bot could not decrypt; handing the
commands to :class:`Replies`, invites and joined rooms to :class:`Membership`, and
leaves to :class:`DirectRooms`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from nio import SyncResponse

from companion.events import Actor, Place
from companion.ports import PostError
from companion_adapters.matrix import crypto, inbound, native
from companion_adapters.matrix.client import Client, sources
from companion_adapters.matrix.direct import DirectRooms
from companion_adapters.matrix.membership import Membership
from companion_adapters.matrix.replies import Replies
from companion_adapters.matrix.rooms import RoomState
from companion_adapters.matrix.sending import Sender
from companion_adapters.matrix.settings import MatrixConfig

log = logging.getLogger("companion_adapters.matrix")


class Timeline:
    """Handles a sync response; keeps :attr:`rooms` (the adapter's) up to date."""

    def __init__(
        self,
        config: MatrixConfig,
        client: Client,
        rooms: dict[str, RoomState],
        *,
        sender: Sender,
        direct: DirectRooms,
        membership: Membership,
        replies: Replies,
        answers: native.Answers,
        crypto: crypto.Crypto | None,
        wall_clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.client = client
        self.rooms = rooms
        self.sender = sender
        self.direct = direct
        self.membership = membership
        self.replies = replies
        self.answers = answers  # poll responses and RSVP reactions
        self.crypto = crypto
        self.wall_clock = wall_clock  # the age of commands (server timestamps)
        self.me = config.user_id

    async def handle(self, response: SyncResponse, *, answer: bool) -> None:
        """Each room's state in order and its commands answered one after the other (rooms
        side by side); then invites."""
        jobs: list[Awaitable[None]] = []
        now = self.wall_clock()
        for room_id, info in response.rooms.join.items():
            room = self.rooms.setdefault(room_id, RoomState())
            was_encrypted = room.encrypted
            if room_id in self.direct.joining:  # joined before a restart, not yet filed
                await self.membership.joined(room_id)
            room.apply_all(sources(info.state))
            events = sources(info.timeline.events)
            start = inbound.joined_at(events, self.me)
            answers: list[tuple[inbound.Command, Actor, Place]] = []
            votes: list[Mapping[str, Any]] = []
            for i, event in enumerate(events):
                if "state_key" in event:
                    room.apply(event)
                    if self.direct.left(room_id, event):
                        jobs.append(self.direct.forget(room_id, leave=True))
                    continue
                if not answer or i < start or (room.encrypted and self.crypto is None):
                    continue
                if event.get("type") == crypto.ENCRYPTED:  # one nio could not decrypt
                    if self.crypto is not None and self.crypto.unreadable(room_id, event):
                        jobs.append(self._note_unreadable(room_id, event))
                    continue
                if event.get("type") in native.TYPES:
                    if event.get("sender") != self.me and room_id not in self.direct:
                        votes.append(event)
                    continue
                command = inbound.command_of(event, room_id, self.me, self.config.command_prefix)
                if command is None:
                    continue
                if inbound.too_old(command, now, self.config.max_command_age):
                    log.info("not answering %s in %s: too old", command.event_id, room_id)
                    continue
                place = inbound.place_of(command, room_id in self.direct)
                actor = inbound.actor_of(command, room, self.config.moderator_level)
                answers.append((command, actor, place))
            if votes:
                jobs.append(self.answers.handle(room_id, votes))
            if answers:
                jobs.append(self.replies.answer_in_order(answers))
            if answer and info.timeline.limited and start == 0:
                log.warning(
                    "%s: more events than one sync holds arrived at once; "
                    "commands among the oldest of them were not answered",
                    room_id,
                )
            settle = self.membership.settle(room_id, room, was_encrypted)
            if settle is not None:
                jobs.append(settle)
        for room_id, invite in response.rooms.invite.items():
            raw = self.client.raw_invites.get(room_id)
            state = raw if raw is not None else sources(invite.invite_state)
            jobs.append(self.membership.on_invite(room_id, state))
        for room_id in response.rooms.leave:
            self.rooms.pop(room_id, None)
            if room_id in self.direct.joining:
                jobs.append(self.direct.not_joined(room_id))
            if room_id in self.direct:
                jobs.append(self.direct.forget(room_id, leave=False))
        for outcome in await asyncio.gather(*jobs, return_exceptions=True):
            if isinstance(outcome, Exception):
                log.error("handling a sync failed", exc_info=outcome)

    async def _note_unreadable(self, room_id: str, event: Mapping[str, Any]) -> None:
        try:
            await self.sender.send(room_id, *crypto.note(room_id, event))
        except PostError as error:
            log.warning("could not tell %s about an unreadable message: %s", room_id, error)
