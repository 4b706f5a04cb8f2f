"""The aiohttp application: security headers, templates, start and stop.

Every page module (auth, schedules, events, queue, prompts, bookclub, challenge, settings)
adds its routes in ``setup``; what they share (the state, a request's context and its checks) is in
companion.web.context.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path

import jinja2
from aiohttp import web

from companion import httpedge
from companion.config import ConfigError, WebSettings
from companion.gateway import WebGateway
from companion.web import guard
from companion.web.context import STATE, WebState

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers["Server"] = httpedge.SERVER


def _package_dir(name: str) -> Path:
    return Path(str(resources.files("companion.web").joinpath(name)))


def create(app: WebGateway, settings: WebSettings) -> web.Application:
    from companion.web import auth, bookclub, challenge, events, prompts, queue, schedules
    from companion.web import calendar as calendar_feed
    from companion.web import settings as settings_page

    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_package_dir("templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    state = WebState(app, settings, templates)
    watchdog = httpedge.Watchdog(settings.header_timeout, app.clock)
    web_app = web.Application(
        client_max_size=1024 * 1024,
        middlewares=[guard.middleware(state.refuse, settings.public_url, watchdog)],
    )
    web_app[STATE] = state
    web_app[guard.WATCHDOG] = watchdog
    web_app.on_response_prepare.append(_security_headers)
    web_app.on_cleanup.append(guard.stop_watchdog)
    for module in (auth, schedules, events, queue, prompts, bookclub, challenge, settings_page):
        module.setup(web_app.router)
    calendar_feed.setup(web_app.router)
    _static(web_app.router, _package_dir("static"))
    return web_app


def _static(router: web.UrlDispatcher, folder: Path) -> None:
    """The shipped files by name, each a route of its own. aiohttp's ``add_static`` looked
    any name up on disk: a name longer than the file system takes was a 500 and a logged
    traceback (ENAMETOOLONG); now an unknown name is a plain 404 without touching the disk."""
    for path in sorted(folder.iterdir()):
        if path.is_file():
            router.add_get(f"/static/{path.name}", _file_handler(path))


def _file_handler(path: Path) -> Handler:
    async def serve(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(path)

    return serve


async def start(app: WebGateway, settings: WebSettings) -> tuple[web.AppRunner, int]:
    """Serve the dashboard in this event loop; returns the runner and the bound port.

    The access log is off: a login link's token must never reach a log file. A watchdog
    closes connections that are slow to send a request (see companion/httpedge.py).
    """
    web_app = create(app, settings)
    httpedge.hide_server_version()
    runner = web.AppRunner(
        web_app, access_log=None, logger=httpedge.ProtocolLog(logging.getLogger("aiohttp.server"))
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.bind, settings.port)
    try:
        await site.start()
    except OSError as error:  # the port taken, the address not this host's: as [metrics]
        await runner.cleanup()
        raise ConfigError(
            f"[web] cannot listen on {settings.bind}:{settings.port}: {error}"
        ) from None
    assert runner.server is not None
    web_app[guard.WATCHDOG].watch(runner.server)
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    port = int(sockets[0].getsockname()[1]) if sockets else settings.port
    return runner, port
