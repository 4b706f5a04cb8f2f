"""Discord, declared for the platform registry (companion.platforms); imports no discord."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from companion.checklist import Check
from companion.commands import CommandSpec, Registry
from companion.config import Settings
from companion.gateway import Gateway
from companion.platforms import DoctorContext, LagGauge, Platform
from companion_adapters.discord.config import SETTINGS


async def serve(gateway: Gateway, settings: Settings) -> None:
    from companion_adapters.discord.adapter import run

    await run(gateway, settings)


def check(section: Mapping[str, Any]) -> object:
    from companion_adapters.discord.config import DiscordConfig

    return DiscordConfig.from_section(section)


async def doctor(context: DoctorContext) -> list[Check]:
    from companion_adapters.discord.doctor import checks  # discord.py, only when checked

    return await checks(context)


def usage(spec: CommandSpec, registry: Registry) -> str:
    """Slash commands show as Discord's client shows them: ``/define term:<term>``."""
    from companion_adapters.discord.tree import command_paths, slash_usage

    paths = command_paths(s.name for s in registry)
    return slash_usage(spec, paths[spec.name])


PLATFORM = Platform(
    "discord",
    prefix="/",
    serve=serve,
    settings=SETTINGS,
    check=check,
    usage=usage,
    doctor=doctor,
    lag=LagGauge(
        "companion_discord_gateway_latency_seconds", "Discord: the gateway's heartbeat round trip"
    ),
    description="Discord slash commands (discord.py)",
)
