"""What the double records about the bot's requests, for tests to assert on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .models import JSON, Channel


@dataclass(eq=False)
class SentMessage:
    """A message the bot created: ``source`` is channel, forum, interaction or followup."""

    id: int
    channel_id: int
    source: str
    payload: JSON  # the request body as sent (for edits: the create body)
    data: JSON  # the message object as Discord would return it now (after edits)
    files: list[str] = field(default_factory=list)
    edits: list[JSON] = field(default_factory=list)
    deleted: bool = False

    @property
    def content(self) -> str:
        return str(self.data.get("content", ""))

    @property
    def embeds(self) -> list[JSON]:
        return list(self.data.get("embeds", []))

    @property
    def nonce(self) -> Any:
        return self.payload.get("nonce")

    @property
    def allowed_mentions(self) -> JSON | None:
        return self.payload.get("allowed_mentions")

    @property
    def flags(self) -> int:
        return int(self.data.get("flags", 0))

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & 64)


@dataclass(eq=False)
class Callback:
    """One ``POST /interactions/{id}/{token}/callback``."""

    interaction_id: int
    type: int
    data: JSON
    payload: JSON


@dataclass(eq=False)
class InteractionRecord:
    """An interaction the double sent, and everything the bot answered to it."""

    id: int
    token: str
    type: int
    name: str | None
    payload: JSON  # the INTERACTION_CREATE data
    created_at: float  # loop time, for the 3 s deadline
    focused_type: int | None = None  # option type of the focused option (autocomplete)
    callback: Callback | None = None
    original: SentMessage | None = None
    followups: list[SentMessage] = field(default_factory=list)

    @property
    def choices(self) -> list[JSON]:
        """The autocomplete choices returned (callback type 8)."""
        if self.callback is None or self.callback.type != 8:
            raise AssertionError(f"no autocomplete result for interaction {self.name!r}")
        return list(self.callback.data.get("choices", []))

    @property
    def messages(self) -> list[SentMessage]:
        """The original response (if any) followed by the followups, in order."""
        head = [self.original] if self.original is not None else []
        return head + [m for m in self.followups if m is not self.original]


@dataclass(eq=False)
class ThreadRecord:
    """A thread the bot started: ``source`` is message, channel or forum."""

    channel: Channel
    source: str
    payload: JSON
    starter: SentMessage | None = None

    @property
    def name(self) -> str:
        return self.channel.name

    @property
    def id(self) -> int:
        return self.channel.id


@dataclass(eq=False)
class CommandSync:
    guild_id: int | None
    payload: Any
    accepted: bool
    response: Any


@dataclass(eq=False)
class RequestError:
    """A request the double refused the way Discord would (or an internal error of the double)."""

    method: str
    path: str
    status: int
    body: JSON
    payload: Any = None


@dataclass(eq=False)
class Unhandled:
    method: str
    path: str
    body: str
