"""Run the scheduler once in its own process, with a port that may SIGKILL it mid-send.

Usage: crash_worker.py STORE JOURNAL NOW_ISO MODE   (MODE: normal | kill-before-send |
kill-after-send). The journal port keeps one line per key, as Matrix does with transaction
ids and Discord with enforced nonces: a resend with the same key is not a second post.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import datetime
from pathlib import Path

from companion import content
from companion.app import build
from companion.config import Settings
from companion.events import MessageRef, Place
from tests.conftest import FIXTURE_CONTENT
from tests.fakes import FakeClock


class JournalPort:
    def __init__(self, path: Path, mode: str) -> None:
        self.path = path
        self.mode = mode

    async def post(self, place: Place, text: str, *, key: str, kind: object = None) -> MessageRef:
        if self.mode == "kill-before-send":
            os.kill(os.getpid(), signal.SIGKILL)
        seen = {json.loads(line)["key"] for line in self.path.read_text().splitlines()}
        if key not in seen:
            with self.path.open("a") as journal:
                journal.write(json.dumps({"key": key, "text": text}) + "\n")
        if self.mode == "kill-after-send":
            os.kill(os.getpid(), signal.SIGKILL)
        return MessageRef(place, key)

    async def open_thread(
        self, place: Place, title: str, text: str, *, key: str, kind: object = None
    ) -> Place:
        await self.post(place, f"{title}\n{text}", key=key)
        return place


async def main(store: str, journal: str, now: str, mode: str) -> None:
    clock = FakeClock(datetime.fromisoformat(now))
    if store.startswith("postgresql://"):
        settings = Settings(db_path=Path(journal).with_name("companion.db"), database_url=store)
    else:
        settings = Settings(db_path=Path(store))
    app = await build(settings, clock=clock, content=content.load(FIXTURE_CONTENT))
    app.ports.attach("test", JournalPort(Path(journal), mode))
    await app.scheduler.recover()
    await app.scheduler.run_due()
    await app.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
