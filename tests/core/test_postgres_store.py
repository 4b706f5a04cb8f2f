"""The PostgreSQL store itself: migrations, settings, its password, a lost connection."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from companion.app import build
from companion.config import ConfigError, Settings
from companion.dispatch import APOLOGY
from companion.events import Kind, Place
from companion.platforms import load_settings
from companion.ports import TransientFailure
from companion.store import Store
from companion.store.members import MemberRepo
from companion.store.postgres.db import StoreUnavailable, migrations, redact
from tests.conftest import MEMBER, MODERATOR, say
from tests.fakes import RecordingPort
from tests.pg_server.server import PASSWORD_USER, PostgresServer


@pytest.fixture
def pg_url(postgres: PostgresServer) -> str:
    return postgres.fresh_database()


async def test_migrations_are_recorded_once_even_when_processes_start_together(pg_url):
    stores = await asyncio.gather(*(Store.open(pg_url) for _ in range(3)))
    rows = await stores[0].db.fetchall("SELECT number, name FROM schema_migration ORDER BY 1")
    assert [(n, name) for n, name, _ in migrations()] == [tuple(r) for r in rows]
    for store in stores:
        await store.close()
    again = await Store.open(pg_url)
    assert await again.db.version() == len(migrations())  # nothing applied twice
    await again.close()


async def test_text_with_sql_in_it_is_stored_as_text(pg_url):
    store = await Store.open(pg_url)
    nasty = "x'); DROP TABLE kv; -- ? $1"
    await store.kv.set(nasty, nasty)
    assert await store.kv.get(nasty) == nasty
    assert (await store.db.fetchone("SELECT count(*) FROM kv"))[0] == 1
    await store.close()


def test_the_storage_url_picks_the_store(tmp_path):
    path = tmp_path / "companion.toml"
    path.write_text('[console]\n[storage]\nurl = "postgresql://bot@db.example/companion"\n')
    settings = load_settings(path)
    assert settings.store_target == "postgresql://bot@db.example/companion"
    path.write_text('[console]\n[storage]\nurl = "sqlite:///srv/companion/bot.db"\n')
    settings = load_settings(path)
    assert settings.database_url is None and str(settings.store_target) == "/srv/companion/bot.db"
    for bad, message in (
        ("postgresql://bot:hunter2@db.example/companion", "COMPANION_DATABASE_PASSWORD"),
        ("postgresql://bot@db.example/companion?password=hunter2", "COMPANION_DATABASE_PASSWORD"),
        ("mysql://bot@db.example/companion", "must start with"),
    ):
        path.write_text(f'[console]\n[storage]\nurl = "{bad}"\n')
        with pytest.raises(ConfigError, match=message):
            load_settings(path)


def test_a_password_in_a_url_never_reaches_a_message():
    """What logs and messages show of a url (a server away: StoreUnavailable's message)."""
    for url in (
        "postgresql://bot:hunter2@db.example/companion",
        "postgresql://:hunter2@db.example/companion",
        "postgresql://bot@db.example/companion?sslmode=require&password=hunter2",
        "postgresql://bot@db.example/companion?PASSWORD=hunter2&sslmode=require",
    ):
        shown = redact(url)
        assert "hunter2" not in shown and "db.example/companion" in shown, shown
    assert (
        redact("postgresql://bot@db.example/companion") == "postgresql://bot@db.example/companion"
    )


async def test_the_password_comes_from_the_environment(postgres, tmp_path, monkeypatch):
    postgres.psql(
        f"DO $$ BEGIN CREATE ROLE {PASSWORD_USER} LOGIN PASSWORD 'right-one'; "
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    )
    name = f"pw{random.randrange(10**9)}"
    postgres.psql(f"CREATE DATABASE {name} OWNER {PASSWORD_USER}")
    url = f"postgresql://{PASSWORD_USER}@127.0.0.1:{postgres.port}/{name}"
    settings = Settings(db_path=tmp_path / "companion.db", database_url=url)
    monkeypatch.setenv("COMPANION_DATABASE_PASSWORD", "wrong-one")
    with pytest.raises(StoreUnavailable, match="password") as refused:
        await build(settings)
    assert "wrong-one" not in str(refused.value)
    secret_file = tmp_path / "db-password"
    secret_file.write_text("right-one\n")
    monkeypatch.delenv("COMPANION_DATABASE_PASSWORD")
    monkeypatch.setenv("COMPANION_DATABASE_PASSWORD_FILE", str(secret_file))
    app = await build(settings)
    await app.store.kv.set("reached", "yes")
    assert await app.store.kv.get("reached") == "yes"
    await app.close()


async def test_a_server_restart_mid_command_costs_that_command_only(
    postgres, pg_url, tmp_path, clock, small, monkeypatch, caplog
):
    settings = Settings(db_path=tmp_path / "companion.db", database_url=pg_url)
    app = await build(settings, clock=clock, content=small)
    await say(app, "reflect answer I noticed who spoke first.")
    original = MemberRepo.journal
    started = asyncio.Event()

    async def slow_journal(self: MemberRepo, *args: object, **kwargs: object) -> object:
        started.set()
        await self.db.fetchone("SELECT pg_sleep(5)")
        return await original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(MemberRepo, "journal", slow_journal)
    caplog.set_level(logging.WARNING)
    command = asyncio.create_task(say(app, "journal"))
    await started.wait()
    await asyncio.sleep(0.2)  # the query is running on the server
    await asyncio.to_thread(postgres.stop_server)
    await asyncio.to_thread(postgres.boot)
    failed = await command
    assert failed.text == APOLOGY
    assert "command 'journal' failed" in caplog.text
    monkeypatch.setattr(MemberRepo, "journal", original)
    assert "I noticed who spoke first" in (await say(app, "journal", MEMBER)).text
    await app.close()


async def test_a_server_away_is_one_typed_error_and_the_pool_comes_back(postgres, pg_url):
    """Issue 22: whatever asyncpg raises while the server is down (refused, shutting down)
    surfaces as StoreUnavailable, which callers wait on; once it is back, the same store
    works again without being reopened."""
    store = await Store.open(pg_url)
    try:
        await store.kv.set("k", "before")
        assert await store.ping()
        await asyncio.to_thread(postgres.stop_server)
        try:
            with pytest.raises(StoreUnavailable, match="unreachable"):
                await store.kv.get("k")
            with pytest.raises(StoreUnavailable):
                async with store.unit_of_work() as uow:
                    await uow.kv.set("k", "during")
            assert not await store.ping()  # /healthz says 503 meanwhile
        finally:
            await asyncio.to_thread(postgres.boot)
        assert await store.ping()
        assert await store.kv.get("k") == "before"
    finally:
        await store.close()


class StoppingPort(RecordingPort):
    """Its first post stops the database server, then fails for now (transient)."""

    postgres: PostgresServer | None = None

    async def post(self, place: Place, text: str, *, key: str, kind: Kind = Kind.ANSWER) -> Any:
        if self.postgres is not None:
            server, self.postgres = self.postgres, None
            await asyncio.to_thread(server.stop_server)
            raise TransientFailure("the homeserver is restarting too")
        return await super().post(place, text, key=key, kind=kind)


async def test_a_claim_stranded_by_an_outage_goes_out_once_it_is_back(
    postgres, pg_url, tmp_path, clock, small
):
    """Issue 22: the database went away while a post was claimed (its retry could not even
    be written). Once the server is back, the scheduler's loop resends it at once, not when
    the claim's 60 s lease has run out; once."""
    settings = Settings(db_path=tmp_path / "companion.db", database_url=pg_url)
    app = await build(settings, clock=clock, content=small)
    port = StoppingPort(clock=clock)
    port.postgres = postgres
    app.ports.attach("test", port)
    try:
        await say(app, "schedule reflection 13:00", MODERATOR)
        await app.scheduler.start()
        clock.set(datetime.fromisoformat("2026-03-02T13:00:00+00:00"))
        db = app.store.db
        for _ in range(500):  # the post stops the server; the loop finds the database away
            if port.postgres is None and not getattr(db, "available", True):
                break
            await asyncio.sleep(0.02)
        assert not getattr(db, "available", True)
        await asyncio.to_thread(postgres.boot)
        for _ in range(1000):  # the loop waits 1 s on its clock for the database, then retries
            if port.sent:
                break
            if clock.sleeping:  # move the clock only while the scheduler waits on it
                clock.advance(timedelta(seconds=1))
            await asyncio.sleep(0.02)
        assert clock.now() < datetime.fromisoformat("2026-03-02T13:00:30+00:00")
        [sent] = port.sent
        for _ in range(250):  # marked sent just after the port returned
            [occurrence] = await app.store.schedules.occurrences(1)
            if occurrence.state == "sent":
                break
            await asyncio.sleep(0.02)
        assert occurrence.state == "sent" and sent.key == occurrence.key
        assert len(port.sent) == 1
    finally:
        if not postgres._started:
            await asyncio.to_thread(postgres.boot)
        await app.close()
