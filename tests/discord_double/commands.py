"""Build interaction ``data`` for ``/name options`` from the commands the bot registered.

Discord's client only lets a user invoke registered commands with well-typed options, so
anything it would not offer raises here (LookupError, ValueError, PermissionError).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .models import JSON, Channel, Guild, Member, Perm, Role, User

SUBCOMMANDS = (1, 2)
SCALARS: dict[int, Any] = {3: str, 4: int, 5: bool, 10: int | float}


def find_command(
    global_commands: list[JSON], guild_commands: list[JSON], top: str, guild: Guild | None
) -> tuple[JSON, bool]:
    """The registered chat-input command ``top``; the bool says it is a guild command."""
    for cmd in guild_commands:
        if cmd["name"] == top and cmd.get("type", 1) == 1:
            return cmd, True
    for cmd in global_commands:
        if cmd["name"] == top and cmd.get("type", 1) == 1:
            contexts = cmd.get("contexts")
            if contexts is None or (0 if guild else 1) in contexts:
                return cmd, False
    where = f"guild {guild.name}" if guild else "DMs"
    raise LookupError(f"/{top} is not registered for {where}; Discord would not offer it")


def check_visible(cmd: JSON, guild: Guild, member: Member) -> None:
    """``default_member_permissions`` hides a command from members without those bits."""
    needed = cmd.get("default_member_permissions")
    if needed is None or (cmd["name"], member.id) in guild.command_overrides:
        return
    perms, bits = guild.base_permissions(member), int(needed)
    if not perms & Perm.ADMINISTRATOR and not (bits and perms & bits == bits):
        raise PermissionError(f"/{cmd['name']} is hidden from {member.user.username}")


def command_data(
    cmd: JSON,
    name: str,
    values: Mapping[str, Any],
    *,
    focused: str | None = None,
    guild: Guild | None = None,
    channel: Channel | None = None,
) -> JSON:
    """``data`` of an APPLICATION_COMMAND (or, with ``focused``, AUTOCOMPLETE) interaction."""
    top, *path = name.split()
    root: list[JSON] = []
    container, schema = root, cmd.get("options", [])
    for part in path:
        sub = next((o for o in schema if o["name"] == part and o["type"] in SUBCOMMANDS), None)
        if sub is None:
            raise LookupError(f"/{top} has no subcommand {part!r}")
        node: JSON = {"name": part, "type": sub["type"], "options": []}
        container.append(node)
        container, schema = node["options"], sub.get("options", [])
    if any(o["type"] in SUBCOMMANDS for o in schema):
        raise ValueError(f"/{name} needs a subcommand")
    resolved: JSON = {}
    for key, value in values.items():
        option = next((o for o in schema if o["name"] == key), None)
        if option is None:
            raise ValueError(f"/{name} has no option {key!r}")
        if key == focused:
            if not option.get("autocomplete"):
                raise ValueError(f"option {key!r} has no autocomplete")
            container.append({"name": key, "type": option["type"], "value": str(value)})
            container[-1]["focused"] = True
        else:
            container.append(option_value(option, value, resolved, guild, channel))
    if focused is not None and focused not in values:
        raise ValueError(f"the focused option {focused!r} needs a (partial) value")
    if focused is None:
        missing = [o["name"] for o in schema if o.get("required") and o["name"] not in values]
        if missing:
            raise ValueError(f"/{name} is missing required options {missing}")
    data: JSON = {"id": cmd["id"], "name": top, "type": 1, "options": root}
    if resolved:
        data["resolved"] = resolved
    if cmd.get("guild_id"):
        data["guild_id"] = cmd["guild_id"]
    return data


def option_value(
    option: JSON, value: Any, resolved: JSON, guild: Guild | None, channel: Channel | None
) -> JSON:
    """One option as Discord sends it; users, roles and channels also go into ``resolved``."""
    kind, name = option["type"], option["name"]
    out: JSON = {"name": name, "type": kind}
    if kind in SCALARS:
        if not isinstance(value, SCALARS[kind]) or (kind in (4, 10) and isinstance(value, bool)):
            raise ValueError(f"option {name!r} wants {SCALARS[kind]}, got {value!r}")
        choices = [c["value"] for c in option.get("choices", [])]
        if choices and value not in choices:
            raise ValueError(f"option {name!r}: {value!r} is not one of {choices}")
        size = len(value) if kind == 3 else value
        low = option.get("min_length" if kind == 3 else "min_value")
        high = option.get("max_length" if kind == 3 else "max_value")
        if (low is not None and size < low) or (high is not None and size > high):
            raise ValueError(f"option {name!r}: {value!r} is outside [{low}, {high}]")
        return out | {"value": value}
    if isinstance(value, Member | User) and kind in (6, 9):
        user = value.user if isinstance(value, Member) else value
        resolved.setdefault("users", {})[str(user.id)] = user.payload()
        member = guild.member(user.id) if guild else None
        if member is not None and guild is not None and channel is not None:
            perms = {"permissions": str(guild.permissions_in(member, channel))}
            members = resolved.setdefault("members", {})
            members[str(user.id)] = member.payload(with_user=False) | perms
        return out | {"value": str(user.id)}
    if isinstance(value, Role) and kind in (8, 9):
        resolved.setdefault("roles", {})[str(value.id)] = value.payload()
        return out | {"value": str(value.id)}
    if isinstance(value, Channel) and kind == 7:
        types = option.get("channel_types")
        if types and value.type not in types:
            raise ValueError(f"option {name!r} accepts channel types {types}")
        data = {k: v for k, v in value.payload().items() if k != "permission_overwrites"}
        resolved.setdefault("channels", {})[str(value.id)] = data | {"permissions": "0"}
        return out | {"value": str(value.id)}
    raise ValueError(f"option {name!r} (type {kind}) cannot take {value!r}")


def focused_type(data: JSON) -> int | None:
    """The option type of the focused option, to check the autocomplete choices against."""
    options = data.get("options", [])
    while options:
        for option in options:
            if option.get("focused"):
                return int(option["type"])
        options = next((o.get("options", []) for o in options if o["type"] in SUBCOMMANDS), [])
    return None
