"""The whole loop in a real headless Chromium (Debian's chromium + chromium-driver, driven
by Selenium): a moderator types `dashboard` in the terminal, opens the printed link,
approves a suggestion, plans a discussion on the calendar, and the thread is then posted
through the console adapter when the injected clock reaches it. Screenshots of the queue
and the calendar are saved in tests/artifacts/ (ignored by git)."""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from companion.config import WebSettings
from companion.events import Actor
from companion.features.dashboard import token_hash
from companion.web.server import create
from companion_adapters.console import ConsoleAdapter
from companion_adapters.console.adapter import PLACE as CONSOLE
from tests.conftest import say
from tests.core.schedule_helpers import run_until
from tests.web.harness import WEB

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
T = TypeVar("T")

pytestmark = pytest.mark.browser

if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
    if os.environ.get("CI") == "true":
        raise RuntimeError(
            "CI must run the browser tests: apt-get install chromium chromium-driver"
        )
    pytest.skip(
        "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    profile = tempfile.mkdtemp(prefix="companion-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1800",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


async def off_loop(call: Callable[..., T], *args: Any) -> T:
    """Selenium blocks; the dashboard answers from this event loop, so drive it off-loop."""
    return await asyncio.to_thread(call, *args)


@pytest.fixture
async def served(make_app) -> AsyncIterator[tuple[Any, ConsoleAdapter, io.StringIO, str]]:
    app = await make_app(sections=WEB)
    out = io.StringIO()
    console = ConsoleAdapter(app.gateway, stdout=out, interactive=False)
    app.ports.attach("console", console)
    server = TestServer(create(app, WebSettings.from_settings(app.settings)), host="127.0.0.1")
    await server.start_server()
    try:
        yield app, console, out, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def _screenshot(browser: WebDriver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    browser.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


async def test_a_moderator_approves_and_plans_and_the_thread_is_posted(served, driver, clock):
    app, console, out, base = served
    friend = Actor("console:friend", "A friend")
    await app.dispatcher.run_text(
        "suggest prompt What changed for you when you listened before answering? #listening",
        friend,
        CONSOLE,
        clock.now(),
    )
    await console.handle("dashboard")
    printed = out.getvalue()
    match = re.search(r"<(http://127\.0\.0\.1:8080/login\?token=[\w-]+)>", printed)
    assert match, printed
    link = match.group(1).replace("http://127.0.0.1:8080", base)  # the test server's port

    await off_loop(driver.get, link)
    await off_loop(lambda: _wait_for(driver, lambda: "/schedules" in driver.current_url))
    assert "token" not in driver.current_url
    assert "Schedules" in driver.title

    # Keyboard first: Tab reaches the skip link, and it leads into the page.
    await off_loop(lambda: driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB))
    focused = await off_loop(lambda: driver.switch_to.active_element.text)
    assert focused == "Skip to the page"
    await off_loop(lambda: driver.switch_to.active_element.send_keys(Keys.ENTER))
    assert await off_loop(lambda: driver.switch_to.active_element.get_attribute("id")) == "main"

    await off_loop(lambda: driver.find_element(By.LINK_TEXT, "Moderation queue").click())
    await off_loop(lambda: _wait_for(driver, lambda: "/queue" in driver.current_url))
    text = await off_loop(lambda: driver.find_element(By.TAG_NAME, "main").text)
    assert "What changed for you when you listened before answering?" in text
    _screenshot(driver, "dashboard-queue.png")
    await off_loop(
        lambda: driver.find_element(By.CSS_SELECTOR, "[aria-label='Approve suggestion 1']").click()
    )
    flash = await off_loop(_flash, driver)  # the form posts, then the page comes back
    assert flash == "#1 approved."
    assert "The queue is empty." in await off_loop(
        lambda: driver.find_element(By.TAG_NAME, "main").text
    )

    await off_loop(lambda: driver.find_element(By.LINK_TEXT, "Schedules").click())
    plan_on_thursday = "[aria-label='Plan a discussion on Thu 05 Mar']"
    await off_loop(lambda: _wait_for(driver, lambda: _present(driver, plan_on_thursday)))
    await off_loop(lambda: driver.find_element(By.CSS_SELECTOR, plan_on_thursday).click())
    thursday = "2026-03-05"  # the form comes back with the day it was opened from
    await off_loop(
        lambda: _wait_for(
            driver, lambda: driver.find_element(By.ID, "date").get_attribute("value") == thursday
        )
    )
    date_value = await off_loop(lambda: driver.find_element(By.ID, "date").get_attribute("value"))
    assert date_value == "2026-03-05"
    time_field = await off_loop(driver.find_element, By.ID, "time")
    await off_loop(driver.execute_script, "arguments[0].value = '18:00'", time_field)
    await off_loop(lambda: driver.find_element(By.ID, "prompt").clear())
    await off_loop(lambda: driver.find_element(By.ID, "prompt").send_keys("1"))
    await off_loop(
        lambda: driver.find_element(By.XPATH, "//button[text()='Plan the discussion']").click()
    )
    flash = await off_loop(_flash, driver)
    assert flash.startswith("Planned #1: a discussion thread with prompt 1, once on 2026-03-05")
    day = await off_loop(
        lambda: driver.find_element(By.XPATH, "//li[h3[starts-with(., 'Thu 05 Mar')]]").text
    )
    assert "18:00 Discussion thread #1" in day
    _screenshot(driver, "dashboard-calendar.png")
    await off_loop(driver.set_window_size, 390, 1400)  # a phone: one day per row
    widths = await off_loop(
        driver.execute_script,
        "return [document.documentElement.scrollWidth, window.innerWidth]",
    )
    assert widths[0] <= widths[1], widths  # nothing wider than the screen
    _screenshot(driver, "dashboard-calendar-phone.png")
    await off_loop(driver.set_window_size, 1280, 1800)

    assert "[new discussion thread" not in out.getvalue()
    await run_until(app, clock, datetime(2026, 3, 5, 18, 1, tzinfo=UTC))
    posted = out.getvalue()
    assert "[new discussion thread: What changed for you when you listened" in posted


async def test_the_events_page_shows_counts_and_the_calendar_link(served, driver, clock):
    app, console, out, base = served
    friend = Actor("console:friend", "A friend")
    await console.handle("event plan weekly thu 18:30 Reading circle | https://meet.example.org/w")
    await app.dispatcher.run_text("event rsvp 1 yes", friend, CONSOLE, clock.now())
    await console.handle("dashboard")
    await off_loop(driver.get, _console_link(out, base))
    await off_loop(lambda: _wait_for(driver, lambda: "/schedules" in driver.current_url))
    await off_loop(lambda: driver.find_element(By.LINK_TEXT, "Events").click())
    await off_loop(lambda: _wait_for(driver, lambda: "/events" in driver.current_url))
    row = await off_loop(lambda: driver.find_element(By.XPATH, "//tr[td[text()='1']]").text)
    assert "Reading circle" in row and "1 0 0" in row, row
    main = await off_loop(lambda: driver.find_element(By.TAG_NAME, "main").text)
    assert "A friend" not in main
    href = await off_loop(
        lambda: driver.find_element(By.LINK_TEXT, "The community calendar").get_attribute("href")
    )
    assert re.fullmatch(r"http://127\.0\.0\.1:8080/calendar/[0-9a-f]{32}\.ics", href), href
    _screenshot(driver, "dashboard-events.png")


def _present(browser: WebDriver, css: str) -> bool:
    return bool(browser.find_elements(By.CSS_SELECTOR, css))


def _flash(browser: WebDriver) -> str:
    """The message a submitted form's page shows, once that page has loaded."""
    _wait_for(browser, lambda: _present(browser, ".flash"))
    return str(browser.find_element(By.CSS_SELECTOR, ".flash").text)


def _wait_for(browser: WebDriver, condition: Callable[[], bool]) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 10, poll_frequency=0.05).until(lambda _: condition())


