"""Matrix adapter (matrix-nio): ``!`` text commands, ``m.notice`` replies, ``m.thread``
threads, power levels, and the ChatPort for scheduled posts.

Importing this package does not import matrix-nio; :func:`run` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from companion.app import App
    from companion.config import Settings

__all__ = ["run"]


async def run(app: App, settings: Settings) -> None:
    """Connect the bot account of ``[matrix]``, register its port with the app, then sync until
    cancelled. Bad settings, a missing or refused token, or another process syncing the same
    account (its lease in the store) raise ConfigError before any sync."""
    from companion_adapters.matrix.adapter import MatrixAdapter
    from companion_adapters.matrix.lease import AccountLease
    from companion_adapters.matrix.settings import MatrixConfig

    config = MatrixConfig.from_section(settings.section("matrix"))
    adapter = MatrixAdapter(app, config)
    lease = AccountLease(app, config.user_id)
    try:
        await lease.take()
        await adapter.login()
        app.ports.attach("matrix", adapter)
        await app.scheduler.start()
        await lease.keep_while(adapter.sync_forever())
    finally:
        app.metrics.adapter_up("matrix", False)
        app.ports.detach("matrix", adapter)
        await adapter.close()
        await lease.release()  # only this process's own lease: a refused start keeps the other's
