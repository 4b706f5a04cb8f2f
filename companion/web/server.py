"""The aiohttp application: security headers, templates, start and stop.

Every page module (auth, schedules, queue, prompts, bookclub, settings) adds its routes in
``setup``; what they share (the state, a request's context and its checks) is in
companion.web.context.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import jinja2
from aiohttp import web

from companion.config import WebSettings
from companion.gateway import WebGateway
from companion.web.context import STATE, WebState

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
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


def _package_dir(name: str) -> Path:
    return Path(str(resources.files("companion.web").joinpath(name)))


def create(app: WebGateway, settings: WebSettings) -> web.Application:
    from companion.web import auth, bookclub, prompts, queue, schedules
    from companion.web import settings as settings_page

    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_package_dir("templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    web_app = web.Application(client_max_size=1024 * 1024)
    web_app[STATE] = WebState(app, settings, templates)
    web_app.on_response_prepare.append(_security_headers)
    for module in (auth, schedules, queue, prompts, bookclub, settings_page):
        module.setup(web_app.router)
    web_app.router.add_static("/static", _package_dir("static"), append_version=False)
    return web_app


async def start(app: WebGateway, settings: WebSettings) -> tuple[web.AppRunner, int]:
    """Serve the dashboard in this event loop; returns the runner and the bound port.

    The access log is off: a login link's token must never reach a log file.
    """
    runner = web.AppRunner(create(app, settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.bind, settings.port)
    await site.start()
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    port = int(sockets[0].getsockname()[1]) if sockets else settings.port
    return runner, port
