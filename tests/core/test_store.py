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
