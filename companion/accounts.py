"""One process serves a platform account (a Matrix account syncs in one process only): its
lease in the store (account_lease), taken before the first sync, renewed on the app's clock
while it serves, released on a clean stop. Adapters get one from the gateway
(``Gateway.account_lease``); the policy below is the core's, the same for every platform.

A holder that provably died is taken over at once, so a restart after a crash answers
within seconds (issue 22): on this host with its pid gone (companion.liveness), or any
holder on this host when the store is SQLite, whose pid-file lock this process holds (so
no other Companion runs on that file). A holder on another host is waited out.
A database that goes away for a while does not end the sync: renewing waits for it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import timedelta

from companion import liveness
from companion.config import ConfigError
from companion.ports import Clock, wait
from companion.store import StoreUnavailable
from companion.store.leases import AccountLeaseRepo

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=90)  # a dead holder's account is free after this
STORE_WAIT = 2.0  # seconds between tries to renew while the database is away


class AccountLease:
    def __init__(
        self,
        repo: AccountLeaseRepo,
        clock: Clock,
        holder: str,
        account: str,
        name: str,
        *,
        sqlite: bool,
        lease: timedelta = LEASE,
    ) -> None:
        self.repo = repo
        self.clock = clock
        self.account = account  # "matrix:@bot:example.org"
        self.user_id = name  # how messages name it: "@bot:example.org"
        self.holder = holder  # host:pid, as on the scheduler's claims
        self.lease = lease
        self.sqlite = sqlite  # the pid-file lock is this process's: no other runs on the file
        self._stop = asyncio.Event()

    async def take(self) -> None:
        """Hold the account, or raise ConfigError naming the process that syncs it."""
        now = self.clock.now()
        if await self.repo.take(self.account, self.holder, now, now + self.lease):
            return
        current = await self.repo.holder(self.account)
        if current is not None and self._dead(current.holder):
            if await self.repo.take_from(
                self.account, current.holder, self.holder, now + self.lease
            ):
                log.warning("took over %s from %s, which is no more", self.user_id, current.holder)
                return
            current = await self.repo.holder(self.account)
        other = current.holder if current else "another process"
        wait = max(0, int(((current.until - now) if current else self.lease).total_seconds()))
        raise ConfigError(
            f"Another Companion process ({other}) is syncing {self.user_id} on this database; "
            f"stop it, or wait {wait} s if it died, then start this one again."
        )

    def _dead(self, holder: str) -> bool:
        if self.sqlite and liveness.on_this_host(holder) and not liveness.is_me(holder):
            return True  # the pid-file lock is ours: no other process runs on this file
        return liveness.dead_here(holder)

    async def keep_while(self, work: Awaitable[None]) -> None:
        """Run ``work`` (the sync), renewing the lease every third of it; should the lease be
        lost (this process stalled past it and another took over), stop ``work`` and raise."""
        task = asyncio.ensure_future(work)
        renewer = asyncio.ensure_future(self._renew())
        try:
            await asyncio.wait({task, renewer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in (task, renewer):
                pending.cancel()
            await asyncio.gather(task, renewer, return_exceptions=True)
        (renewer if renewer.done() and not renewer.cancelled() else task).result()

    async def _renew(self) -> None:
        while True:
            await self.clock.sleep_until(self.clock.now() + self.lease / 3, self._stop)
            if not await self._renewed():
                log.error("lost the lease on %s; stopping its sync", self.account)
                raise ConfigError(
                    f"Another Companion process took over syncing {self.user_id}; this one "
                    "stopped so that nothing is answered twice."
                )

    async def _renewed(self) -> bool:
        """Renew, waiting out a database that is away (the lease runs on meanwhile: should
        another process take the account, the renewal then says so)."""
        while True:
            try:
                return await self.repo.renew(
                    self.account, self.holder, self.clock.now() + self.lease
                )
            except StoreUnavailable as error:
                log.warning("cannot renew the lease on %s yet (%s)", self.account, error)
                await wait(self.clock, STORE_WAIT)  # the app's clock: tests move it

    async def release(self) -> None:
        try:
            await self.repo.release(self.account, self.holder)
        except StoreUnavailable as error:  # it runs out by itself; a restart here takes it
            log.warning("could not release the lease on %s (%s)", self.account, error)
