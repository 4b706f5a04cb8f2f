"""``/calendar/<token>.ics``: a community's iCalendar feed for calendar apps.

No session: calendar apps fetch it on their own, so the token in the path is the secret
(only its sha256 is stored; see companion.features.events.calendar). An unknown token is a
plain 404, the same as a malformed one.
"""

from __future__ import annotations

import re

from aiohttp import web

from companion.features.events.calendar import community_of, ics
from companion.web.context import STATE

_TOKEN = re.compile(r"^[0-9a-f]{32}$")


def setup(router: web.UrlDispatcher) -> None:
    router.add_get("/calendar/{token}.ics", feed)


async def feed(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    if not _TOKEN.match(token):
        raise web.HTTPNotFound(text="No such calendar.")
    store = request.app[STATE].app.store
    community = await community_of(store, token)
    if community is None:
        raise web.HTTPNotFound(text="No such calendar.")
    body = await ics(store, community)
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )
