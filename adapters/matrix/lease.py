"""One process syncs a Matrix account: its lease in the store (account_lease), taken before
the first sync, renewed on the gateway's clock while syncing, released on a clean stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import timedelta
from typing import TYPE_CHECKING

from companion.config import ConfigError

if TYPE_CHECKING:
    from companion.gateway import Gateway

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=90)  # a dead holder's account is free after this


class AccountLease:
    def __init__(self, gateway: Gateway, user_id: str, lease: timedelta = LEASE) -> None:
        self.repo = gateway.account_leases
        self.clock = gateway.clock
        self.account = f"matrix:{user_id}"
        self.user_id = user_id
        self.holder = gateway.holder  # host:pid, as on the scheduler's claims
        self.lease = lease
        self._stop = asyncio.Event()

    async def take(self) -> None:
        """Hold the account, or raise ConfigError naming the process that syncs it."""
        now = self.clock.now()
        if await self.repo.take(self.account, self.holder, now, now + self.lease):
            return
        current = await self.repo.holder(self.account)
        other = current.holder if current else "another process"
        wait = max(0, int(((current.until - now) if current else self.lease).total_seconds()))
        raise ConfigError(
            f"Another Companion process ({other}) is syncing {self.user_id} on this database; "
            f"stop it, or wait {wait} s if it died, then start this one again."
        )

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
            if not await self.repo.renew(self.account, self.holder, self.clock.now() + self.lease):
                log.error("lost the lease on %s; stopping its sync", self.account)
                raise ConfigError(
                    f"Another Companion process took over syncing {self.user_id}; this one "
                    "stopped so that nothing is answered twice."
                )

    async def release(self) -> None:
        await self.repo.release(self.account, self.holder)
