"""Is the process behind a holder name (``host:pid``, on claims and leases) provably dead?

Only on this host can it be proven: the same hostname and no such pid (or a zombie, killed
and not yet reaped). A holder on another host is never declared dead here: its lease runs
out instead.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def split(holder: str) -> tuple[str, int | None]:
    host, _, pid = holder.rpartition(":")
    return host, int(pid) if pid.isdigit() else None


def on_this_host(holder: str) -> bool:
    host, pid = split(holder)
    return pid is not None and host == socket.gethostname()


def is_me(holder: str) -> bool:
    """This very process (a name on its own leases)."""
    return on_this_host(holder) and split(holder)[1] == os.getpid()


def dead_here(holder: str) -> bool:
    """True when ``holder`` is a process on this host that no longer runs."""
    if not on_this_host(holder):
        return False
    _, pid = split(holder)
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it runs, as another user
    try:  # a zombie: dead, waiting for its parent to reap it
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]
