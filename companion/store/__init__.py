"""All SQL lives in this package. Features call these repository methods, never SQL."""

from __future__ import annotations

from pathlib import Path

from companion.store.base import Db
from companion.store.bookclubs import BookClubRepo
from companion.store.communities import CommunityRepo
from companion.store.contributions import ContributionRepo
from companion.store.db import Database
from companion.store.exchange import ExchangeRepo
from companion.store.kv import KeyValueRepo
from companion.store.members import MemberRepo
from companion.store.postgres import PgDatabase, is_postgres_url  # asyncpg only once used
from companion.store.prompts import PromptRepo
from companion.store.reflections import ReflectionRepo
from companion.store.schedules import ScheduleRepo


class Store:
    def __init__(self, db: Db) -> None:
        self.db = db
        self.communities = CommunityRepo(db)
        self.reflections = ReflectionRepo(db)
        self.kv = KeyValueRepo(db)
        self.prompts = PromptRepo(db)
        self.schedules = ScheduleRepo(db)
        self.bookclubs = BookClubRepo(db)
        self.contributions = ContributionRepo(db)
        self.members = MemberRepo(db)
        self.exchange = ExchangeRepo(db)

    @classmethod
    async def open(cls, target: str | Path, *, password: str | None = None) -> Store:
        """A SQLite file (a path or ``sqlite:///path``) or a ``postgresql://`` database."""
        text = str(target)
        if is_postgres_url(text):
            return cls(await PgDatabase.open(text, password=password))
        return cls(await Database.open(text.removeprefix("sqlite://")))

    async def close(self) -> None:
        await self.db.close()


__all__ = ["Database", "Store"]
