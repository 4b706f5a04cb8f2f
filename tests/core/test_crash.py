"""SIGKILL between claim and send (and between send and mark): nothing lost, nothing twice.

On both stores: the next process takes the dead one's claim over once its lease has run out
(on SQLite, which serves one process, at once) and sends it with the same key.
"""

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


def worker(store: Path | str, journal: Path, now: str, mode: str) -> int:
    done = subprocess.run(
        [sys.executable, str(WORKER), str(store), str(journal), now, mode],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode in (0, -signal.SIGKILL), done.stderr
    return done.returncode


@pytest.mark.parametrize("mode", ["kill-before-send", "kill-after-send"])
async def test_a_killed_process_neither_loses_nor_doubles_a_post(
    make_app, store_target, tmp_path, mode
):
    app = await make_app()
    await say(app, "schedule reflection 13:00", MODERATOR)
    await app.close()
    journal = tmp_path / "journal.jsonl"
    journal.touch()

    assert worker(store_target, journal, "2026-03-02T13:00:05+00:00", mode) == -signal.SIGKILL
    restarted = await make_app()
    [claimed] = await restarted.store.schedules.occurrences(1)
    assert claimed.state == "claimed"  # the claim survived the kill
    await restarted.close()

    assert claimed.lease_until == "2026-03-02T13:01:05+00:00"  # claimed at 13:00:05 for 60 s
    assert worker(store_target, journal, "2026-03-02T13:01:06+00:00", "normal") == 0
    posts = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [p["key"] for p in posts] == [claimed.key]
    again = await make_app()
    [done] = await again.store.schedules.occurrences(1)
    assert done.state == "sent" and done.attempts == 2


async def test_a_claim_of_a_process_killed_on_this_host_is_sent_again_at_once(
    make_app, store_target, tmp_path
):
    """Its pid is gone, so its claim is known dead (issue 22): the next process sends it a
    second later, not once the 60 s lease ran out; still once, with the same key."""
    app = await make_app()
    await say(app, "schedule reflection 13:00", MODERATOR)
    await app.close()
    journal = tmp_path / "journal.jsonl"
    journal.touch()

    assert worker(store_target, journal, "2026-03-02T13:00:05+00:00", "kill-before-send") == (
        -signal.SIGKILL
    )
    assert worker(store_target, journal, "2026-03-02T13:00:06+00:00", "normal") == 0
    posts = [json.loads(line) for line in journal.read_text().splitlines()]
    again = await make_app()
    [done] = await again.store.schedules.occurrences(1)
    assert [p["key"] for p in posts] == [done.key]
    assert done.state == "sent" and done.attempts == 2
