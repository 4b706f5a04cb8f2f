"""Discord, declared for the platform registry (companion.platforms); imports no discord."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from companion.commands import CommandSpec, Registry
from companion.platforms import Platform

if TYPE_CHECKING:
    from companion.app import App
    from companion.config import Settings


async def serve(app: App, settings: Settings) -> None:
    from companion_adapters.discord.adapter import run

    await run(app, settings)


def check(section: Mapping[str, Any]) -> object:
    from companion_adapters.discord.config import DiscordConfig

    return DiscordConfig.from_section(section)


def usage(spec: CommandSpec, registry: Registry) -> str:
    """Slash commands show as Discord's client shows them: ``/define term:<term>``."""
    from companion_adapters.discord.tree import command_paths, slash_usage

    paths = command_paths(s.name for s in registry)
    return slash_usage(spec, paths[spec.name])


PLATFORM = Platform(
    "discord",
    prefix="/",
    serve=serve,
    settings=(
        "test_guild_id",
        "moderator_role_ids",
        "api_base",
        "gateway_url",
        "shard_count",
        "shard_ids",
        "forum_tags",
    ),
    check=check,
    usage=usage,
    description="Discord slash commands (discord.py)",
)