@pytest.fixture
async def other_site() -> AsyncIterator[tuple[dict[str, str], str]]:
    """Another site on the loopback (127.0.0.2 is not 127.0.0.1's site): pages by name."""
    pages: dict[str, str] = {}

    async def show(request: web.Request) -> web.Response:
        return web.Response(text=pages[request.match_info["name"]], content_type="text/html")

    site = web.Application()
    site.router.add_get("/{name}", show)
    server = TestServer(site, host="127.0.0.2")
    await server.start_server()
    try:
        yield pages, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def _console_link(out: io.StringIO, base: str) -> str:
    links = re.findall(r"<(http://127\.0\.0\.1:8080/login\?token=[\w-]+)>", out.getvalue())
    assert links, out.getvalue()
    return links[-1].replace("http://127.0.0.1:8080", base)


async def test_another_site_cannot_sign_a_moderator_in_as_someone_else(
    served, other_site, driver, db_path, clock
):
    app, console, out, base = served
    pages, elsewhere = other_site
    await console.handle("dashboard")
    await off_loop(driver.get, _console_link(out, base))  # the victim signs in
    await off_loop(lambda: _wait_for(driver, lambda: "/schedules" in driver.current_url))
    victims = await off_loop(driver.get_cookie, "companion_session")
    assert victims is not None

    attacker = Actor("console:attacker", "Attacker", is_moderator=True)
    reply = await say(app, "dashboard", attacker, CONSOLE)  # the attacker's own link
    token = re.search(r"token=([\w-]+)", reply.text)
    assert token, reply.text
    pages["win"] = (
        f'<form method="post" action="{base}/login">'
        f'<input type="hidden" name="token" value="{token.group(1)}"></form>'
        "<script>document.forms[0].submit()</script>"
    )
    await off_loop(driver.get, f"{elsewhere}/win")
    await off_loop(lambda: _wait_for(driver, lambda: driver.current_url.startswith(base)))
    await off_loop(lambda: _wait_for(driver, lambda: _present(driver, "main h1")))
    landed = await off_loop(lambda: driver.current_url)
    assert landed == f"{base}/login", landed  # not signed in and sent on to a community
    shown = await off_loop(lambda: driver.find_element(By.TAG_NAME, "main").text)
    assert "sent from another site, so nothing was done" in shown
    after = await off_loop(driver.get_cookie, "companion_session")
    assert after is not None and after["value"] == victims["value"]
    sessions = await app.store.web.session(token_hash(victims["value"]), clock.now())
    assert sessions is not None and sessions.member_id == "console:you"
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT member_id FROM web_session").fetchall() == [("console:you",)]

    # A link to the dashboard on another site (a chat's web app) still signs in when clicked.
    await console.handle("dashboard")
    pages["chat"] = f'<a id="open" href="{_console_link(out, base)}">your link</a>'
    await off_loop(driver.get, f"{elsewhere}/chat")
    await off_loop(lambda: driver.find_element(By.ID, "open").click())
    await off_loop(lambda: _wait_for(driver, lambda: "/schedules" in driver.current_url))
    assert "Schedules" in await off_loop(lambda: driver.title)


