"""Shared fixtures: shipped content, a real store per test, an app with a fake clock.

``store_kind`` runs every test that builds an app twice: on a real SQLite file and on a fresh
database of a real PostgreSQL server (tests/pg_server). tests/adapters pins it to SQLite.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from companion import content as content_module
from companion.app import App, build
from companion.config import Settings
from companion.content import Content
from companion.events import Actor, Place, Reply
from tests.fakes import FakeClock

pytest_plugins = ["tests.matrix_server.fixtures", "tests.pg_server.fixtures"]

FIXTURE_CONTENT = Path(__file__).parent / "fixtures" / "content"
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday

MEMBER = Actor("u:member", "Member")
MODERATOR = Actor("u:mod", "Moderator", is_moderator=True)
PLACE = Place("test", "c:one", "r:general")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--content-dir",
        type=Path,
        default=None,
        help="run the content tests on this content directory instead of the shipped one",
    )


@pytest.fixture(scope="session")
def content_dir(request: pytest.FixtureRequest) -> Path:
    """The content under test: --content-dir, else the shipped content/."""
    chosen = request.config.getoption("--content-dir")
    return Path(chosen) if chosen else content_module.default_dir()


@pytest.fixture(scope="session")
def shipped(content_dir: Path) -> Content:
    return content_module.load(content_dir)


@pytest.fixture(scope="session")
def small() -> Content:
    return content_module.load(FIXTURE_CONTENT)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "companion.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(store_kind: str, request: pytest.FixtureRequest) -> str | None:
    """A fresh PostgreSQL database for this test, or None on SQLite."""
    if store_kind == "sqlite":
        return None
    return str(request.getfixturevalue("postgres").fresh_database())


@pytest.fixture
def store_target(database_url: str | None, db_path: Path) -> str | Path:
    """What Store.open takes for this test's store."""
    return database_url or db_path


AppFactory = Callable[..., Awaitable[App]]


@pytest.fixture
async def make_app(
    db_path: Path, database_url: str | None, clock: FakeClock, small: Content
) -> AsyncIterator[AppFactory]:
    """Build apps on the same store (call again to 'restart'); all closed at the end."""
    apps: list[App] = []

    async def factory(content: Content | None = None, **settings: object) -> App:
        app = await build(
            Settings(db_path=db_path, database_url=database_url, **settings),  # type: ignore[arg-type]
            clock=clock,
            rng=random.Random(7),
            content=content or small,
        )
        apps.append(app)
        return app

    yield factory
    for app in apps:
        await app.close()


@pytest.fixture
async def app(make_app: AppFactory) -> App:
    return await make_app()


async def say(app: App, line: str, actor: Actor = MEMBER, place: Place = PLACE) -> Reply:
    """Send a text command as a user would."""
    reply = await app.dispatcher.run_text(line, actor, place, app.clock.now())
    assert reply is not None, f"{line!r} was dropped by the flood limit"
    return reply
