"""Matrix, declared for the platform registry (companion.platforms); imports no nio."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from companion.checklist import Check
from companion.config import Settings
from companion.gateway import Gateway
from companion.platforms import DoctorContext, LagGauge, Platform
from companion_adapters.matrix.settings import SETTINGS


async def serve(gateway: Gateway, settings: Settings) -> None:
    from companion_adapters.matrix import run

    await run(gateway, settings)


def check(section: Mapping[str, Any]) -> object:
    from companion_adapters.matrix.settings import MatrixConfig

    return MatrixConfig.from_section(section)


async def doctor(context: DoctorContext) -> list[Check]:
    from companion_adapters.matrix.doctor import checks  # matrix-nio, only when checked

    return await checks(context)


PLATFORM = Platform(
    "matrix",
    prefix="!",
    serve=serve,
    settings=SETTINGS,
    prefix_setting="command_prefix",
    check=check,
    doctor=doctor,
    lag=LagGauge(
        "companion_matrix_sync_lag_seconds",
        "Matrix: how long after the homeserver received it the bot saw the latest command",
    ),
    description="Matrix rooms (matrix-nio)",
)
