"""Pytest plugin: one PostgreSQL server for the session, a fresh database per test.

The server comes from Debian's ``postgresql`` package (``.ci/run`` installs it). Without it
the PostgreSQL tests are skipped on a developer's machine, but fail under CI (``CI=true``):
CI never skips a real component.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.pg_server.server import PostgresMissing, PostgresServer


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer()
    except PostgresMissing as missing:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(str(missing))
        pytest.skip(str(missing))
    try:
        server.start()
        yield server
    finally:
        server.stop()