async def test_another_site_navigating_to_its_link_cannot_replace_a_session(
    served, other_site, driver, db_path, clock
):
    """The other way round: a site sends the browser to ``/login?token=<its own>`` (a
    top-level navigation, which needs no form). The dashboard's page would post it at once;
    with a live session for someone else it asks instead, and nothing changes unless the
    person presses the button."""
    app, console, out, base = served
    pages, elsewhere = other_site
    driver.delete_all_cookies()
    await console.handle("dashboard")
    await off_loop(driver.get, _console_link(out, base))  # the victim signs in
    await off_loop(lambda: _wait_for(driver, lambda: "/schedules" in driver.current_url))
    victims = await off_loop(driver.get_cookie, "companion_session")
    assert victims is not None
    you = await app.store.web.session(token_hash(victims["value"]), clock.now())
    assert you is not None

    attacker = Actor("console:attacker", "Attacker", is_moderator=True)
    reply = await say(app, "dashboard", attacker, CONSOLE)  # the attacker's own link
    token = re.search(r"token=([\w-]+)", reply.text)
    assert token, reply.text
    pages["go"] = f"<script>location.href = '{base}/login?token={token.group(1)}'</script>"
    await off_loop(driver.get, f"{elsewhere}/go")
    await off_loop(lambda: _wait_for(driver, lambda: _present(driver, "#switch")))
    await asyncio.sleep(0.3)  # room for a script that would submit it (none should)
    assert await off_loop(lambda: driver.current_url) == f"{base}/login"
    shown = await off_loop(lambda: driver.find_element(By.TAG_NAME, "main").text)
    assert f"signed in to the dashboard as {you.display_name}" in shown
    assert "would sign you in as Attacker instead" in shown
    _screenshot(driver, "dashboard-login-switch.png")
    after = await off_loop(driver.get_cookie, "companion_session")
    assert after is not None and after["value"] == victims["value"]
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT member_id FROM web_session").fetchall() == [(you.member_id,)]

    await off_loop(lambda: driver.find_element(By.ID, "stay").click())
    await off_loop(lambda: _wait_for(driver, lambda: _present(driver, "ul.communities")))
    still = await off_loop(driver.get_cookie, "companion_session")
    assert still is not None and still["value"] == victims["value"]

    # Pressing the button is the person's choice, and it does switch.
    await off_loop(driver.get, f"{elsewhere}/go")
    await off_loop(lambda: _wait_for(driver, lambda: _present(driver, "#switch")))
    await off_loop(lambda: driver.find_element(By.CSS_SELECTOR, "#switch button").click())
    await off_loop(lambda: _wait_for(driver, lambda: "/schedules" in driver.current_url))
    switched = await off_loop(driver.get_cookie, "companion_session")
    assert switched is not None and switched["value"] != victims["value"]
