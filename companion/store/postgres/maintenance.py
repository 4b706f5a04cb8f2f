"""`companion db check` on a PostgreSQL [storage] url: the migration level against the ones
this Companion ships, and rows per table, read in read-only transactions (changes nothing).

PostgreSQL checks its own pages as it reads them (and `pg_amcheck` does a deep check), so
there is no integrity pass here; a backup is `pg_dump`'s job (:func:`pg_dump_command`).
"""

from __future__ import annotations

import shlex
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from companion.store.maintenance import CheckResult
from companion.store.postgres.db import PgDatabase, migrations, redact

# Query parameters asyncpg reads from a url that libpq (pg_dump) does not: they become options.
_NOT_LIBPQ = {"search_path", "server_settings"}


async def check(url: str, password: str | None) -> CheckResult:
    db = await PgDatabase.open_readonly(url, password=password)
    try:
        version = await db.version()
        tables = [
            str(row[0])
            for row in await db.fetchall(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "current_schema() AND table_type = 'BASE TABLE' AND table_name <> ? "
                "ORDER BY table_name",
                ("schema_migration",),
            )
        ]
        rows: dict[str, int] = {}
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'  # a name from the catalogue
            row = await db.fetchone(f"SELECT count(*) FROM {quoted}")  # noqa: S608
            rows[table] = int(row[0]) if row else 0
    finally:
        await db.close()
    return CheckResult(redact(url), [], version, len(migrations()), rows, integrity_checked=False)


def pg_dump_command(url: str, target: str) -> str:
    """The pg_dump command line that backs up the database of ``url`` into ``target`` (a
    custom-format archive, for pg_restore). No password in it: pg_dump takes it from
    PGPASSWORD or ~/.pgpass. A ``search_path`` in the url (asyncpg's) becomes --schema."""
    parts = urlsplit(redact(url).replace(":***@", "@"))
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for key, value in query if key == "search_path"]
    kept = urlencode([(key, value) for key, value in query if key not in _NOT_LIBPQ])
    plain = urlunsplit((parts.scheme, parts.netloc, parts.path, kept, ""))
    argv = ["pg_dump", "--format=custom", f"--file={target}"]
    argv += [f"--schema={name}" for value in schemas for name in value.split(",") if name]
    return shlex.join([*argv, plain])
