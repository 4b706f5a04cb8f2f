"""The dashboard served on 127.0.0.1 beside an app with a fake clock: sign in as the chat
would, read CSRF tokens from pages, post forms."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from companion.app import App
from companion.config import WebSettings
from companion.events import Actor, Place
from companion.web.server import create
from tests.conftest import MODERATOR, PLACE, say
from tests.fakes import RecordingPort

_TOKEN = re.compile(r"/login\?token=([A-Za-z0-9_\-]+)")
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
_NONCE = re.compile(r'name="nonce" value="([0-9a-f]+)"')


def login_nonce(page_html: str) -> str:
    """The nonce the login page's form carries (its cookie is in the client's jar)."""
    match = _NONCE.search(page_html)
    assert match, page_html
    return match.group(1)


def page(community_id: str, name: str) -> str:
    return f"/c/{quote(community_id, safe='')}/{name}"


async def ask_link(app: App, actor: Actor = MODERATOR, place: Place = PLACE) -> str:
    """Type `dashboard` in the chat; the token from the link in the reply."""
    reply = await say(app, "dashboard", actor, place)
    assert reply.private, reply
    match = _TOKEN.search(reply.text)
    assert match, reply.text
    return match.group(1)


@dataclass
class Browserless:
    app: App
    client: TestClient  # type: ignore[type-arg]
    port: RecordingPort

    async def sign_in(self, token: str) -> ClientResponse:
        shown = await self.client.get(f"/login?token={token}")
        assert shown.status == 200
        html = await shown.text()
        assert f'value="{token}"' in html
        return await self.client.post(
            "/login", data={"token": token, "nonce": login_nonce(html)}, allow_redirects=False
        )

    async def sign_in_as(self, actor: Actor = MODERATOR, place: Place = PLACE) -> None:
        response = await self.sign_in(await ask_link(self.app, actor, place))
        assert response.status == 303, await response.text()

    async def csrf(self, path: str) -> str:
        response = await self.client.get(path)
        assert response.status == 200, await response.text()
        match = _CSRF.search(await response.text())
        assert match
        return match.group(1)

    async def submit(
        self, path: str, data: dict[str, str] | None = None, *, from_page: str
    ) -> ClientResponse:
        """Post a form the way the page would (with its CSRF token), following redirects."""
        fields = {"csrf": await self.csrf(from_page), **(data or {})}
        return await self.client.post(path, data=fields)


async def serve(app: App, port: RecordingPort) -> Browserless:
    app.ports.attach(PLACE.platform, port)
    server = TestServer(create(app, WebSettings.from_settings(app.settings)), host="127.0.0.1")
    client = TestClient(server)
    await client.start_server()
    return Browserless(app, client, port)


WEB = {"web": {"enabled": True, "public_url": "http://127.0.0.1:8080"}}


def rows(db_path, sql, params=()):
    """Read the SQLite file directly, to prove what is (not) stored."""
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
