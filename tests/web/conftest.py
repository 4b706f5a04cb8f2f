"""The dashboard's tests exercise the web surface, not the stores: like tests/adapters they
run on SQLite only, and read its file directly to prove what is (not) stored."""

from collections.abc import AsyncIterator

import pytest

from tests.fakes import RecordingPort
from tests.web.harness import WEB, Browserless, serve


@pytest.fixture
def store_kind() -> str:
    return "sqlite"


@pytest.fixture
async def web(make_app, clock) -> AsyncIterator[Browserless]:
    """The dashboard of an app with [web] on, served to a test client."""
    app = await make_app(sections=WEB)
    harness = await serve(app, RecordingPort(clock=clock))
    yield harness
    await harness.client.close()
