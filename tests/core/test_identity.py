"""The anonymity key: made once, mode 600, the same for every process that starts with it."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

from companion.identity import load_or_create_key, read_key

PROCESSES = 8


def _start(
    path: str, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue
) -> None:
    barrier.wait()  # all at once, as a fleet started together
    try:
        out.put(load_or_create_key(Path(path)).hex())
    except Exception as error:  # reported to the test, which fails on it
        out.put(f"failed: {error!r}")


def test_processes_starting_together_share_one_new_key(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "companion.key"
    context = multiprocessing.get_context("spawn")  # no locks inherited from threads
    barrier, out = context.Barrier(PROCESSES), context.Queue()
    workers = [
        context.Process(target=_start, args=(str(path), barrier, out)) for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    keys = [out.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert len(set(keys)) == 1, keys  # one key, none failed
    assert keys[0] == read_key(path).hex()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["companion.key"]  # no drafts left


def test_an_existing_key_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "companion.key"
    first = load_or_create_key(path)
    assert load_or_create_key(path) == first
