"""The edge of Companion's HTTP servers (the dashboard and the [metrics] endpoint), where a
slow, broken or hostile client arrives first.

- :class:`Watchdog` closes connections that have not sent a whole request head within the
  configured time of opening, or of their previous response (aiohttp has no header timeout:
  a client sending one byte a second would hold its connection for ever).
- :class:`ProtocolLog` makes a request that is not even valid HTTP one warning line.
- :func:`hide_server_version`: the ``Server`` header names no aiohttp version.

companion.web.guard adds the dashboard's own checks (forms, origins) on top of these.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from aiohttp import web, web_response
from aiohttp.http_exceptions import HttpProcessingError

SERVER = "Companion"  # the Server header: aiohttp's default names its version


class Clock(Protocol):
    """The app's clock (companion.ports.Clock is one; ports is a layer above this module)."""

    def now(self) -> datetime: ...

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None: ...


class Watchdog:
    """Closes connections idle (no whole request head yet) for longer than ``timeout``.

    A connection counts as idle from when it opens, and again from when its last response
    has been written; :meth:`started` (from a middleware) marks the time in between as busy.
    A poll a few times per timeout is precise enough and needs nothing from aiohttp but
    public parts. Time is the app's ``clock`` (tests move a fake one: no real wait).
    """

    def __init__(self, timeout: float, clock: Clock) -> None:
        self.timeout = timeout
        self.clock = clock
        self._idle_since: dict[web.RequestHandler, datetime] = {}
        self._busy: set[web.RequestHandler] = set()
        self._task: asyncio.Task[None] | None = None

    def started(self, request: web.Request) -> None:
        if self._task is None:  # not watching (a test server)
            return
        handler = request.protocol
        self._busy.add(handler)
        task = asyncio.current_task()  # aiohttp's task for this request and its response
        assert task is not None
        task.add_done_callback(lambda _: self._finished(handler))

    def _finished(self, handler: web.RequestHandler) -> None:
        self._busy.discard(handler)
        self._idle_since[handler] = self.clock.now()

    def watch(self, server: web.Server) -> None:
        self._task = asyncio.create_task(self._run(server), name="web-watchdog")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, server: web.Server) -> None:
        poll, limit = timedelta(seconds=self.timeout / 5), timedelta(seconds=self.timeout)
        while True:
            await self.clock.sleep_until(self.clock.now() + poll, asyncio.Event())
            now = self.clock.now()
            open_now = set(server.connections)
            for handler in list(self._idle_since):
                if handler not in open_now:
                    del self._idle_since[handler]
            for handler in open_now - self._busy:
                if now - self._idle_since.setdefault(handler, now) >= limit:
                    handler.force_close()  # flushes what was written, then closes


def watching(watchdog: Watchdog) -> Callable[..., Awaitable[web.StreamResponse]]:
    """A middleware that tells ``watchdog`` when a request runs (for a server without
    the dashboard's guard, which does the same)."""

    @web.middleware
    async def watched(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        watchdog.started(request)
        return await handler(request)

    return watched


def hide_server_version() -> None:
    """Even responses aiohttp makes itself (a 400 for a request it cannot parse) never reach
    the app's on_response_prepare, so the default they use is replaced for this process."""
    web_response.SERVER_SOFTWARE = SERVER


class ProtocolLog(logging.LoggerAdapter):
    """aiohttp's server log, where a request that is not even valid HTTP (a client's fault)
    is one warning line, naming ``surface``, instead of an ERROR with a traceback. Every
    other exception is still logged as aiohttp logs it."""

    def __init__(self, logger: logging.Logger, surface: str = "dashboard") -> None:
        super().__init__(logger, {})
        self.surface = surface

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        error = kwargs.get("exc_info")
        if isinstance(error, HttpProcessingError):
            self.logger.warning(
                "%s: refused malformed HTTP (%s)", self.surface, type(error).__name__
            )
        else:
            self.logger.exception(msg, *args, **kwargs)
