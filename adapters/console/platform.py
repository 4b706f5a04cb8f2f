"""The terminal, declared for the platform registry (companion.platforms)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from companion.platforms import Platform

if TYPE_CHECKING:
    from companion.app import App
    from companion.config import Settings


async def serve(app: App, settings: Settings) -> None:
    """Chat in this terminal until end of input or `quit`."""
    from companion_adapters.console.adapter import PLACE, ConsoleAdapter

    console = ConsoleAdapter(app)
    app.ports.attach(PLACE.platform, console)
    try:
        await console.run()
    finally:
        app.ports.detach(PLACE.platform, console)


PLATFORM = Platform("console", prefix="", serve=serve, description="this terminal")
