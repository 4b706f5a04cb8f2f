"""Matrix adapter (matrix-nio): ``!`` text commands, ``m.notice`` replies, ``m.thread``
threads, power levels, and the ChatPort for scheduled posts.

Importing this package does not import matrix-nio; :func:`run` does. Where things live:

- ``adapter.py``     MatrixAdapter: builds the parts below and is the ChatPort
- ``session.py``     logging in (access token or password), and in again
- ``sync.py``        the sync loop: filters, the saved token, reconnects, health counters
- ``timeline.py``    one sync's events: room state in order, which commands to answer
- ``replies.py``     answering a command: in its room and thread, or privately
- ``membership.py``  invites, the hello, leaving rooms it cannot read, shared rooms
- ``direct.py``      the direct room with each member, kept under a keyed hash
- ``sending.py``     every request and send: retries, ``retry_after_ms``, transaction ids
- ``client.py``      matrix-nio's client, and reading its answers
- ``inbound.py``, ``outbound.py``, ``rooms.py``  pure: event -> command, text -> notices,
  a room's state and power levels
- ``native.py``      MSC3381 polls, RSVP reactions and announcement edits -> NativeAnswer
- ``crypto.py``      encrypted rooms (one process per account: ``Gateway.account_lease``);
  ``settings.py`` the ``[matrix]`` section; ``doctor.py`` its checks; ``platform.py``
  its entry in the platform registry
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from companion.config import Settings
    from companion.gateway import Gateway

__all__ = ["run"]


async def run(gateway: Gateway, settings: Settings) -> None:
    """Connect the bot account of ``[matrix]``, sync until cancelled, and attach its port to
    the gateway once the first sync has loaded the rooms (the scheduler starts then, if it has
    not). Bad settings, a missing or refused token, or another live process syncing the same
    account (its lease in the store) raise ConfigError before any sync."""
    from companion_adapters.matrix.adapter import MatrixAdapter
    from companion_adapters.matrix.settings import MatrixConfig

    config = MatrixConfig.from_section(settings.section("matrix"))
    adapter = MatrixAdapter(gateway, config)
    lease = gateway.account_lease(f"matrix:{config.user_id}", config.user_id)

    async def first_sync() -> None:
        # The port (so the scheduler's posts) only once the first sync has loaded the rooms
        # (the sync loop has set its ``synced``): matrix-nio with encryption refuses to send
        # to a room it has not synced.
        await gateway.attach("matrix", adapter)

    adapter.sync.on_first_sync = first_sync
    try:
        await lease.take()
        await adapter.login()
        await lease.keep_while(adapter.sync_forever())
    finally:
        gateway.health.adapter_up("matrix", False)
        gateway.detach("matrix", adapter)
        await adapter.close()
        await lease.release()  # only this process's own lease: a refused start keeps the other's
