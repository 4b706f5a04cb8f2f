"""The boundary between adapters and the core: plain, frozen values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from types import MappingProxyType
from typing import NamedTuple

from companion.fmt import Md, as_md


class Actor(NamedTuple):
    """Who is speaking. ``id`` is the platform's stable user id."""

    id: str
    display_name: str
    is_moderator: bool = False


class Place(NamedTuple):
    """Where something is said. A community is a Discord guild or a Matrix room (by default)."""

    platform: str
    community_id: str
    room_id: str
    thread_id: str | None = None

    @property
    def is_direct(self) -> bool:
        """A direct conversation with the bot, outside any community."""
        return self.community_id.startswith("dm:")


@dataclass(frozen=True, slots=True)
class Invocation:
    """One command, as the core sees it: already parsed into named arguments."""

    command: str
    args: Mapping[str, object]
    actor: Actor
    place: Place
    at: datetime

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("Invocation.at must be timezone-aware")
        object.__setattr__(self, "args", MappingProxyType(dict(self.args)))

    def number(self, name: str, default: int = 0) -> int:
        """An INT argument (already checked by the dispatcher), or ``default`` if absent."""
        value = self.args.get(name)
        return value if isinstance(value, int) else default

    def text(self, name: str, default: str = "") -> str:
        """A text argument, or ``default`` if absent."""
        value = self.args.get(name)
        return default if value is None else str(value)


class Kind(Enum):
    """What a reply, post or thread is, so an adapter can present one kind its own way (a
    Matrix template for the daily reflection) without changing the shared renderer."""

    ANSWER = "answer"  # an ordinary answer to a command
    CONFIRMATION = "confirmation"  # done: added, planned, removed, noted
    LIST = "list"  # a listing: terms, prompts, resources, the queue, schedules, a journal
    HELP = "help"
    DEFINITION = "definition"
    LESSON = "lesson"  # a myth or a practice
    REFLECTION = "reflection"  # the day's reflection question, asked for or posted
    PROMPT = "prompt"  # a discussion prompt
    DISCUSSION = "discussion"  # the opening message of a discussion thread
    REMINDER = "reminder"  # a book club's reminder the day before
    QUESTION = "question"  # an anonymous question posted to the community
    NOTICE = "notice"  # a private message to one member (a decision on a suggestion)
    USAGE_ERROR = "usage_error"  # a command called the wrong way; carries the usage line
    ERROR = "error"  # something the member can fix
    APOLOGY = "apology"  # something broke on the bot's side


@dataclass(frozen=True, slots=True)
class Reply:
    """What the core answers. ``text`` is the core's small Markdown (companion.markup),
    built with companion.fmt; a plain ``str`` is escaped, so it is shown as typed."""

    text: str
    private: bool = False
    kind: Kind = Kind.ANSWER

    def __post_init__(self) -> None:
        if not isinstance(self.text, Md):
            object.__setattr__(self, "text", as_md(self.text))


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message an adapter sent, so the core can refer to it later."""

    place: Place
    message_id: str
    extra: Mapping[str, str] = field(default_factory=dict)


# An event's announcement is answered by reacting to it (companion.ports.Announcements).
RSVP_REACTIONS = {"✅": "yes", "❔": "maybe", "❌": "no"}


class NativeAnswer(NamedTuple):
    """A member answered the platform's own way: voted in a native poll, reacted to an
    event's announcement, said "Interested" to a scheduled event.

    ``ref`` is the platform's id of what was answered, as the port returned it when the
    bot opened it (a poll's message or event, an announcement, a scheduled event);
    ``community_id`` is where the answer was given, and only a poll or event of that
    community is found. ``choice`` is a poll answer's number (1-based), or ``"yes"``,
    ``"maybe"`` or ``"no"`` for an RSVP; ``None`` takes the member's answer back (and so
    does a number that is none of the poll's answers: a spoiled vote).
    """

    platform: str
    community_id: str
    ref: str
    member_id: str
    choice: int | str | None
    was: int | str | None = None  # with choice None: the answer taken back, where the
    # platform says which (only that one is: an answer given since then stands)
