"""The boundary between adapters and the core: plain, frozen values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is speaking. ``id`` is the platform's stable user id."""

    id: str
    display_name: str
    is_moderator: bool = False


@dataclass(frozen=True, slots=True)
class Place:
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


@dataclass(frozen=True, slots=True)
class Reply:
    """What the core answers. ``text`` is a small CommonMark subset (see companion.markup)."""

    text: str
    private: bool = False


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message an adapter sent, so the core can refer to it later."""

    place: Place
    message_id: str
    extra: Mapping[str, str] = field(default_factory=dict)
