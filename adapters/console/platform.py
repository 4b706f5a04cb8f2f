"""The terminal, declared for the platform registry (companion.platforms)."""

from __future__ import annotations

from companion.config import Settings
from companion.gateway import Gateway
from companion.platforms import Platform


async def serve(gateway: Gateway, settings: Settings) -> None:
    """Chat in this terminal until end of input or `quit`."""
    from companion_adapters.console.adapter import PLACE, ConsoleAdapter

    console = ConsoleAdapter(gateway)
    await gateway.attach(PLACE.platform, console)
    try:
        await console.run()
    finally:
        gateway.detach(PLACE.platform, console)


PLATFORM = Platform(
    "console",
    prefix="",
    serve=serve,
    monitored=False,  # no connection to watch: /healthz does not wait for it
    description="this terminal",
)
