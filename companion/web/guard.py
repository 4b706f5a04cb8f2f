"""The dashboard's edge, where a hostile or broken client arrives first.

- :func:`read_form` is the one place a form body is parsed: a body the parser cannot read
  (not UTF-8, a multipart body without a boundary, cut short, with garbage part headers, an
  unknown charset) becomes :class:`Malformed`, and a body that does not arrive within the
  configured time becomes :class:`TooSlow`. :func:`path_id` does the same for a number in
  the path that no row can have.
- :func:`middleware` answers those two with the usual plain page (400, 408) and one warning
  line: only these, so a real bug in a page still shows as a 500 with its traceback. It also
  refuses a state-changing request sent from another site (``Origin`` or ``Sec-Fetch-Site``),
  as a second line behind the CSRF tokens, and tells :class:`Watchdog` when a request runs.
- :class:`Watchdog` closes connections that have not sent a whole request head within the
  configured time of opening, or of their previous response (aiohttp has no header timeout:
  a client sending one byte a second would hold its connection for ever).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, Protocol
from urllib.parse import urlsplit

from aiohttp import web, web_response
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

log = logging.getLogger(__name__)

# What aiohttp's form parser raises on a body it cannot read (each one is in tests/web).
FORM_ERRORS = (ValueError, LookupError, RuntimeError, HttpProcessingError)
LARGEST_ID = 2**63 - 1  # SQLite's and PostgreSQL's largest integer
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Malformed(Exception):
    """A request the dashboard cannot read: a plain 400 page, one warning line."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(detail)
        self.message = message  # for the person
        self.detail = detail  # for the log: never the request's content


class TooSlow(Exception):
    """The body did not arrive in time: a plain 408 page, and the connection is closed."""


class Refuser(Protocol):
    def __call__(self, exc: type[web.HTTPException], title: str, message: str) -> NoReturn: ...


async def read_form(request: web.Request, within: float) -> MultiDictProxy[Any]:
    """The request's form fields, or Malformed / TooSlow; nothing else from the parser."""
    try:
        async with asyncio.timeout(within):
            return await request.post()
    except TimeoutError:
        raise TooSlow from None
    except FORM_ERRORS as error:
        raise Malformed(
            "This form could not be read. Reload the page and send it again.",
            f"unreadable form body ({type(error).__name__})",
        ) from None


def path_id(request: web.Request, name: str = "id") -> int:
    """A row number from the path (the route allows digits only), refused if out of range."""
    value = int(request.match_info[name])
    if not 0 < value <= LARGEST_ID:
        raise Malformed("There is no such number here.", f"{name} out of range in the path")
    return value


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class Watchdog:
    """Closes connections idle (no whole request head yet) for longer than ``timeout``.

    A connection counts as idle from when it opens, and again from when its last response
    has been written; :func:`middleware` marks the time in between as busy. A poll a few
    times per timeout is precise enough and needs nothing from aiohttp but public parts.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._idle_since: dict[web.RequestHandler, float] = {}
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
        self._idle_since[handler] = asyncio.get_running_loop().time()

    def watch(self, server: web.Server) -> None:
        self._task = asyncio.create_task(self._run(server), name="web-watchdog")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, server: web.Server) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.timeout / 5)
            now = loop.time()
            open_now = set(server.connections)
            for handler in list(self._idle_since):
                if handler not in open_now:
                    del self._idle_since[handler]
            for handler in open_now - self._busy:
                if now - self._idle_since.setdefault(handler, now) >= self.timeout:
                    handler.force_close()  # flushes what was written, then closes


WATCHDOG = web.AppKey("companion_watchdog", Watchdog)
SERVER = "Companion"  # the Server header: aiohttp's default names its version


def hide_server_version() -> None:
    """Even responses aiohttp makes itself (a 400 for a request it cannot parse) never reach
    the app's on_response_prepare, so the default they use is replaced for this process."""
    web_response.SERVER_SOFTWARE = SERVER


class ProtocolLog(logging.LoggerAdapter):
    """aiohttp's server log, where a request that is not even valid HTTP (a client's fault)
    is one warning line instead of an ERROR with a traceback. Every other exception is
    still logged as aiohttp logs it."""

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        error = kwargs.get("exc_info")
        if isinstance(error, HttpProcessingError):
            self.logger.warning("dashboard: refused malformed HTTP (%s)", type(error).__name__)
        else:
            self.logger.exception(msg, *args, **kwargs)


async def stop_watchdog(app: web.Application) -> None:
    await app[WATCHDOG].stop()


def middleware(
    refuse: Refuser, public_url: str, watchdog: Watchdog | None = None
) -> Callable[..., Awaitable[web.StreamResponse]]:
    own = _origin(public_url)

    @web.middleware
    async def guard(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        if watchdog is not None:
            watchdog.started(request)
        if request.method not in SAFE_METHODS:
            _check_origin(request, own, refuse)
        try:
            return await handler(request)
        except Malformed as bad:
            log.warning("dashboard: refused %s %s: %s", request.method, _path(request), bad.detail)
            refuse(web.HTTPBadRequest, "Bad request", bad.message)
        except TooSlow:
            log.warning("dashboard: %s %s: body too slow", request.method, _path(request))
            try:
                refuse(web.HTTPRequestTimeout, "Too slow", "The form took too long to arrive.")
            except web.HTTPException as slow:
                slow.force_close()  # what is left of the body is not worth waiting for
                raise

    return guard


def _path(request: web.Request) -> str:
    """The path for a log line: still percent-encoded (one line), never the query (tokens)."""
    return request.rel_url.raw_path[:200]


def _check_origin(request: web.Request, own: str, refuse: Refuser) -> None:
    """Refuse a form another site's page sent: browsers say so in these two headers.

    ``Sec-Fetch-Site`` is the browser's own verdict. Our pages' ``Referrer-Policy:
    no-referrer`` makes browsers send ``Origin: null`` even for our own forms, so "null"
    says nothing: it is refused only where ``Sec-Fetch-Site`` says another site. A request
    that passes here still needs the form's CSRF token (for /login, the page's nonce).
    """
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    here = f"{request.scheme}://{request.host}".lower()
    site_ok = site is None or site in ("same-origin", "none")
    origin_ok = origin is None or origin == "null" or origin.lower() in (own, here)
    if not (site_ok and origin_ok):
        log.warning("dashboard: refused %s %s from another site", request.method, _path(request))
        refuse(
            web.HTTPForbidden,
            "Form refused",
            "This form was sent from another site, so nothing was done. Open the dashboard "
            "from your community's chat.",
        )
