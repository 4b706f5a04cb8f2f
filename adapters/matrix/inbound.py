"""From a Matrix message event (a raw dict) to what the core needs: a command line,
an Actor and a Place. No network, no matrix-nio: tested on plain dicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, NamedTuple

from companion.events import Actor, Place
from companion_adapters.matrix.rooms import RoomState

PLATFORM = "matrix"
DIRECT_PREFIX = "dm:"


class Command(NamedTuple):
    """A message that asks the bot something."""

    event_id: str
    room_id: str
    sender: str
    line: str  # the text after the prefix
    thread_root: str | None
    origin_server_ts: int  # milliseconds


def strip_reply_fallback(body: str) -> str:
    """Drop the quoted "> <@user> ..." lines older clients put before a reply's text."""
    if not body.startswith("> "):
        return body
    lines = body.split("\n")
    i = 0
    while i < len(lines) and lines[i].startswith(">"):
        i += 1
    return "\n".join(lines[i:]).lstrip("\n")


def thread_root(content: Mapping[str, Any]) -> str | None:
    relates = content.get("m.relates_to")
    if isinstance(relates, Mapping) and relates.get("rel_type") == "m.thread":
        root = relates.get("event_id")
        # The sender's client writes this: a lone surrogate or a NUL is no event id (and
        # no store could keep it as the place of what the command plans).
        return root if isinstance(root, str) and root and root.isprintable() else None
    return None


def command_of(
    event: Mapping[str, Any], room_id: str, own_user_id: str, prefix: str
) -> Command | None:
    """The command in a timeline event, or None for anything the bot must not answer:
    its own messages, notices (other bots), edits, non-text messages and plain talk."""
    if event.get("type") != "m.room.message" or "state_key" in event:
        return None
    sender = event.get("sender")
    event_id = event.get("event_id")
    if not isinstance(sender, str) or sender == own_user_id or not isinstance(event_id, str):
        return None
    content = event.get("content")
    if not isinstance(content, Mapping) or content.get("msgtype") != "m.text":
        return None
    if "m.new_content" in content:
        return None  # an edit: the original was the command
    relates = content.get("m.relates_to")
    if isinstance(relates, Mapping) and relates.get("rel_type") == "m.replace":
        return None
    body = content.get("body")
    if not isinstance(body, str):
        return None
    text = strip_reply_fallback(body).lstrip()
    if not text.startswith(prefix):
        return None
    line = text[len(prefix) :]
    if not line[:1].isalpha():
        return None  # "!!!" or "! " is talk, not a command
    ts = event.get("origin_server_ts")
    return Command(
        event_id=event_id,
        room_id=room_id,
        sender=sender,
        line=line,
        thread_root=thread_root(content),
        origin_server_ts=ts if isinstance(ts, int) and not isinstance(ts, bool) else 0,
    )


def too_old(command: Command, now_seconds: float, max_age: timedelta) -> bool:
    """Older than ``max_age`` by the homeserver's timestamp (a clock skew into the future
    counts as new)."""
    return now_seconds - command.origin_server_ts / 1000 > max_age.total_seconds()


def place_of(command: Command, direct: bool) -> Place:
    """A room is a community; a direct room is its own "dm:" community."""
    community = DIRECT_PREFIX + command.room_id if direct else command.room_id
    return Place(PLATFORM, community, command.room_id, command.thread_root)


def actor_of(command: Command, room: RoomState, moderator_level: int) -> Actor:
    return Actor(
        id=command.sender,
        display_name=room.display_name(command.sender),
        is_moderator=room.is_moderator(command.sender, moderator_level),
    )


def joined_at(events: Sequence[Mapping[str, Any]], own_user_id: str) -> int:
    """The index just after the bot's own join in a timeline (0 if it is not there):
    what came before it was said before the bot was in the room."""
    start = 0
    for i, event in enumerate(events):
        if event.get("type") != "m.room.member" or event.get("state_key") != own_user_id:
            continue
        content = event.get("content")
        if not isinstance(content, Mapping) or content.get("membership") != "join":
            continue
        unsigned = event.get("unsigned")
        previous = unsigned.get("prev_content") if isinstance(unsigned, Mapping) else None
        if isinstance(previous, Mapping) and previous.get("membership") == "join":
            continue  # a profile change, not a join
        start = i + 1
    return start


class Invite(NamedTuple):
    inviter: str | None
    is_direct: bool
    encrypted: bool
    room_name: str | None


def invite_of(invite_state: Sequence[Mapping[str, Any]], own_user_id: str) -> Invite:
    """Read the stripped state of an invite: who invited, a DM or not, encrypted or not."""
    inviter: str | None = None
    is_direct = False
    encrypted = False
    name: str | None = None
    for event in invite_state:
        kind = event.get("type")
        content = event.get("content")
        if not isinstance(content, Mapping):
            continue
        if (
            kind == "m.room.member"
            and event.get("state_key") == own_user_id
            and content.get("membership") == "invite"
        ):
            sender = event.get("sender")
            inviter = sender if isinstance(sender, str) else None
            is_direct = content.get("is_direct") is True
        elif kind == "m.room.encryption" and content.get("algorithm"):
            encrypted = True
        elif kind == "m.room.name" and isinstance(content.get("name"), str):
            name = content["name"].strip()[:100] or None
    return Invite(inviter, is_direct, encrypted, name)
