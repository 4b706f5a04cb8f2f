"""The Discord adapter (discord.py): slash commands rendered from the registry, a ChatPort.

Start it with ``await run(app, settings)``; ``companion run`` does so when the config file has
a ``[discord]`` table. Importing this package does not import discord.py (its platform
declaration and command tree are plain Python); the names below load it when first used.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["CompanionClient", "DiscordAdapter", "DiscordConfig", "run"]
_WHERE = {
    "CompanionClient": "companion_adapters.discord.adapter",
    "DiscordAdapter": "companion_adapters.discord.adapter",
    "run": "companion_adapters.discord.adapter",
    "DiscordConfig": "companion_adapters.discord.config",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
