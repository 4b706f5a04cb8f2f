"""Every form the dashboard shows, posted with hostile values, and every page asked for with
hostile paths and queries: a page or a plain 4xx, never a 500, a logged traceback or the
attacker's markup in the HTML.

The forms are read from the pages themselves (a new form is covered without touching this
file): each field in turn, and all at once, gets each value of the table, with the page's
CSRF token, from a signed-in moderator of a community that has something of everything.
"""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser
from urllib.parse import quote

import pytest

from companion.events import Actor
from tests.conftest import MEMBER, MODERATOR, PLACE, say
from tests.web.harness import Browserless, page

A = PLACE.community_id
PAGES = ("prompts", "queue", "schedules", "settings", "bookclub", "challenge", "events")
HOSTILE = [
    "",
    " \t ",
    "x" * 70000,
    "\x00",
    "a\x00b",
    "\u202eevil\u200b",
    "\ud800",
    "<b>x</b>",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "[a](javascript:alert(1))",
    "javascript:alert(1)",
    "@everyone <@123>",
    "-1",
    "0",
    "9" * 40,
    "1e309",
    "nan",
    "²",
    "2026-02-30",
    "0001-01-01",
    "9999-12-31",
    "24:00",
    "2:30",
    "Mars/Olympus",
    "../../../etc/passwd",
    "once",
    "weekly",
    "next",
]
SETUP = [
    "timezone Europe/Berlin",
    "prompt add What did you notice this week? #practice",
    "schedule reflection 09:00",
    "schedule discussion weekly thu 19:30 next",
    "challenge start allyship-21 2026-03-03 08:30",
    "bookclub start the-wake-up 2026-03-09 weekly thu 19:00",
    "event plan weekly thu 18:30 Reading circle | here",
]
_RAW = re.compile(r"<b>x</b>|<script>alert|<img src=x|href=\"javascript:", re.IGNORECASE)


class _Forms(HTMLParser):
    """Each form's action and its fields (name -> the value the page fills in)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._current: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form" and found.get("method", "get").lower() == "post":
            self._current = {}
            self.forms.append((found.get("action", ""), self._current))
        elif tag in ("input", "textarea", "select") and self._current is not None:
            if "name" in found and found.get("type") != "file":
                self._current.setdefault(found["name"], found.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


async def _forms(web: Browserless) -> list[tuple[str, dict[str, str]]]:
    found: dict[str, dict[str, str]] = {}
    for name in PAGES:
        response = await web.client.get(page(A, name))
        assert response.status == 200, (name, await response.text())
        parser = _Forms()
        parser.feed(await response.text())
        for action, fields in parser.forms:
            if action and action != "/logout":
                found.setdefault(action, fields)
    return sorted(found.items())


async def _check(web: Browserless, caplog: pytest.LogCaptureFixture, what: str, response) -> str:  # type: ignore[no-untyped-def]
    body = await response.text()
    assert response.status < 500, (what, response.status, body[:300])
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, (what, [r.getMessage() for r in errors])
    assert not _RAW.search(body), (what, _RAW.search(body))
    return body


async def test_every_form_with_hostile_values_is_answered_not_crashed(
    web: Browserless, caplog: pytest.LogCaptureFixture
) -> None:
    for line in SETUP:
        await say(web.app, line, MODERATOR)
    await say(web.app, "suggest prompt What did you notice when you listened first?", MEMBER)
    await web.sign_in_as()
    forms = await _forms(web)
    actions = {action for action, _ in forms}
    assert {page(A, "prompts"), page(A, "settings") + "/timezone"} <= actions, actions
    caplog.set_level(logging.WARNING)
    for action, fields in forms:
        editable = [name for name in fields if name != "csrf"]
        for value in HOSTILE:
            tries = [{name: value for name in editable}]
            tries += [{**fields, name: value} for name in editable]
            for data in tries:
                csrf = await web.csrf(page(A, action.split("/")[3]))
                form = {**data, "csrf": csrf}
                encoded = "&".join(
                    f"{quote(k)}={quote(v, errors='surrogatepass')}" for k, v in form.items()
                )
                response = await web.client.post(
                    action,
                    data=encoded.encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                await _check(web, caplog, f"{action} {data!r:.200}", response)


async def test_hostile_paths_and_queries_get_a_page_or_a_plain_4xx(
    web: Browserless, caplog: pytest.LogCaptureFixture
) -> None:
    await web.sign_in_as()
    caplog.set_level(logging.WARNING)
    for value in HOSTILE:
        # Under aiohttp's 8 KiB request line (a longer one is its 400, tested elsewhere).
        shown = quote(value[:600], safe="", errors="surrogatepass")
        paths = [
            f"/c/{shown}/prompts",
            f"/login?token={shown}",
            f"/calendar/{shown}.ics",
            f"/static/{shown}",
            *(f"{page(A, name)}?q={shown}&page={shown}&tag={shown}" for name in PAGES),
        ]
        for path in paths:
            response = await web.client.get(path, allow_redirects=False)
            await _check(web, caplog, path, response)


async def test_a_moderator_whose_name_holds_a_lone_surrogate_or_nul_gets_the_dashboard(
    web: Browserless, caplog: pytest.LogCaptureFixture
) -> None:
    """A platform's display name is the member's to choose: Matrix JSON can carry a lone
    surrogate, either platform a NUL. The link's row keeps the name: that was the apology."""
    named = Actor(MODERATOR.id, "Mod\ud800\x00<b>x</b>", is_moderator=True)
    await web.sign_in_as(named)
    body = await _check(web, caplog, "prompts", await web.client.get(page(A, "prompts")))
    assert "Signed in as Mod" in body and "&lt;b&gt;x&lt;/b&gt;" in body


IMPORTS = [
    b"",
    b"\xff\xfe\x00garbage",
    b"{",
    b"[" * 50000,
    b'{"format": "companion-community/1", "prompts": [{"title": "\\ud800", '
    b'"text": "What do you \\ud800 notice\\u0000 now?", "tags": [], '
    b'"created_at": "2026-03-01T10:00:00+00:00"}]}',
    b'{"format": "companion-community/1", "prompts": [{"text": "<b>x</b> is this fine?", '
    b'"tags": ["<b>x</b>"], "created_at": "0001-01-01T00:00:00+14:00"}]}',
    b'[[path]]\nid = "\\ud800"\n',
    b'[[path]]\nid = "x"\ntitle = "<b>x</b>"\n[[path.day]]\n',
    b"x" * (2 * 1024 * 1024),
]


async def test_every_import_with_hostile_files_is_answered_not_crashed(
    web: Browserless, caplog: pytest.LogCaptureFixture
) -> None:
    from aiohttp import FormData

    await web.sign_in_as()
    caplog.set_level(logging.WARNING)
    for name, action in (("prompts", "/import"), ("challenge", "/paths")):
        for raw in IMPORTS:
            form = FormData()
            form.add_field("csrf", await web.csrf(page(A, name)))
            form.add_field("file", raw, filename="<b>x</b>\u202e.json")
            response = await web.client.post(page(A, name) + action, data=form)
            await _check(web, caplog, f"{name} {raw[:40]!r}", response)
