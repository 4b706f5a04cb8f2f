"""Account leases on the real stores (SQLite file and PostgreSQL server): one process syncs
an account; another may take it only once the lease ran out or was released."""

from __future__ import annotations

import asyncio
from datetime import timedelta

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
