"""The Discord adapter (discord.py): slash commands rendered from the registry, a ChatPort.

Start it with ``await run(app, settings)``; ``companion run`` does so when the config file has
a ``[discord]`` table. Importing this package imports discord.py: the core never does.
"""

from companion_adapters.discord.adapter import CompanionClient, DiscordAdapter, run
from companion_adapters.discord.config import DiscordConfig

__all__ = ["CompanionClient", "DiscordAdapter", "DiscordConfig", "run"]
