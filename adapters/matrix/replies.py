"""Answering commands: each one's reply, in its room and thread, or privately.

Owns: the core's Reply (the gateway routes an anonymous question itself, told that a
room here shows who writes) sent as notices that reply to the command, with a transaction id made
from the command's event id (answering twice posts once); a private Reply sent to the
member's direct room, with a pointer left in the room; the short apology when answering
fails; the command latency metric.
"""

from __future__ import annotations

import logging
import time

from companion.commands import APOLOGY
from companion.events import Actor, Kind, Place
from companion.fmt import as_md
from companion.gateway import Gateway, SeenByRoom
from companion.ports import PostError
from companion_adapters.matrix import inbound, outbound
from companion_adapters.matrix.direct import DirectRooms
from companion_adapters.matrix.sending import Sender
from companion_adapters.matrix.settings import MatrixConfig

log = logging.getLogger("companion_adapters.matrix")


class Replies:
    """The commands of one room are answered in the order they were said."""

    def __init__(
        self, gateway: Gateway, config: MatrixConfig, sender: Sender, direct: DirectRooms
    ) -> None:
        self.gateway = gateway
        self.config = config
        self.sender = sender
        self.direct = direct
        self.me = config.user_id

    async def answer_in_order(self, answers: list[tuple[inbound.Command, Actor, Place]]) -> None:
        for command, actor, place in answers:
            await self.answer(command, actor, place)

    async def answer(self, command: inbound.Command, actor: Actor, place: Place) -> None:
        if command.origin_server_ts:  # how long after the homeserver had it we see it
            self.gateway.health.heartbeat(
                inbound.PLATFORM, time.time() - command.origin_server_ts / 1000
            )
        txn = outbound.txn_id("reply", command.event_id)
        here = outbound.reply_to(command.event_id, command.thread_root)
        try:
            own_direct = self.direct.is_with(command.room_id, command.sender)
            seen = SeenByRoom(self.me, own_direct)
            reply = await self.gateway.handle_text(command.line, actor, place, seen_by_room=seen)
            if reply is None:  # over the flood limit, and told so already
                return
            if reply.private and not place.is_direct:
                direct = await self.direct.room_with(actor.id)
                await self.sender.send_md(direct, reply.text, None, txn, reply.kind)
                await self.sender.send_md(
                    command.room_id, "I've answered you in a direct message.", here, txn + "p"
                )
            else:
                await self.sender.send_md(command.room_id, reply.text, here, txn, reply.kind)
        except PostError as error:
            log.warning("could not answer %s in %s: %s", command.event_id, command.room_id, error)
            await self._apologise(command)
        except Exception:
            log.exception("answering %s in %s failed", command.event_id, command.room_id)
            await self._apologise(command)

    async def _apologise(self, command: inbound.Command) -> None:
        """The member hears that it failed, as on every platform: the short apology, in
        reply to the command (best effort: when even that cannot be sent, it is logged)."""
        try:
            await self.sender.send_md(
                command.room_id,
                as_md(APOLOGY),
                outbound.reply_to(command.event_id, command.thread_root),
                outbound.txn_id("sorry", command.event_id),
                Kind.APOLOGY,
            )
        except Exception as error:  # the failure itself is logged above
            log.warning("could not apologise in %s either: %s", command.room_id, error)
