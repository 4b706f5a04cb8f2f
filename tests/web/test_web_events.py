"""The dashboard's events page: the community's events with RSVP counts (never names), the
calendar link a member gets with `calendar`, cancelling through `event cancel`; only the
signed-in community's, a bad id or a missing CSRF token refused."""

from __future__ import annotations

import html
import re

from companion.events import Actor, Place
from companion.markup import to_plain
from tests.conftest import MEMBER, MODERATOR, PLACE, say
from tests.web.harness import Browserless, page

A = PLACE.community_id
OTHER = Actor("u:other", "Other Member")
THIRD = Actor("u:third", "Third Member")
ELSEWHERE = Place(PLACE.platform, "c:two", "r:two")


async def test_the_events_page_shows_counts_never_names_and_the_calendar_link(web: Browserless):
    app = web.app
    await say(app, "timezone Europe/Berlin", MODERATOR)
    await say(
        app, "event plan weekly thu 18:30 Reading circle | https://meet.example.org/w", MODERATOR
    )
    await say(app, "event plan once 2026-03-10 12:00 Lunch <b>talk</b> | here", MODERATOR)
    await say(app, "event plan once 2026-03-11 12:00 Elsewhere | here", MODERATOR, ELSEWHERE)
    await say(app, "event rsvp 1 yes", MEMBER)
    await say(app, "event rsvp 1 maybe", OTHER)
    await say(app, "event rsvp 1 yes", THIRD)
    await say(app, "event rsvp 2 no", MEMBER)

    await web.sign_in_as()
    url = page(A, "events")
    response = await web.client.get(url)
    assert response.status == 200
    body = await response.text()
    assert "Reading circle" in body and "Thu 05 Mar 2026, 18:30 Europe/Berlin" in body
    assert "<td>2</td><td>1</td><td>0</td>" in body  # event 1: yes, maybe, no
    assert "<td>0</td><td>0</td><td>1</td>" in body  # event 2
    assert "Lunch &lt;b&gt;talk&lt;/b&gt;" in body  # a title is text, never markup
    assert "Elsewhere" not in body  # another community's event
    for who in (MEMBER, OTHER, THIRD):
        assert who.display_name not in body and who.id not in body
    # The link is the one `calendar` gives a member, and it serves the feed.
    [link] = re.findall(r'href="http://127\.0\.0\.1:8080(/calendar/[0-9a-f]{32}\.ics)"', body)
    asked = (await say(app, "calendar", MEMBER)).text
    assert link in asked
    feed = await (await web.client.get(link)).text()
    assert "SUMMARY:Reading circle" in feed

    cancelled = await web.submit(url + "/2/cancel", from_page=url)
    assert cancelled.status == 200
    text = await cancelled.text()
    assert "Cancelled event #2" in text and "Lunch &lt;b&gt;" not in text
    assert (await app.store.events.get(A, 2)).status == "cancelled"


async def test_the_events_page_says_when_and_where_in_the_words_event_show_uses(
    web: Browserless,
):
    app = web.app
    await say(app, "timezone Europe/Berlin", MODERATOR)
    await say(app, "event plan weekly tue,thu 18:30 Reading circle | Room_3 *upstairs*", MODERATOR)
    await say(app, "event plan once 2026-03-10 12:00 Lunch | here", MODERATOR)
    await web.sign_in_as()
    body = await (await web.client.get(page(A, "events"))).text()
    for number in (1, 2):
        shown = to_plain((await say(app, f"event show {number}", MEMBER)).text).split("\n")
        when = next(line for line in shown if line.startswith("When: "))[len("When: ") :]
        where = next(line for line in shown if line.startswith("Where: "))[len("Where: ") :]
        assert f"<td>{html.escape(when)}</td><td>{html.escape(where)}</td>" in body, (when, body)
    assert "<td>Room_3 *upstairs*</td>" in body  # as typed: no Markdown escapes, no markup


async def test_bad_requests_change_nothing(web: Browserless):
    app = web.app
    await say(app, "event plan once 2026-03-10 12:00 Lunch | here", MODERATOR)
    await say(app, "event plan once 2026-03-11 12:00 Theirs | here", MODERATOR, ELSEWHERE)
    url = page(A, "events")
    assert (await web.client.get(url)).status == 401  # no session
    await web.sign_in_as()
    no_csrf = await web.client.post(url + "/1/cancel", data={})
    assert no_csrf.status == 403
    theirs = await web.submit(url + "/2/cancel", from_page=url)  # another community's event
    assert theirs.status == 404
    huge = await web.submit(url + "/99999999999999999999/cancel", from_page=url)
    assert huge.status in (400, 404)
    assert (await app.store.events.get(A, 1)).status == "planned"
    assert (await app.store.events.get("c:two", 2)).status == "planned"
    assert (await web.client.get(page("c:two", "events"))).status == 404
