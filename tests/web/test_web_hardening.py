"""The dashboard against hostile or broken clients (issue 21): malformed bodies and ids get a
plain 400 and change nothing; sign-in and forms from another site are refused; slow clients
are cut off."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta

import pytest
from aiohttp import ClientSession, CookieJar, FormData

from companion.config import ConfigError, WebSettings
from companion.events import Actor, Place
from companion.web import server
from tests.conftest import MEMBER, PLACE, say
from tests.fakes import FakeClock
from tests.web.harness import Browserless, ask_link, login_nonce, page, rows

A = PLACE.community_id


def _assert_quiet(caplog: pytest.LogCaptureFixture) -> None:
    """No traceback, no ERROR, and at most one WARNING line for the bad request."""
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert loud == [], [r.getMessage() for r in loud]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) <= 1, [r.getMessage() for r in warnings]
    assert all(r.exc_info is None for r in caplog.records)
    for record in warnings:
        assert "\n" not in record.getMessage()


async def _bad(web: Browserless, caplog, path: str, body: bytes, content_type: str) -> str:
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = await web.client.post(
            path, data=body, headers={"Content-Type": content_type}, allow_redirects=False
        )
        text = await response.text()
    assert response.status == 400, (path, content_type, response.status, text[:400])
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<h1>" in text and "Traceback" not in text
    _assert_quiet(caplog)
    return text


MULTIPART = "multipart/form-data; boundary=XyZ"
MALFORMED = [
    # (content type, body): each breaks the form parser in a different way
    ("application/x-www-form-urlencoded", b"token=\xff\xfe\xfa"),
    ("multipart/form-data", b'--XyZ\r\nContent-Disposition: form-data; name="token"\r\n\r\nx'),
    (MULTIPART, b'--XyZ\r\nContent-Disposition: form-data; name="token"\r\n\r\nabc'),
    (MULTIPART, b"--XyZ\r\n\x00\x01garbage\r\n: :\r\n\r\nabc\r\n--XyZ--\r\n"),
    ("application/x-www-form-urlencoded; charset=nope", b"token=abc"),
    (MULTIPART, b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nabc\r\n--XyZ--\r\n"),
    (
        MULTIPART,
        b'--XyZ\r\nContent-Disposition: form-data; name="token"\r\n'
        b"Content-Transfer-Encoding: bogus\r\n\r\nabc\r\n--XyZ--\r\n",
    ),
]
KINDS = ["utf8", "noboundary", "cut", "headers", "charset", "noname", "encoding"]


@pytest.mark.parametrize("content_type,body", MALFORMED, ids=KINDS)
async def test_a_malformed_login_form_gets_a_plain_400(
    web: Browserless, caplog, db_path, content_type, body
):
    token = await ask_link(web.app)
    await _bad(web, caplog, "/login", body, content_type)
    assert rows(db_path, "SELECT COUNT(*) FROM web_session") == [(0,)]
    assert (await web.sign_in(token)).status == 303  # the link was not spent


@pytest.mark.parametrize("content_type,body", MALFORMED, ids=KINDS)
async def test_a_malformed_form_from_a_signed_in_moderator_gets_a_plain_400(
    web: Browserless, caplog, db_path, content_type, body
):
    await web.sign_in_as()
    await _bad(web, caplog, page(A, "settings") + "/timezone", body, content_type)
    assert web.app.communities.zone(A).key == "UTC"


async def test_an_id_out_of_range_gets_a_plain_400(web: Browserless, caplog, db_path):
    await say(web.app, "suggest prompt What did you notice when you listened first?", MEMBER)
    await say(web.app, "schedule reflection 09:00", MEMBER)
    await web.sign_in_as()
    huge = "9" * 40
    csrf = await web.csrf(page(A, "queue"))
    body = f"csrf={csrf}&reason=no".encode()
    form = "application/x-www-form-urlencoded"
    for path in (
        page(A, "queue") + f"/{huge}/approve",
        page(A, "queue") + f"/{huge}/reject",
        page(A, "queue") + f"/{huge}/block",
        page(A, "schedules") + f"/{huge}/pause",
        page(A, "schedules") + f"/{huge}/cancel",
        page(A, "bookclub") + f"/{huge}/end",
        page(A, "prompts") + f"/{huge}/remove",
        page(A, "prompts") + f"/{huge}/edit",
        page(A, "queue") + f"/{2**63}/approve",  # one past SQLite's largest integer
    ):
        await _bad(web, caplog, path, body, form)
    assert rows(db_path, "SELECT status FROM suggestion") == [("pending",)]
    ok = await web.submit(page(A, "queue") + "/1/approve", from_page=page(A, "queue"))
    assert "#1 approved." in await ok.text()


async def test_an_import_nested_too_deeply_is_refused_and_adds_nothing(
    web: Browserless, caplog, db_path
):
    await web.sign_in_as()
    prompts = page(A, "prompts")
    csrf = await web.csrf(prompts)
    deep = '{"format": "companion-community/1", "prompts": ' + "[" * 50_000 + "]" * 50_000 + "}"
    upload = FormData()
    upload.add_field("csrf", csrf)
    upload.add_field("file", deep, filename="export.json", content_type="application/json")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = await web.client.post(prompts + "/import", data=upload)
        text = await response.text()
    assert response.status == 200, text[:400]  # back on the page, with the reason shown
    assert "Nothing imported: nested too deeply" in text
    _assert_quiet(caplog)
    assert rows(db_path, "SELECT COUNT(*) FROM prompt") == [(0,)]
    fine = json.dumps({"format": "companion-community/1", "prompts": []})
    again = await web.client.post(prompts + "/import", data={"csrf": csrf, "data": fine})
    assert again.status == 200 and "Imported 0 entries." in await again.text()


async def test_an_uploaded_file_that_is_not_utf8_or_too_large_is_refused_and_adds_nothing(
    web: Browserless, caplog, db_path
):
    """A Latin-1 export, a photo, a cut-off file: the reason on the page, nothing imported
    (not an export with "?" where its accents were, nor the first half of a file)."""
    await web.sign_in_as()
    export = {
        "format": "companion-community/1",
        "prompts": [{"text": "Café: what did you notice?", "created_at": "2026-03-01T10:00:00"}],
    }
    paths = '[[path]]\nid = "café"\n'
    # Multi-byte text just over the limit: cut off at the limit it is still short in characters.
    long = json.dumps(dict(export, note="é" * 300_000), ensure_ascii=False).encode()
    cases = [
        ("prompts", "export.json", json.dumps(export, ensure_ascii=False).encode("latin-1")),
        ("prompts", "photo.jpg", bytes([0xFF, 0xD8, 0xFF, 0xE0]) + bytes(range(256))),
        ("prompts", "long.json", long),
        ("challenge", "paths.toml", paths.encode("latin-1")),
        ("challenge", "paths.toml", paths.encode("utf-16")),
    ]
    for where, name, data in cases:
        csrf = await web.csrf(page(A, where))
        upload = FormData()
        upload.add_field("csrf", csrf)
        upload.add_field("file", data, filename=name, content_type="application/octet-stream")
        path = page(A, where) + ("/import" if where == "prompts" else "/paths")
        caplog.clear()
        with caplog.at_level(logging.INFO):
            response = await web.client.post(path, data=upload)
            text = await response.text()
        assert response.status == 200, text[:400]  # back on the page, with the reason shown
        reason = "larger than 512 KiB" if name == "long.json" else "not UTF-8 text"
        assert f"Nothing imported: {name}: {reason}" in text, (name, text[:2000])
        _assert_quiet(caplog)
    assert rows(db_path, "SELECT COUNT(*) FROM prompt") == [(0,)]
    assert rows(db_path, "SELECT COUNT(*) FROM community_path") == [(0,)]


# --- slow clients ---------------------------------------------------------------------------

HEAD = b"GET /login?token=abc HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + b"s" * 200


async def _trickle(writer: asyncio.StreamWriter, data: bytes) -> None:
    """Send ``data`` one byte every 50 ms, as a slow-loris client does, until cut off."""
    for byte in data:
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except ConnectionError:
            return
        await asyncio.sleep(0.05)


async def _cut_off(reader: asyncio.StreamReader) -> bytes:
    """What the server sends before it closes the connection (within 3 s, or fail)."""
    received = b""
    async with asyncio.timeout(3):
        while True:
            try:
                chunk = await reader.read(65536)
            except ConnectionError:  # a reset after the answer: what came before counts
                return received
            if not chunk:
                return received
            received += chunk


async def _pass(clock: FakeClock, seconds: float, head_timeout: float) -> None:
    """Move the app's clock by ``seconds``, one watchdog poll (``head_timeout`` / 5) at a
    time, letting the watchdog look at its connections after each."""
    step = head_timeout / 5
    for _ in range(round(seconds / step)):
        clock.advance(timedelta(seconds=step))
        for _ in range(20):  # the watchdog wakes and polls: a few turns of the loop
            await asyncio.sleep(0)


async def test_slow_clients_are_cut_off_in_the_configured_time(make_app):
    # The head timeout runs on the app's clock (moved here: no real wait); the body
    # timeout is a deadline on reading the body, in real time.
    settings = {"enabled": True, "port": 0, "header_timeout": 5, "body_timeout": 0.5}
    app = await make_app(sections={"web": settings})
    runner, port = await server.start(app, WebSettings.from_settings(app.settings))
    try:
        slow = [await asyncio.open_connection("127.0.0.1", port) for _ in range(8)]
        senders = [asyncio.create_task(_trickle(w, HEAD)) for _, w in slow]
        await _pass(app.clock, 4, 5)
        await asyncio.sleep(0.1)
        assert not any(r.at_eof() for r, _ in slow)  # not yet the configured time
        await _pass(app.clock, 6, 5)
        answers = await asyncio.gather(*(_cut_off(r) for r, _ in slow))
        assert answers == [b""] * 8  # closed without an answer: no whole request came

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\ntoken="
        )
        body = asyncio.create_task(_trickle(writer, b"x" * 94))
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        await _pass(app.clock, 10, 5)  # the rest of the body is not waited for either
        await _cut_off(reader)
        for task in (*senders, body):
            task.cancel()

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEAD + b"\r\n\r\n")  # a whole request in time is answered as usual
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
        assert head.startswith(b"HTTP/1.1 200 "), head
        server_header = [line for line in head.split(b"\r\n") if line.startswith(b"Server:")]
        assert server_header == [b"Server: Companion"]  # no aiohttp version to look up
        writer.close()
    finally:
        await runner.cleanup()


async def test_a_request_that_is_not_http_gets_a_400_one_warning_and_no_version(make_app, caplog):
    app = await make_app(sections={"web": {"enabled": True, "port": 0}})
    runner, port = await server.start(app, WebSettings.from_settings(app.settings))
    try:
        for raw in (
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nNo colon here\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n",
        ):
            caplog.clear()
            with caplog.at_level(logging.INFO):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(raw)
                answer = await _cut_off(reader)
                writer.close()
            assert answer.startswith(b"HTTP/1.0 400 ") or answer.startswith(b"HTTP/1.1 400 ")
            assert b"\r\nServer: Companion\r\n" in answer and b"aiohttp" not in answer
            _assert_quiet(caplog)
    finally:
        await runner.cleanup()


def test_the_timeouts_are_settings_with_sane_defaults():
    defaults = WebSettings.from_table({})
    assert (defaults.header_timeout, defaults.body_timeout) == (10.0, 30.0)
    assert WebSettings.from_table({"header_timeout": 2.5}).header_timeout == 2.5
    for bad in ({"header_timeout": 0}, {"body_timeout": "30"}, {"header_timeout": True}):
        with pytest.raises(ConfigError, match=r"\[web\] \w+_timeout must be a number above 0"):
            WebSettings.from_table(bad)


# --- login CSRF and forms from other sites ------------------------------------------------

ATTACKER = Actor("u:attacker", "Attacker", is_moderator=True)
ATTACKERS_PLACE = Place("test", "c:attacker", "r:theirs")
EVIL = "http://evil.example"


async def test_a_login_posted_from_another_site_is_refused_and_spends_nothing(
    web: Browserless, db_path
):
    await web.sign_in_as()  # the victim, signed in to c:one
    victims_cookie = _jar(web)["companion_session"]
    attackers_token = await ask_link(web.app, ATTACKER, ATTACKERS_PLACE)
    # The attacker opens their own link's page: its nonce is tied to *their* cookie.
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as attacker:
        page_of_attacker = await attacker.get(
            web.client.make_url(f"/login?token={attackers_token}")
        )
        attackers_nonce = login_nonce(await page_of_attacker.text())
    attempts = [
        ({"Origin": EVIL}, {}),
        ({"Sec-Fetch-Site": "cross-site"}, {}),
        ({"Origin": "null"}, {}),
        ({}, {}),  # an old browser sends neither header: no nonce, no sign-in
        ({}, {"nonce": attackers_nonce}),  # a nonce for someone else's cookie
        ({}, {"nonce": "0" * 64}),
    ]
    for headers, extra in attempts:
        refused = await web.client.post(
            "/login",
            data={"token": attackers_token, **extra},
            headers=headers,
            allow_redirects=False,
        )
        assert refused.status == 403, (headers, extra, await refused.text())
        assert "Set-Cookie" not in refused.headers
    assert _jar(web)["companion_session"] == victims_cookie
    assert rows(db_path, "SELECT COUNT(*) FROM web_session") == [(1,)]
    index = await (await web.client.get("/")).text()
    assert "c:one" in index and "c:attacker" not in index
    # Nothing was spent: the attacker's link still signs the attacker in, on their own page.
    web.client.session.cookie_jar.clear()
    assert (await web.sign_in(attackers_token)).status == 303


async def test_a_link_for_someone_else_does_not_silently_replace_a_live_session(
    web: Browserless, db_path
):
    """Another site navigates the victim's browser to ``/login?token=<attacker's>``: the
    dashboard's page posts it as for any link, and that post now asks instead of switching."""
    await web.sign_in_as()  # the victim, signed in to c:one as "Moderator"
    victims_cookie = _jar(web)["companion_session"]
    attackers_token = await ask_link(web.app, ATTACKER, ATTACKERS_PLACE)

    asked = await web.sign_in(attackers_token)  # the page, then the post its script sends

    assert asked.status == 200, await asked.text()
    html = await asked.text()
    assert "signed in to the dashboard as <strong>Moderator</strong>" in html
    assert "would sign you in as <strong>Attacker</strong> instead" in html
    assert ">Sign in as Attacker instead</button>" in html and 'name="switch" value="1"' in html
    assert "login.js" not in html  # nothing on this page submits it by itself
    assert "Set-Cookie" not in asked.headers
    assert _jar(web)["companion_session"] == victims_cookie
    assert rows(db_path, "SELECT member_id FROM web_session") == [("u:mod",)]
    assert rows(db_path, "SELECT COUNT(*) FROM web_login WHERE used_at IS NULL") == [(1,)]
    index = await (await web.client.get("/")).text()
    assert "c:one" in index and "c:attacker" not in index

    # The person's own click on the button (a second account of theirs) does switch.
    switched = await web.client.post(
        "/login",
        data={"token": attackers_token, "nonce": login_nonce(html), "switch": "1"},
        allow_redirects=False,
    )
    assert switched.status == 303, await switched.text()
    assert _jar(web)["companion_session"] != victims_cookie
    index = await (await web.client.get("/")).text()
    assert "c:attacker" in index and "c:one" not in index


