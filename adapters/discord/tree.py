"""The core's command registry rendered as Discord application commands: pure data.

No discord.py here. :func:`render_tree` turns ``CommandSpec`` values into the JSON body of
Discord's bulk-overwrite endpoint, plus the routes that take an interaction back to a spec.

- A one-word name is a top-level command: ``define`` -> ``/define``.
- A two-word name is a subcommand of a group named by its first word:
  ``prompt add`` -> ``/prompt add``.
- Discord cannot invoke a group by itself, so where the core has both ``prompt`` and
  ``prompt add`` the bare one becomes the subcommand ``show``: ``/prompt show``.
- ``default_member_permissions`` (Manage Server) only hides a top-level command, so it is set
  only where every command under it is for moderators; the core's check is what refuses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from companion.commands import CommandSpec, Param, ParamType

JSON = dict[str, Any]

BARE = "show"  # the subcommand a bare command becomes when a group shares its name
MANAGE_GUILD = 1 << 5
MAX_DESCRIPTION = 100
MAX_STRING = 6000  # Discord's max_length ceiling for string options
MAX_CHOICES = 25
MAX_OPTIONS = 25
MAX_TOP_LEVEL = 100
CHAT_INPUT, SUB_COMMAND, STRING, INTEGER = 1, 1, 3, 4
GUILD_CONTEXT, BOT_DM_CONTEXT = 0, 1
GUILD_INSTALL = 0
_NAME = re.compile(r"^[-_'\w]{1,32}$")


class Route(NamedTuple):
    """Where an interaction for one Discord command path goes in the core."""

    spec: CommandSpec
    path: tuple[str, ...]  # ("define",) or ("prompt", "show")
    integer_params: frozenset[str]  # options sent as integers (autocomplete values too)


RouteKey = tuple[str, str | None]  # (top-level name, subcommand name or None)


class RenderedTree(NamedTuple):
    commands: list[JSON]  # the body of PUT /applications/{id}[/guilds/{id}]/commands
    routes: Mapping[RouteKey, Route]


def shorten(text: str, limit: int = MAX_DESCRIPTION) -> str:
    """``text`` on one line, at most ``limit`` characters (an ellipsis marks a cut)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def command_paths(names: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Each core command name -> its path in Discord's tree (one or two names)."""
    names = list(names)
    groups = {name.split()[0] for name in names if len(name.split()) == 2}
    paths: dict[str, tuple[str, ...]] = {}
    taken: dict[tuple[str, ...], str] = {}
    for name in names:
        words = tuple(name.split())
        if not 1 <= len(words) <= 2:
            raise ValueError(f"command {name!r}: Discord allows one or two words")
        path = (words[0], BARE) if len(words) == 1 and words[0] in groups else words
        for word in path:
            if not _valid_name(word):
                raise ValueError(f"command {name!r}: {word!r} is not a valid Discord name")
        if path in taken:
            raise ValueError(
                f"commands {taken[path]!r} and {name!r} would both be /{' '.join(path)}"
            )
        taken[path] = name
        paths[name] = path
    return paths


def render_tree(specs: Iterable[CommandSpec], *, global_scope: bool = True) -> RenderedTree:
    """The application commands for ``specs``; ``global_scope`` adds the DM contexts."""
    specs = list(specs)
    paths = command_paths(spec.name for spec in specs)
    by_top: dict[str, list[tuple[tuple[str, ...], CommandSpec]]] = {}
    for spec in specs:
        path = paths[spec.name]
        by_top.setdefault(path[0], []).append((path, spec))
    if len(by_top) > MAX_TOP_LEVEL:
        raise ValueError(f"{len(by_top)} top-level commands; Discord allows {MAX_TOP_LEVEL}")
    commands: list[JSON] = []
    routes: dict[RouteKey, Route] = {}
    for top, members in by_top.items():
        if len(members) == 1 and len(members[0][0]) == 1:
            path, spec = members[0]
            command = {
                "type": CHAT_INPUT,
                "name": top,
                "description": shorten(spec.description) or top,
                "options": render_options(spec),
            }
        else:
            if len(members) > MAX_OPTIONS:
                raise ValueError(f"/{top} has {len(members)} subcommands; Discord allows 25")
            subs = sorted(members, key=lambda m: (m[0][1] != BARE, m[0][1]))
            command = {
                "type": CHAT_INPUT,
                "name": top,
                "description": shorten(
                    f"{top.capitalize()}: " + ", ".join(path[1] for path, _ in subs)
                ),
                "options": [
                    {
                        "type": SUB_COMMAND,
                        "name": path[1],
                        "description": shorten(spec.description) or path[1],
                        "options": render_options(spec),
                    }
                    for path, spec in subs
                ],
            }
        if all(spec.moderator_only for _, spec in members):
            command["default_member_permissions"] = str(MANAGE_GUILD)
        if global_scope:
            dm = any(spec.in_direct for _, spec in members)
            command["contexts"] = [GUILD_CONTEXT, BOT_DM_CONTEXT] if dm else [GUILD_CONTEXT]
            command["integration_types"] = [GUILD_INSTALL]
        commands.append(command)
        for path, spec in members:
            integers = frozenset(p.name for p in spec.params if p.type is ParamType.INT)
            key = (path[0], path[1] if len(path) == 2 else None)
            routes[key] = Route(spec, path, integers)
    return RenderedTree(commands, routes)


def render_options(spec: CommandSpec) -> list[JSON]:
    if len(spec.params) > MAX_OPTIONS:
        raise ValueError(f"{spec.name!r} has {len(spec.params)} params; Discord allows 25")
    return [render_option(spec, param) for param in spec.params]


def render_option(spec: CommandSpec, param: Param) -> JSON:
    if not _valid_name(param.name) or param.name.lower() != param.name:
        raise ValueError(f"{spec.name!r}: {param.name!r} is not a valid Discord option name")
    integer = param.type is ParamType.INT
    option: JSON = {
        "type": INTEGER if integer else STRING,
        "name": param.name,
        "description": shorten(param.description) or param.name,
        "required": param.required,
    }
    if integer:
        if param.min_value is not None:
            option["min_value"] = param.min_value
        if param.max_value is not None:
            option["max_value"] = param.max_value
    else:
        option["max_length"] = max(1, min(param.max_length, MAX_STRING))
    if param.choices and len(param.choices) <= MAX_CHOICES:
        option["choices"] = [
            {"name": shorten(choice), "value": int(choice) if integer else choice}
            for choice in param.choices
        ]
    elif param.choices or param.complete is not None:
        # Too many choices for Discord's list: the dispatcher filters them as the user types.
        option["autocomplete"] = True
    return option


def _valid_name(name: str) -> bool:
    return bool(_NAME.match(name)) and name.lower() == name


def slash_usage(spec: CommandSpec, path: tuple[str, ...]) -> str:
    """How a Discord user types a command: `/prompt show`, `/define term:<term>`."""
    words = ["/" + " ".join(path)]
    for param in spec.params:
        words.append(f"{param.name}:<{param.name}>" if param.required else f"[{param.name}:]")
    return " ".join(words)
