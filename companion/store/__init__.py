"""All SQL lives in this package. Features call these repository methods, never SQL."""

from __future__ import annotations

from pathlib import Path

from companion.store.bookclubs import BookClubRepo
from companion.store.communities import CommunityRepo
from companion.store.contributions import ContributionRepo
from companion.store.db import Database
from companion.store.exchange import ExchangeRepo
from companion.store.kv import KeyValueRepo
from companion.store.members import MemberRepo
from companion.store.prompts import PromptRepo
from companion.store.reflections import ReflectionRepo
from companion.store.schedules import ScheduleRepo
from companion.store.web import WebRepo


class Store:
    def __init__(self, db: Database) -> None:
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
        self.web = WebRepo(db)

    @classmethod
    async def open(cls, path: str | Path) -> Store:
        return cls(await Database.open(path))

    async def close(self) -> None:
        await self.db.close()


__all__ = ["Database", "Store"]
