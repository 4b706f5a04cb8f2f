"""Pytest plugin: a session-wide Synapse homeserver on loopback.

Register it once in ``tests/conftest.py``::

    pytest_plugins = ["tests.matrix_server.fixtures"]

Every test that uses the ``synapse`` fixture is marked ``matrix`` automatically, so
``pytest -m matrix`` / ``pytest -m "not matrix"`` select or skip them.

A test module may also ``from tests.matrix_server.fixtures import synapse`` to run on its
own; the server is shared by reference count, so that never starts a second Synapse.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.matrix_server.synapse import RegisteredUser, SynapseServer

__all__ = ["RegisteredUser", "SynapseServer", "synapse"]

MARKER = "matrix"

_shared: SynapseServer | None = None
_users = 0


def _acquire() -> SynapseServer:
    global _shared, _users
    if _shared is None:
        server = SynapseServer()
        try:
            server.start()
        except BaseException:
            server.stop()
            raise
        _shared = server
    _users += 1
    return _shared


def _release() -> None:
    global _shared, _users
    _users -= 1
    if _users <= 0 and _shared is not None:
        server, _shared, _users = _shared, None, 0
        server.stop()


@pytest.fixture(scope="session")
def synapse() -> Iterator[SynapseServer]:
    """A started Synapse (server_name ``localhost``) shared by the whole session."""
    server = _acquire()
    try:
        yield server
    finally:
        _release()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: needs a real Synapse homeserver on loopback")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "synapse" in getattr(item, "fixturenames", ()):
            item.add_marker(MARKER)
