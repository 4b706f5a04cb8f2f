"""Account leases: one process at a time syncs a chat account (a Matrix user id).

The holder takes the lease before it syncs, renews it while it runs and releases it when it
stops; a lease whose holder died runs out at ``lease_until``, and then another process may
take the account. The statements are in the SQL SQLite and PostgreSQL share.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from companion.store.base import Db
from companion.store.schedules import iso


class Holder(NamedTuple):
    holder: str
    until: datetime


class AccountLeaseRepo:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def take(self, account: str, holder: str, now: datetime, until: datetime) -> bool:
        """Hold ``account`` until ``until``, in one statement: a new lease, or the old one
        when it ran out by ``now`` or is already ``holder``'s. False: another holds it."""
        row = await self.db.fetchone(
            "INSERT INTO account_lease (account, holder, lease_until) VALUES (?, ?, ?) "
            "ON CONFLICT (account) DO UPDATE "
            "SET holder = excluded.holder, lease_until = excluded.lease_until "
            "WHERE account_lease.holder = excluded.holder OR account_lease.lease_until <= ? "
            "RETURNING holder",
            (account, holder, iso(until), iso(now)),
        )
        return row is not None

    async def take_from(self, account: str, dead: str, holder: str, until: datetime) -> bool:
        """Take ``account`` over from ``dead`` (a holder known to have died), if it still
        holds it; False when another took it meanwhile."""
        changed = await self.db.execute(
            "UPDATE account_lease SET holder = ?, lease_until = ? WHERE account = ? AND holder = ?",
            (holder, iso(until), account, dead),
        )
        return changed > 0

    async def renew(self, account: str, holder: str, until: datetime) -> bool:
        """Extend ``holder``'s lease to ``until``; False when it is no longer theirs."""
        changed = await self.db.execute(
            "UPDATE account_lease SET lease_until = ? WHERE account = ? AND holder = ?",
            (iso(until), account, holder),
        )
        return changed > 0

    async def release(self, account: str, holder: str) -> None:
        """Let the account go, if ``holder`` still holds it."""
        await self.db.execute(
            "DELETE FROM account_lease WHERE account = ? AND holder = ?", (account, holder)
        )

    async def holder(self, account: str) -> Holder | None:
        row = await self.db.fetchone(
            "SELECT holder, lease_until FROM account_lease WHERE account = ?", (account,)
        )
        return Holder(str(row[0]), datetime.fromisoformat(str(row[1]))) if row else None
