"""Routing `ask anonymously` where a message in a room is seen by everyone in it.

A slash command on Discord is seen only by the bot; a text command in a Matrix room already
shows its author's name. So on such a platform the adapter hands the line to
:class:`AnonymousRouting` first: from a community room the question is not passed on (the
member is asked to use a direct message); from the member's own direct chat it is
dispatched as if asked in the community they share with the bot (``ask anonymously #N
<question>`` picks one when there are several). Which communities those are is the one
thing a platform provides: its port has the capability
:class:`~companion.ports.SharedCommunities`.

Routing only, no feature logic: the core's ``ask anonymously`` does the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from companion.dispatch import Dispatcher
from companion.events import Actor, Place
from companion.fmt import Md, as_md, bullets, code, fmt, lines
from companion.ports import Community, Ports, SharedCommunities, capability
from companion.textparse import clean

COMMAND = "ask anonymously"
_CHOICE = re.compile(r"#(\d{1,4})(?=\s|$)")


class AnonymousAsk(NamedTuple):
    """``ask anonymously [#N] <question>``, taken apart."""

    choice: int | None  # N of "#N": a room from the numbered list of shared rooms
    question: str

    @property
    def line(self) -> str:
        """The command line the core gets (the choice is the adapter's, not the core's)."""
        return f"{COMMAND} {self.question}".strip()


class AnonymousRouting:
    def __init__(self, dispatcher: Dispatcher, ports: Ports) -> None:
        self.dispatcher = dispatcher
        self.ports = ports

    async def route(
        self,
        line: str,
        actor: Actor,
        place: Place,
        at: datetime,
        *,
        bot_name: str,
        own_direct: bool,
    ) -> Md | None:
        """The answer to an ``ask anonymously`` line, or None for any other command.
        ``own_direct``: the place is the member's own direct chat with the bot (nobody
        else reads it). The commands it names are bare: the gateway gives them the
        platform's prefix, as for every reply (companion.mentions)."""
        ask = parse(line)
        if ask is None:
            return None
        if not place.is_direct or not own_direct:
            return use_a_direct_message(bot_name)
        port = capability(self.ports.get(place.platform), SharedCommunities)
        if port is None:
            return no_shared_room()
        rooms = ordered(await port.shared_communities(actor))
        if not rooms:
            return no_shared_room()
        room = pick(rooms, ask)
        if room is None:
            return which_room(rooms, ask.choice)
        # Asking needs no power, and the direct chat's power says nothing about the room.
        asker = actor._replace(is_moderator=False)
        reply = await self.dispatcher.run_text(ask.line, asker, room.place, at)
        return fmt("") if reply is None else as_md(reply.text)  # a Reply's text is Md already


def parse(line: str) -> AnonymousAsk | None:
    """The parts of a command line (prefix removed) whose first two words are
    ``ask anonymously``; None for every other command."""
    words = clean(line).strip().split(maxsplit=2)
    if len(words) < 2 or " ".join(words[:2]).lower() != COMMAND:
        return None
    rest = words[2] if len(words) == 3 else ""
    choice = _CHOICE.match(rest)
    if choice is None:
        return AnonymousAsk(None, rest)
    return AnonymousAsk(int(choice.group(1)), rest[choice.end() :].strip())


def ordered(rooms: Iterable[Community]) -> list[Community]:
    """The order of the numbered list: by name (rooms without one by id), then id."""
    return sorted(rooms, key=lambda room: (room.label.casefold(), room.place.room_id))


def pick(rooms: Sequence[Community], ask: AnonymousAsk) -> Community | None:
    """The room the question is for: the only one, or the one numbered; else None."""
    if ask.choice is None:
        return rooms[0] if len(rooms) == 1 else None
    return rooms[ask.choice - 1] if 1 <= ask.choice <= len(rooms) else None


# --- what the bot says -------------------------------------------------------------------------


def use_a_direct_message(bot_id: str) -> Md:
    """The answer in a community room, where everyone sees who asked."""
    return fmt(
        "Everyone here can see who writes in this room: to stay anonymous, send {} to me "
        "({}) in a direct message. I can't delete your message here; you may want to remove "
        "it yourself.",
        code(f"{COMMAND} <question>"),
        bot_id,
    )


def no_shared_room() -> Md:
    return fmt(
        "To ask anonymously, we need to share a community room: I post an approved question "
        "in the room it was asked for, and I'm not in any room with you. Invite me to your "
        "community's room, or ask there for me to be invited, then send your question here again."
    )


def which_room(rooms: Sequence[Community], choice: int | None = None) -> Md:
    """The numbered list of shared rooms, and how to pick one."""
    first = (
        fmt("There is no #{} in the list.", choice)
        if choice is not None
        else fmt("We share several community rooms.")
    )
    return lines(
        fmt("{} Which one is your question for?", first),
        bullets(fmt("#{} {}", i, room.label) for i, room in enumerate(rooms, 1)),
        fmt(
            "Send it again with the room's number: {}",
            code(f"{COMMAND} #1 <question>"),
        ),
    )
