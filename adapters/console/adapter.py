"""A terminal chat with the same core: one local user (a moderator), one community.

It is also a ChatPort, so scheduled posts and threads are printed as they fall due.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import threading
from collections.abc import Iterator
from typing import BinaryIO, TextIO

from companion.events import Actor, Kind, MessageRef, Place
from companion.gateway import Gateway
from companion.markup import defuse_mentions, to_plain

PLACE = Place(platform="console", community_id="console:local", room_id="console")
USER = Actor(id="console:you", display_name="you", is_moderator=True)
QUIT = {"quit", "exit", ":q"}
# What a terminal would act on rather than show: control characters (ESC starts colours,
# cursor moves and OSC 8 hyperlinks), C1 controls and bidirectional overrides.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def render(md: str) -> str:
    """A reply's Markdown for a terminal: plain text, nothing the terminal would obey."""
    return _CONTROL.sub(" ", to_plain(md))


def render_title(title: str) -> str:
    """A thread's title (plain text by contract) on one line, shown as typed."""
    return _CONTROL.sub(" ", defuse_mentions(" ".join(title.split())))


def _discard_output(stream: TextIO) -> None:
    """Point a closed pipe's descriptor at /dev/null, so the flush at exit cannot fail."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


class ConsoleAdapter:
    def __init__(
        self,
        gateway: Gateway,
        *,
        stdin: BinaryIO | None = None,
        stdout: TextIO | None = None,
        interactive: bool | None = None,
    ) -> None:
        self.gateway = gateway
        self.stdin = stdin or sys.stdin.buffer
        self.stdout = stdout or sys.stdout
        self.interactive = sys.stdin.isatty() if interactive is None else interactive
        self._lines: asyncio.Queue[bytes | None] = asyncio.Queue()

    def write(self, text: str) -> None:
        self.stdout.write(text if text.endswith("\n") else text + "\n")
        self.stdout.flush()

    async def run(self) -> None:
        """Read lines until end of input or `quit`; answer each. Output that nobody reads
        any more (``companion run | head``) ends it like the end of input."""
        try:
            await self._converse()
        except BrokenPipeError:
            _discard_output(self.stdout)

    async def _converse(self) -> None:
        loop = asyncio.get_running_loop()
        reader = threading.Thread(target=self._read_lines, args=(loop,), daemon=True)
        reader.start()
        if self.interactive:
            self.write("Companion. Type `help` to see what I can do, `quit` to leave.")
        while True:
            if self.interactive:
                self.stdout.write("> ")
                self.stdout.flush()
            raw = await self._lines.get()
            if raw is None:
                return
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                self.write("That line was not valid UTF-8 text, so I ignored it.")
                continue
            if line.strip().lower() in QUIT:
                return
            await self.handle(line)

    async def handle(self, line: str) -> None:
        stripped = line.strip()
        if stripped[:1] in ("!", "/"):
            stripped = stripped[1:]
        reply = await self.gateway.handle_text(stripped, USER, PLACE)
        if reply is not None:
            self.write(render(reply.text))

    def _read_lines(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            for raw in self._raw_lines():
                loop.call_soon_threadsafe(self._lines.put_nowait, raw)
        except (OSError, ValueError):
            pass
        finally:
            try:
                loop.call_soon_threadsafe(self._lines.put_nowait, None)
            except RuntimeError:  # the loop is already closed
                pass

    def _raw_lines(self) -> Iterator[bytes]:
        """The input's lines. A real descriptor is read with os.read, not through the
        buffered reader: this thread, blocked in the reader, would hold its lock, and the
        interpreter's shutdown after a SIGTERM then aborts waiting for that lock."""
        try:
            fd = self.stdin.fileno()
        except (AttributeError, OSError, ValueError):  # an in-memory stream
            yield from iter(self.stdin.readline, b"")
            return
        pending = b""
        while chunk := os.read(fd, 65536):
            *lines, pending = (pending + chunk).split(b"\n")
            yield from (line + b"\n" for line in lines)
        if pending:
            yield pending

    # --- ChatPort, Threads, ModeratorCheck, PrivateMessages -------------------------------

    async def post(
        self, place: Place, text: str, *, key: str, kind: Kind = Kind.ANSWER
    ) -> MessageRef:
        self.write(f"\n[scheduled post]\n{render(text)}")
        return MessageRef(place, message_id=key)

    async def open_thread(
        self, place: Place, title: str, text: str, *, key: str, kind: Kind = Kind.DISCUSSION
    ) -> Place:
        self.write(f"\n[new discussion thread: {render_title(title)}]\n{render(text)}")
        return Place(place.platform, place.community_id, place.room_id, thread_id=key)

    async def is_moderator(self, platform: str, community_id: str, member_id: str) -> bool:
        """The web dashboard's check: the one local user moderates the one community."""
        return (platform, community_id, member_id) == (PLACE.platform, PLACE.community_id, USER.id)

    async def notify(self, place: Place, member_id: str, text: str, *, key: str) -> None:
        """A private message to the one local user."""
        self.write(f"\n[a private message for you]\n{render(text)}")
