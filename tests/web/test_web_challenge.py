"""The dashboard's challenge page: the calendar of days, how many joined, a day's check-ins
only from five on, never a name; pause, resume and end through the `challenge` commands."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import FormData

from companion.events import Actor
from tests.conftest import MEMBER, MODERATOR, PLACE, say
from tests.core.schedule_helpers import run_until
from tests.fakes import RecordingPort
from tests.web.harness import Browserless, page

A = PLACE.community_id
READERS = [Actor(f"u:walker{i}", f"Walker {i}") for i in range(6)]


async def test_the_challenge_page_shows_counts_from_five_never_names(web: Browserless, clock):
    app = web.app
    app.ports.attach("test", RecordingPort(clock=clock))
    started = await say(app, "challenge start three-days 2026-03-03 09:00", MODERATOR)
    assert "Challenge started" in started.text, started.text
    await run_until(app, clock, datetime(2026, 3, 4, 12, tzinfo=UTC))  # day 2
    await web.sign_in_as()
    url = page(A, "challenge")
    for actor in READERS[:4]:
        await say(app, "challenge join", actor)
    body = await (await web.client.get(url)).text()
    assert "Fewer than five member(s) joined" in body and "4 member(s)" not in body
    for actor in READERS[4:]:
        await say(app, "challenge join", actor)
    for actor in READERS[:5]:
        await say(app, "challenge done", actor)  # five on day 2
    clock.set(datetime(2026, 3, 5, 12, tzinfo=UTC))  # day 3
    for actor in READERS[:4]:
        await say(app, "challenge done", actor)  # four on day 3

    await web.sign_in_as()  # again: the clock moved on past the first session
    body = await (await web.client.get(url)).text()
    assert "Three small days" in body and "6 member(s) joined" in body
    assert "<td>2</td><td>Wed 04 Mar 2026, 09:00</td><td>open</td><td>5</td>" in body
    assert "<td>3</td><td>Thu 05 Mar 2026, 09:00</td><td>open</td><td>fewer than five</td>" in body
    assert "Walker" not in body and "u:walker" not in body
    calendar = await (await web.client.get(page(A, "schedules"))).text()
    assert "Challenge: day" not in calendar  # every day has opened: none is still to come

    paused = await web.submit(url + "/1/pause", from_page=url)
    assert "paused" in (await paused.text()).lower()
    resumed = await web.submit(url + "/1/resume", from_page=url)
    assert "Pause" in await resumed.text()
    ended = await web.submit(url + "/1/end", from_page=url)
    assert "No challenge runs here" in await ended.text()
    assert "No challenge runs here" in (await say(app, "challenge", MEMBER)).text


async def test_the_calendar_names_a_challenge_day_to_come(web: Browserless):
    await say(web.app, "challenge start three-days 2026-03-03 09:00", MODERATOR)
    await web.sign_in_as()
    calendar = await (await web.client.get(page(A, "schedules"))).text()
    assert "Challenge: day 1 opens" in calendar and "Challenge: day 3 opens" in calendar
    listed = await say(web.app, "schedule list", MODERATOR)
    assert "A challenge's days" in listed.text and "Discussion thread" not in listed.text


PATHS = """[[path]]
id = "circle-care"
title = "Care in our circle"
summary = "One day on listening, in our own words."

[[path.day]]
number = 1
title = "Listening first"
short = "Before you answer anyone today, ask one more question than usual."
deeper = "Write about a conversation where you spoke before you understood."
question = "What helps you listen before you answer?"
terms = ["allyship"]
"""


async def test_the_challenge_page_imports_and_exports_the_communitys_own_paths(
    web: Browserless,
):
    await web.sign_in_as()
    url = page(A, "challenge")
    csrf = await web.csrf(url)

    async def upload(text: str, name: str = "ours.toml") -> str:
        form = FormData()
        form.add_field("csrf", csrf)
        form.add_field("file", text.encode("utf-8"), filename=name, content_type="application/toml")
        return await (await web.client.post(url + "/paths", data=form)).text()

    broken = await upload(PATHS.replace('["allyship"]', '["nothing-like-it"]'))
    assert "Nothing imported: ours.toml:12: path" in broken and "unknown id" in broken, broken
    assert "nothing-like-it" in broken
    assert "Nothing imported" in await upload("[[path]]\nid = <b>\n")  # not TOML; no markup
    assert "<b>" not in await upload("[[path]]\nid = <b>\n")
    assert "too large" in await upload("#" * (600 * 1024))
    assert "community export (JSON)" in await upload('{"format": "companion-community/1"}')
    assert await web.app.store.challenges.own_paths(A) == []

    imported = await upload(PATHS)
    assert "Imported 1 path(s): circle-care." in imported
    assert "Care in our circle, 1 days (this community's own)" in imported
    exported = await web.client.get(url + "/paths.toml")
    assert exported.headers["Content-Disposition"].startswith("attachment")
    text = await exported.text()
    assert 'id = "circle-care"' in text and 'terms = ["allyship"]' in text
    started = await say(web.app, "challenge start circle-care 2026-03-03 09:00", MODERATOR)
    assert "Challenge started" in started.text, started.text
