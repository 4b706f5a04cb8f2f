"""The PostgreSQL store (asyncpg): its own schema, migrations and the SQL only it speaks."""

from companion.store.postgres.db import PgDatabase, is_postgres_url

__all__ = ["PgDatabase", "is_postgres_url"]
