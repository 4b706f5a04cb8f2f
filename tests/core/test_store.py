import sqlite3

from companion.store import Database, Store
from companion.store.db import migrations


async def test_migrations_run_twice_are_a_no_op(db_path):
    db = await Database.open(db_path)
    version = await db.version()
    assert version == len(migrations())
    assert await db.migrate() == version
    await db.close()
    db = await Database.open(db_path)
    assert await db.version() == version
    await db.close()


async def test_a_database_from_each_migration_opens_under_the_latest(tmp_path):
    for number, _ in migrations():
        path = tmp_path / f"v{number}.db"
        old = await Database.open(path, upto=number)
        assert await old.version() == number
        await old.execute("INSERT INTO kv (key, value) VALUES (?, ?)", ("kept", str(number)))
        await old.close()
        store = await Store.open(path)
        assert await store.db.version() == len(migrations())
        assert await store.kv.get("kept") == str(number)
        await store.close()


async def test_the_file_is_wal_with_foreign_keys(db_path):
    store = await Store.open(db_path)
    assert (await store.db.fetchone("PRAGMA journal_mode"))[0] == "wal"
    assert (await store.db.fetchone("PRAGMA foreign_keys"))[0] == 1
    await store.close()


async def test_text_with_sql_in_it_is_stored_as_text(db_path):
    store = await Store.open(db_path)
    nasty = "x'); DROP TABLE kv; --"
    await store.kv.set(nasty, nasty)
    assert await store.kv.get(nasty) == nasty
    await store.close()
    assert sqlite3.connect(db_path).execute("SELECT count(*) FROM kv").fetchone() == (1,)


async def test_a_question_waiting_in_an_old_outbox_is_no_schedule_after_migrating(tmp_path):
    """Before migration 8 the outbox row of an approved question looked like a one-off
    schedule; after it, `schedule list` (for_community) leaves it out and the scheduler
    still sends it."""
    path = tmp_path / "v7.db"
    old = await Database.open(path, upto=7)
    for kind in ("anonymous-question", "discussion"):
        await old.execute(
            "INSERT INTO schedule (community_id, platform, room_id, kind, rule, start_date, "
            "at_time, timezone, payload, next_run, created_at) VALUES "
            "('c:one', 'test', 'r:general', ?, 'once', '2026-03-02', '12:00', 'UTC', '1', "
            "'2026-03-02T12:00:00+00:00', '2026-03-02T12:00:00+00:00')",
            (kind,),
        )
    await old.close()
    store = await Store.open(path)
    try:
        assert [row.kind for row in await store.schedules.for_community("c:one")] == ["discussion"]
        assert await store.schedules.planned("c:one", 1) is None
        assert (await store.schedules.get(1)).status == "active"  # still due to be sent
    finally:
        await store.close()
