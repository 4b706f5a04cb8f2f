"""`ask anonymously` on Matrix, where a message in a room is seen by everyone in it.

On Discord a slash command is seen only by the bot; on Matrix the question typed in a
community room already shows its author's name. So the adapter does not pass it on from
there: it asks the member to send it in a direct message, and from the direct room it
dispatches the question as if asked in the community room the member shares with the bot
(``ask anonymously #N <question>`` picks one when there are several).

Routing only, no feature logic: the core's ``ask anonymously`` does the rest. Pure
functions, tested without a server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from companion.markup import escape
from companion.textparse import clean

COMMAND = "ask anonymously"
_CHOICE = re.compile(r"#(\d{1,4})(?=\s|$)")


@dataclass(frozen=True, slots=True)
class AnonymousAsk:
    """``ask anonymously [#N] <question>``, taken apart."""

    choice: int | None  # N of "#N": a room from the numbered list of shared rooms
    question: str

    @property
    def line(self) -> str:
        """The command line the core gets (the choice is the adapter's, not the core's)."""
        return f"{COMMAND} {self.question}".strip()


@dataclass(frozen=True, slots=True)
class SharedRoom:
    """A community room the bot and the member are both in."""

    room_id: str
    name: str | None

    @property
    def label(self) -> str:
        return self.name or self.room_id


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


def ordered(rooms: Iterable[SharedRoom]) -> list[SharedRoom]:
    """The order of the numbered list: by name (rooms without one by id), then id."""
    return sorted(rooms, key=lambda room: (room.label.casefold(), room.room_id))


def pick(rooms: Sequence[SharedRoom], ask: AnonymousAsk) -> SharedRoom | None:
    """The room the question is for: the only one, or the one numbered; else None."""
    if ask.choice is None:
        return rooms[0] if len(rooms) == 1 else None
    return rooms[ask.choice - 1] if 1 <= ask.choice <= len(rooms) else None


# --- what the bot says -------------------------------------------------------------------------


def use_a_direct_message(prefix: str, bot_id: str) -> str:
    """The answer in a community room, where everyone sees who asked."""
    return (
        f"Everyone here can see who writes in this room: to stay anonymous, send "
        f"`{prefix}{COMMAND} <question>` to me ({escape(bot_id)}) in a direct message. "
        "I can't delete your message here; you may want to remove it yourself."
    )


def no_shared_room() -> str:
    return (
        "To ask anonymously, we need to share a community room: I post an approved question "
        "in the room it was asked for, and I'm not in any room with you. Invite me to your "
        "community's room, or ask there for me to be invited, then send your question here again."
    )


def which_room(rooms: Sequence[SharedRoom], prefix: str, choice: int | None = None) -> str:
    """The numbered list of shared rooms, and how to pick one."""
    first = (
        f"There is no #{choice} in the list."
        if choice is not None
        else "We share several community rooms."
    )
    lines = [f"{first} Which one is your question for?"]
    lines += [f"- #{i} {escape(room.label)}" for i, room in enumerate(rooms, 1)]
    lines.append(f"Send it again with the room's number: `{prefix}{COMMAND} #1 <question>`")
    return "\n".join(lines)
