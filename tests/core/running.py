"""A real `companion run` subprocess, talked to through the console adapter's stdin/stdout."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from typing import IO


class Running:
    """`companion ...` with the console adapter, talked to through its stdin and stdout."""

    def __init__(self, args: list[str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "companion.cli", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: queue.Queue[str] = queue.Queue()
        self.err: queue.Queue[str] = queue.Queue()
        self.err_seen: list[str] = []
        self.pumps = [
            threading.Thread(target=self._pump, args=(stream, into), daemon=True)
            for stream, into in ((self.process.stdout, self.out), (self.process.stderr, self.err))
        ]
        for pump in self.pumps:
            pump.start()

    @staticmethod
    def _pump(stream: IO[str] | None, into: queue.Queue[str]) -> None:
        assert stream is not None
        for line in stream:
            into.put(line)

    def say(self, line: str, expect: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self._wait(self.out, expect, [])

    def log(self, expect: str) -> str:
        return self._wait(self.err, expect, self.err_seen)

    def _wait(self, source: queue.Queue[str], expect: str, seen: list[str]) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                line = source.get(timeout=0.2)
            except queue.Empty:
                assert self.process.poll() is None, f"companion run exited: {seen}"
                continue
            seen.append(line)
            if expect in line:
                return line
        raise AssertionError(f"no {expect!r} within 30 s; saw {seen}")

    def stop(self) -> int:
        """End the console's input, as a user typing Ctrl-D: the bot stops cleanly."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        code = self.process.wait(timeout=30)
        for pump in self.pumps:
            pump.join(timeout=10)  # everything it wrote is read
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def iter_queue(lines: queue.Queue[str]) -> list[str]:
    """What is left in a queue, without waiting."""
    found = []
    while True:
        try:
            found.append(lines.get_nowait())
        except queue.Empty:
            return found
