"""What the adapter keeps about each joined room: who may moderate, encryption, names.

Works on raw event dicts (``event.source`` in matrix-nio), so it is tested without a server.

Power: a user's level is ``power_levels.users[id]``, else ``users_default``. In room version
12 and later the room's creators (the sender of ``m.room.create`` and any
``additional_creators``) have unlimited power and are *not* listed in ``users``; before
version 12 creators have only what the power levels give them, except in a room with no
``m.room.power_levels`` event at all, where the creator has 100.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

CREATOR_POWER = math.inf


def creators_are_privileged(room_version: str) -> bool:
    """Room versions 12+ (and unknown, non-numeric ones, which are newer experiments)."""
    try:
        return int(room_version) >= 12
    except ValueError:
        return True


def _level(value: object) -> int | None:
    """Power levels are ints; very old rooms may carry them as strings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _levels(value: object) -> dict[str, int]:
    """A power levels map (``users`` or ``events``), without the entries that are no level."""
    if not isinstance(value, Mapping):
        return {}
    levels = {str(key): _level(level) for key, level in value.items()}
    return {key: level for key, level in levels.items() if level is not None}


@dataclass(slots=True)
class RoomState:
    room_version: str = "1"
    creators: frozenset[str] = frozenset()
    has_power_levels: bool = False
    users: dict[str, int] = field(default_factory=dict)
    users_default: int = 0
    events: dict[str, int] = field(default_factory=dict)  # the level each event type needs
    events_default: int = 0
    encrypted: bool = False
    encrypted_by: str | None = None
    names: dict[str, str] = field(default_factory=dict)
    name: str | None = None

    def apply(self, event: Mapping[str, Any]) -> None:
        """Take in one state event (from the state block or the timeline, in order)."""
        kind = event.get("type")
        content = event.get("content")
        if not isinstance(content, Mapping) or "state_key" not in event:
            return
        if kind == "m.room.create":
            version = content.get("room_version", "1")
            self.room_version = str(version) if version else "1"
            creators = {str(event.get("sender", ""))}
            extra = content.get("additional_creators")
            if isinstance(extra, list):
                creators.update(str(user) for user in extra if isinstance(user, str))
            self.creators = frozenset(c for c in creators if c)
        elif kind == "m.room.power_levels":
            self.has_power_levels = True
            self.users = _levels(content.get("users"))
            self.users_default = _level(content.get("users_default", 0)) or 0
            self.events = _levels(content.get("events"))
            self.events_default = _level(content.get("events_default", 0)) or 0
        elif kind == "m.room.encryption":
            if content.get("algorithm"):
                self.encrypted = True
                self.encrypted_by = str(event.get("sender") or "") or None
        elif kind == "m.room.member":
            user = event.get("state_key")
            if not isinstance(user, str):
                return
            if content.get("membership") == "join":
                shown = content.get("displayname")
                if isinstance(shown, str) and shown.strip():
                    self.names[user] = shown.strip()[:100]
                else:
                    self.names.pop(user, None)
            else:
                self.names.pop(user, None)
        elif kind == "m.room.name":
            name = content.get("name")
            self.name = name.strip()[:100] if isinstance(name, str) and name.strip() else None

    def apply_all(self, events: Iterable[Mapping[str, Any]]) -> None:
        for event in events:
            self.apply(event)

    def power(self, user_id: str) -> float:
        if user_id in self.creators:
            if creators_are_privileged(self.room_version):
                return CREATOR_POWER
            if not self.has_power_levels:
                return 100
        if user_id in self.users:
            return self.users[user_id]
        return self.users_default

    def needed_to_send(self, event_type: str) -> int:
        """The power level a (non-state) event of ``event_type`` needs."""
        return self.events.get(event_type, self.events_default)

    def is_moderator(self, user_id: str, level: int) -> bool:
        return self.power(user_id) >= level

    def display_name(self, user_id: str) -> str:
        """The member's display name, else the localpart of the id."""
        return self.names.get(user_id) or user_id[1:].split(":", 1)[0] or user_id
