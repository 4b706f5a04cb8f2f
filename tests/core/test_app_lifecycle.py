"""The app owns its lifecycle: the scheduler starts once, whatever attaches first, and the
surfaces stop in the reverse order of their start, then the scheduler, then the store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from companion import scheduler as scheduler_module
from companion.app import running
from companion.config import Settings
from companion.gateway import Gateway
from tests.conftest import START
from tests.fakes import FakeClock, RecordingPort


async def test_the_scheduler_starts_once_and_surfaces_stop_in_reverse_order(
    tmp_path: Path, small, monkeypatch: pytest.MonkeyPatch
) -> None:
    loops: list[object] = []
    original = scheduler_module.Scheduler._loop

    async def counted(self: scheduler_module.Scheduler) -> None:
        loops.append(self)
        await original(self)

    monkeypatch.setattr(scheduler_module.Scheduler, "_loop", counted)
    events: list[str] = []
    attached = asyncio.Event()

    def surface(name: str):
        async def serve(gateway: Gateway) -> None:
            port = RecordingPort()
            await gateway.attach(name, port)  # each surface attaches: one scheduler loop
            events.append(f"{name} up")
            if len(events) == 2:
                attached.set()
            try:
                await asyncio.Event().wait()
            finally:
                gateway.detach(name, port)
                events.append(f"{name} down")

        return serve

    settings = Settings(db_path=tmp_path / "bot.db")
    async with running(settings, clock=FakeClock(START), content=small) as app:
        app.serve("first", surface("first"))
        app.serve("second", surface("second"))
        await asyncio.wait_for(attached.wait(), 5)
        scheduler = app.scheduler
        assert scheduler.running  # started by the first port attached
        await app.start()  # and at start: still the one loop

        async def web_down() -> None:
            events.append(f"web down, scheduler running: {scheduler.running}")

        app.on_stop(web_down)
        assert scheduler.running and app.ports.platforms() == ["first", "second"]
    assert len(loops) == 1
    assert events[2:] == ["web down, scheduler running: True", "second down", "first down"]
    assert not scheduler.running and not app.ports
    with pytest.raises(ValueError, match="closed"):  # the store is closed last
        await app.store.kv.get("anything")
