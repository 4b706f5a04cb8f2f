"""SIGKILL between claim and send (and between send and mark): nothing lost, nothing twice."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MODERATOR, say

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "tests" / "core" / "crash_worker.py"


def worker(db: Path, journal: Path, now: str, mode: str) -> int:
    done = subprocess.run(
        [sys.executable, str(WORKER), str(db), str(journal), now, mode],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode in (0, -signal.SIGKILL), done.stderr
    return done.returncode


@pytest.mark.parametrize("mode", ["kill-before-send", "kill-after-send"])
async def test_a_killed_process_neither_loses_nor_doubles_a_post(make_app, db_path, tmp_path, mode):
    app = await make_app()
    await say(app, "schedule reflection 13:00", MODERATOR)
    await app.close()
    journal = tmp_path / "journal.jsonl"
    journal.touch()

    assert worker(db_path, journal, "2026-03-02T13:00:05+00:00", mode) == -signal.SIGKILL
    restarted = await make_app()
    [claimed] = await restarted.store.schedules.occurrences(1)
    assert claimed.state == "claimed"  # the claim survived the kill
    await restarted.close()

    assert worker(db_path, journal, "2026-03-02T13:01:00+00:00", "normal") == 0
    posts = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [p["key"] for p in posts] == [claimed.key]
    again = await make_app()
    [done] = await again.store.schedules.occurrences(1)
    assert done.state == "sent" and done.attempts == 2
