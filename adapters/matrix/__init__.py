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
- ``crypto.py``      encrypted rooms; ``lease.py`` one process per account;
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
    """Connect the bot account of ``[matrix]``, attach its port to the gateway, then sync until
    cancelled. Bad settings, a missing or refused token, or another process syncing the same
    account (its lease in the store) raise ConfigError before any sync."""
    from companion_adapters.matrix.adapter import MatrixAdapter
    from companion_adapters.matrix.lease import AccountLease
    from companion_adapters.matrix.settings import MatrixConfig

    config = MatrixConfig.from_section(settings.section("matrix"))
    adapter = MatrixAdapter(gateway, config)
    lease = AccountLease(gateway, config.user_id)
    try:
        await lease.take()
        await adapter.login()
        await gateway.attach("matrix", adapter)
        await lease.keep_while(adapter.sync_forever())
    finally:
        gateway.health.adapter_up("matrix", False)
        gateway.detach("matrix", adapter)
        await adapter.close()
        await lease.release()  # only this process's own lease: a refused start keeps the other's