async def test_every_form_from_another_site_is_refused(web: Browserless):
    await web.sign_in_as()
    settings = page(A, "settings")
    csrf = await web.csrf(settings)
    here = str(web.client.make_url("/")).rstrip("/")
    for headers in (
        {"Origin": EVIL},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},  # a sandboxed frame elsewhere
        {"Origin": EVIL, "Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": here},  # a sibling subdomain's page
    ):
        refused = await web.client.post(
            settings + "/timezone",
            data={"csrf": csrf, "zone": "Asia/Tokyo"},
            headers=headers,
            allow_redirects=False,
        )
        assert refused.status == 403, headers
        assert "from another site" in await refused.text()
    assert web.app.communities.zone(A).key == "UTC"
    for headers in (
        {"Origin": here, "Sec-Fetch-Site": "same-origin"},  # the dashboard's own page
        {"Origin": "null", "Sec-Fetch-Site": "same-origin"},  # the same, under no-referrer
        {"Origin": "null"},  # an older browser under no-referrer: the CSRF token decides
        {"Origin": "http://127.0.0.1:8080"},  # public_url, as a proxy in front serves it
    ):
        done = await web.client.post(
            settings + "/timezone",
            data={"csrf": csrf, "zone": "Asia/Tokyo"},
            headers=headers,
            allow_redirects=False,
        )
        assert done.status == 303, headers
    assert web.app.communities.zone(A).key == "Asia/Tokyo"


def _jar(web: Browserless) -> dict[str, str]:
    return {morsel.key: morsel.value for morsel in web.client.session.cookie_jar}


async def test_a_dashboard_port_in_use_is_one_clear_line_not_a_traceback(make_app):
    """`companion run` with [web] port taken by another program: a ConfigError naming the
    setting (run prints it and exits 2), as [metrics] does, not an OSError's traceback."""
    taken = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    try:
        port = taken.sockets[0].getsockname()[1]
        app = await make_app(sections={"web": {"enabled": True, "port": port}})
        with pytest.raises(ConfigError, match=rf"\[web\] cannot listen on 127.0.0.1:{port}"):
            await server.start(app, WebSettings.from_settings(app.settings))
    finally:
        taken.close()
        await taken.wait_closed()
