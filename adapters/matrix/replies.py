"""Answering commands: each one's reply, in its room and thread, or privately.

Owns: the route of an anonymous question (the core's, before the dispatcher); the
dispatcher's Reply sent as notices that reply to the command, with a transaction id made
from the command's event id (answering twice posts once); a private Reply sent to the
member's direct room, with a pointer left in the room; the command latency metric.
"""

from __future__ import annotations

import logging
import time

from companion.app import App
from companion.dispatch import APOLOGY
from companion.events import Actor, Kind, Place, Reply
from companion.ports import PostError
from companion_adapters.matrix import inbound, outbound
from companion_adapters.matrix.direct import DirectRooms
from companion_adapters.matrix.sending import Sender
from companion_adapters.matrix.settings import MatrixConfig

log = logging.getLogger("companion_adapters.matrix")


class Replies:
    """The commands of one room are answered in the order they were said."""

    def __init__(self, app: App, config: MatrixConfig, sender: Sender, direct: DirectRooms) -> None:
        self.app = app
        self.config = config
        self.sender = sender
        self.direct = direct
        self.me = config.user_id

    async def answer_in_order(self, answers: list[tuple[inbound.Command, Actor, Place]]) -> None:
        for command, actor, place in answers:
            await self.answer(command, actor, place)

    async def answer(self, command: inbound.Command, actor: Actor, place: Place) -> None:
        if command.origin_server_ts:  # how long after the homeserver had it we see it
            self.app.metrics.heartbeat(
                inbound.PLATFORM, time.time() - command.origin_server_ts / 1000
            )
        txn = outbound.txn_id("reply", command.event_id)
        here = outbound.reply_to(command.event_id, command.thread_root)
        try:
            own_direct = self.direct.is_with(command.room_id, command.sender)
            text = await self.app.anonymity.route(
                command.line,
                actor,
                place,
                self.app.clock.now(),
                prefix=self.config.command_prefix,
                bot_name=self.me,
                own_direct=own_direct,
            )
            if text is not None:  # an anonymous question, routed by the core
                await self.sender.send_md(command.room_id, text, here, txn)
                return
            reply = await self.app.dispatcher.run_text(
                command.line, actor, place, self.app.clock.now()
            )
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
        except Exception:  # the dispatcher apologises for its own; this was around it
            log.exception("answering %s in %s failed", command.event_id, command.room_id)
            try:
                apology = Reply(APOLOGY, kind=Kind.APOLOGY)
                await self.sender.send_md(command.room_id, apology.text, here, txn, apology.kind)
            except PostError as error:
                log.warning("could not apologise in %s: %s", command.room_id, error)
