"""All SQL lives in this package. Features call these repository methods, never SQL.

The store's contract (every store implements it: SQLite here, PostgreSQL beside it)
-----------------------------------------------------------------------------------
A store has one attribute per repository (``communities``, ``reflections``, ``kv``,
``prompts``, ``schedules``, ``bookclubs``, ``contributions``, ``members``, ``exchange``,
``web``, ``account_leases``, ``challenges``, ``events``, ``polls``),
``await Store.open(...)``, ``await store.close()``, and::

    async with store.unit_of_work() as uow:
        await uow.schedules.add(...)
        await uow.bookclubs.add_club(...)

``unit_of_work()`` is an async context manager yielding a :class:`UnitOfWork`: the same
repository attributes, every one bound to ONE transaction.

- It commits when the block ends normally and rolls back when anything is raised in it
  (a ``UserError``, a crash, a cancelled task): a failure part-way leaves nothing of the
  block's writes behind, and a process killed inside it leaves nothing either.
- Reads through the unit see its own writes. Writers from other tasks or processes never
  interleave with it (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction on one pooled
  connection, with the isolation it needs for the check-then-write inside).
- A repository method that is a transaction of its own becomes part of the unit (SQLite:
  a savepoint), so its own all-or-nothing still holds within the unit.
- The block does database work only: no network calls inside (other tasks wait for it).
  Using the store's own repositories inside the block is a mistake the store may refuse
  (SQLite raises ``RuntimeError`` instead of deadlocking); so is using ``uow`` after it.
- No nesting: a unit does not start another unit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from companion.store.base import Db, StoreUnavailable, is_postgres_url
from companion.store.bookclubs import BookClubRepo, ReachedCache
from companion.store.challenges import ChallengeRepo
from companion.store.communities import CommunityRepo
from companion.store.contributions import ContributionRepo
from companion.store.db import Database
from companion.store.events import EventRepo
from companion.store.exchange import ExchangeRepo
from companion.store.kv import KeyValueRepo
from companion.store.leases import AccountLeaseRepo
from companion.store.members import MemberRepo
from companion.store.polls import PollRepo
from companion.store.prompts import PromptRepo
from companion.store.reflections import ReflectionRepo
from companion.store.schedules import ScheduleRepo
from companion.store.web import WebRepo


class Repositories:
    """Every repository, over one database handle (the store's, or a unit of work's)."""

    def __init__(self, db: Db, reached: ReachedCache | None = None) -> None:
        self.communities = CommunityRepo(db)
        self.reflections = ReflectionRepo(db)
        self.kv = KeyValueRepo(db)
        self.prompts = PromptRepo(db)
        self.schedules = ScheduleRepo(db)
        self.bookclubs = BookClubRepo(db, reached)  # one cache, the store's and its units'
        self.contributions = ContributionRepo(db)
        self.members = MemberRepo(db)
        self.exchange = ExchangeRepo(db)
        self.web = WebRepo(db)
        self.account_leases = AccountLeaseRepo(db)
        self.challenges = ChallengeRepo(db)
        self.events = EventRepo(db)
        self.polls = PollRepo(db)


class UnitOfWork(Repositories):
    """The repositories bound to one transaction (see the module docstring)."""


class Store(Repositories):
    def __init__(self, db: Db) -> None:
        super().__init__(db, ReachedCache())
        self.db = db

    @classmethod
    async def open(cls, target: str | Path, *, password: str | None = None) -> Store:
        """A SQLite file (a path or ``sqlite:///path``) or a ``postgresql://`` database."""
        text = str(target)
        if is_postgres_url(text):
            from companion.store.postgres import PgDatabase  # its code only for a url

            return cls(await PgDatabase.open(text, password=password))
        return cls(await Database.open(text.removeprefix("sqlite://")))

    @classmethod
    async def open_readonly(cls, target: str | Path, *, password: str | None = None) -> Store:
        """An existing database, read only, not migrated: for checks that change nothing."""
        text = str(target)
        if is_postgres_url(text):
            from companion.store.postgres import PgDatabase

            return cls(await PgDatabase.open_readonly(text, password=password))
        return cls(await Database.open_readonly(text.removeprefix("sqlite://")))

    async def close(self) -> None:
        await self.db.close()

    async def ping(self) -> bool:
        """Whether the database answers now (a PostgreSQL server may be away: /healthz);
        a SQLite file is always there."""
        ping = getattr(self.db, "ping", None)
        return True if ping is None else bool(await ping())

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        uow: UnitOfWork | None = None
        try:
            async with self.db.unit() as bound:
                uow = UnitOfWork(bound, self.bookclubs.cache)
                yield uow
        finally:
            if uow is not None and uow.bookclubs.changed:
                self.bookclubs.cache.forget()  # once more now it is committed (or rolled back)


__all__ = ["Database", "Repositories", "Store", "StoreUnavailable", "UnitOfWork"]
