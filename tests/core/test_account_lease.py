"""Account leases on the real stores (SQLite file and PostgreSQL server): one process syncs
an account; another may take it only once the lease ran out or was released."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from datetime import datetime, timedelta

import pytest

from companion import liveness
from companion.accounts import STORE_WAIT
from companion.config import ConfigError
from companion.store import StoreUnavailable
from tests.conftest import AppFactory
from tests.fakes import FakeClock

ACCOUNT = "matrix:@bot:localhost"
LEASE = timedelta(seconds=90)


async def test_a_live_lease_is_refused_to_another_holder_and_kept_by_its_own(
    make_app: AppFactory, clock: FakeClock
) -> None:
    leases = (await make_app()).store.account_leases
    now = clock.now()
    assert await leases.take(ACCOUNT, "host-a:1", now, now + LEASE)
    assert not await leases.take(ACCOUNT, "host-b:2", now + LEASE / 2, now + LEASE * 1.5)
    held = await leases.holder(ACCOUNT)
    assert held is not None and held.holder == "host-a:1" and held.until == now + LEASE
    # taking it again as its holder (a restart of the same process name) extends it
    assert await leases.take(ACCOUNT, "host-a:1", now + LEASE / 2, now + LEASE * 1.5)
    assert not await leases.take(ACCOUNT, "host-b:2", now + LEASE, now + LEASE * 2)
    # another account is free
    assert await leases.take("matrix:@other:localhost", "host-b:2", now, now + LEASE)


async def test_renewal_keeps_it_past_the_first_expiry_and_expiry_frees_it(
    make_app: AppFactory, clock: FakeClock
) -> None:
    leases = (await make_app()).store.account_leases
    now = clock.now()
    assert await leases.take(ACCOUNT, "host-a:1", now, now + LEASE)
    assert await leases.renew(ACCOUNT, "host-a:1", now + LEASE * 2)
    assert not await leases.renew(ACCOUNT, "host-b:2", now + LEASE * 5)
    assert not await leases.take(ACCOUNT, "host-b:2", now + LEASE * 1.5, now + LEASE * 3)
    # host-a died: at the end of its renewed lease, host-b takes the account over
    assert await leases.take(ACCOUNT, "host-b:2", now + LEASE * 2, now + LEASE * 3)
    assert not await leases.renew(ACCOUNT, "host-a:1", now + LEASE * 4)
    held = await leases.holder(ACCOUNT)
    assert held is not None and held.holder == "host-b:2"


async def test_release_frees_it_at_once_but_only_by_its_holder(
    make_app: AppFactory, clock: FakeClock
) -> None:
    leases = (await make_app()).store.account_leases
    now = clock.now()
    assert await leases.take(ACCOUNT, "host-a:1", now, now + LEASE)
    await leases.release(ACCOUNT, "host-b:2")  # not its lease: nothing changes
    assert not await leases.take(ACCOUNT, "host-b:2", now, now + LEASE)
    await leases.release(ACCOUNT, "host-a:1")
    assert await leases.holder(ACCOUNT) is None
    assert await leases.take(ACCOUNT, "host-b:2", now, now + LEASE)


async def test_two_stores_racing_for_a_free_account_one_wins(
    make_app: AppFactory, clock: FakeClock
) -> None:
    first, second = await make_app(), await make_app()  # two connections to one database
    now = clock.now()
    won = await asyncio.gather(
        *(
            app.store.account_leases.take(ACCOUNT, f"host:{n}", now, now + LEASE)
            for n, app in enumerate((first, second, first, second))
        )
    )
    assert sorted(won) == [False, False, False, True]
    held = await first.store.account_leases.holder(ACCOUNT)
    assert held is not None and held.holder == f"host:{won.index(True)}"


async def test_a_holder_that_died_on_this_host_is_taken_over_at_once(
    make_app: AppFactory, clock: FakeClock
) -> None:
    """Issue 22: a restart after a crash need not wait the 90 s out when the holder is
    provably dead; a holder on another host, or alive here, is still waited out."""
    app = await make_app()
    leases = app.store.account_leases
    now = clock.now()
    here = socket.gethostname()
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await child.wait()  # ended and reaped: its pid is gone
    dead = f"{here}:{child.pid}"
    assert await leases.take(ACCOUNT, dead, now, now + LEASE)

    lease = app.gateway.account_lease(ACCOUNT, "@bot:localhost")
    await lease.take()  # at once, not after 90 s
    held = await leases.holder(ACCOUNT)
    assert held is not None and held.holder == app.scheduler.holder
    assert liveness.dead_here(dead) and not liveness.dead_here(app.scheduler.holder)

    await lease.release()
    assert await leases.take(ACCOUNT, "another-host:1", now, now + LEASE)
    with pytest.raises(ConfigError, match="another-host:1"):
        await lease.take()
    await leases.release(ACCOUNT, "another-host:1")

    sleeper = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(30)"
    )
    try:
        alive = f"{here}:{sleeper.pid}"
        assert await leases.take(ACCOUNT, alive, now, now + LEASE)
        if app.store.db.dialect == "postgresql":  # several processes may share the database
            with pytest.raises(ConfigError, match=alive):
                await lease.take()
        else:  # the pid-file lock is this process's: no other runs on this SQLite file
            await lease.take()
    finally:
        sleeper.kill()
        await sleeper.wait()


async def test_renewing_waits_for_the_database_on_the_apps_clock(
    make_app: AppFactory, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database is away when the lease is due for renewal: the sync goes on, renewing
    is tried again every STORE_WAIT seconds of the app's clock (no real second passes), and
    the lease is renewed once the database is back."""
    app = await make_app()
    leases = app.store.account_leases
    lease = app.gateway.account_lease(ACCOUNT, "@bot:localhost")
    await lease.take()
    renew = leases.renew
    tries = 0

    async def flaky(account: str, holder: str, until: datetime) -> bool:
        nonlocal tries
        tries += 1
        if tries <= 2:
            raise StoreUnavailable("the PostgreSQL store is unreachable")
        return await renew(account, holder, until)

    monkeypatch.setattr(leases, "renew", flaky)

    async def waiting(count: int) -> None:
        for _ in range(100):  # it waits on the clock, not asleep for real
            if clock.sleeping and tries == count:
                return
            await asyncio.sleep(0.005)
        raise AssertionError(f"not waiting on the app's clock after {count} tries ({tries})")

    started = time.monotonic()
    syncing = asyncio.Event()
    kept = asyncio.create_task(lease.keep_while(syncing.wait()))
    try:
        await waiting(0)
        clock.advance(LEASE / 3)  # due for renewal: the database is away
        for tried in (1, 2):
            await waiting(tried)
            assert not kept.done()
            clock.advance(timedelta(seconds=STORE_WAIT))
        await waiting(3)  # renewed, and waiting for the next renewal
        held = await leases.holder(ACCOUNT)
        assert held is not None and held.until == clock.now() + LEASE
        assert time.monotonic() - started < 0.5
        syncing.set()
        await asyncio.wait_for(kept, 5)
    finally:
        kept.cancel()
        await lease.release()
