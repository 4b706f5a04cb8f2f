"""The dashboard's edge, where a hostile or broken client arrives first.

- :func:`read_form` is the one place a form body is parsed: a body the parser cannot read
  (not UTF-8, a multipart body without a boundary, cut short, with garbage part headers, an
  unknown charset) becomes :class:`Malformed`, and a body that does not arrive within the
  configured time becomes :class:`TooSlow`. :func:`path_id` does the same for a number in
  the path that no row can have.
- :func:`middleware` answers those two with the usual plain page (400, 408) and one warning
  line: only these, so a real bug in a page still shows as a 500 with its traceback. It also
  refuses a state-changing request sent from another site (``Origin`` or ``Sec-Fetch-Site``),
  as a second line behind the CSRF tokens, and tells the connection watchdog when a
  request runs.

What both HTTP servers share (the watchdog that closes slow connections, the one-line log of
malformed HTTP, the ``Server`` header) is companion.httpedge.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, Protocol
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from companion.commands import SQL_INT
from companion.httpedge import Watchdog

log = logging.getLogger(__name__)

# What aiohttp's form parser raises on a body it cannot read (each one is in tests/web).
FORM_ERRORS = (ValueError, LookupError, RuntimeError, HttpProcessingError)
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
    if not 0 < value < SQL_INT:  # a row number a database can hold
        raise Malformed("There is no such number here.", f"{name} out of range in the path")
    return value


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


WATCHDOG = web.AppKey("companion_watchdog", Watchdog)


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
