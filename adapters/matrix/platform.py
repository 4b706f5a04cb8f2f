"""Matrix, declared for the platform registry (companion.platforms); imports no nio."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from companion.platforms import Platform

if TYPE_CHECKING:
    from companion.app import App
    from companion.config import Settings


async def serve(app: App, settings: Settings) -> None:
    from companion_adapters.matrix import run

    await run(app, settings)


def check(section: Mapping[str, Any]) -> object:
    from companion_adapters.matrix.settings import MatrixConfig

    return MatrixConfig.from_section(section)


PLATFORM = Platform(
    "matrix",
    prefix="!",
    serve=serve,
    settings=(
        "homeserver",
        "user_id",
        "command_prefix",
        "moderator_level",
        "allowed_inviters",
        "max_command_age_minutes",
        "device_name",
        "encryption",
        "crypto_store_path",
        "unverified_devices",
        "encrypt_direct_rooms",
    ),
    prefix_setting="command_prefix",
    check=check,
    description="Matrix rooms (matrix-nio)",
)
