"""The dashboard over HTTP on 127.0.0.1: signing in, who reaches what, CSRF, escaping, and
every page's actions going through the chat's own commands."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import unquote

import pytest
from aiohttp import ClientResponse, FormData

from companion.config import ConfigError, WebSettings
from companion.events import Actor, Place
from companion.store.prompts import PromptRepo
from tests.conftest import MEMBER, MODERATOR, PLACE, say
from tests.core.test_unit_of_work import fail_in
from tests.dbsearch import columns_containing
from tests.fakes import RecordingPort
from tests.web.harness import WEB, Browserless, ask_link, login_nonce, page, rows, serve

A = PLACE.community_id
OTHER_PLACE = Place("test", "c:two", "r:elsewhere")
OTHER_MOD = Actor("u:mod2", "Moderator of two", is_moderator=True)


# --- signing in ------------------------------------------------------------------------


async def test_a_link_works_once_and_lands_on_a_url_without_the_token(web: Browserless):
    token = await ask_link(web.app)
    first = await web.sign_in(token)
    assert first.status == 303
    assert unquote(first.headers["Location"]) == "/c/c:one/schedules"
    assert "token" not in first.headers["Location"]
    cookie = _set_cookie(first, "companion_session")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    landed = await web.client.get(first.headers["Location"])
    assert landed.status == 200 and "Schedules" in await landed.text()

    web.client.session.cookie_jar.clear()
    again = await web.sign_in(token)
    assert again.status == 403
    assert "expired or was already used" in await again.text()
    assert (await web.client.get(page(A, "schedules"))).status == 401


async def test_a_link_expires_after_ten_minutes(web: Browserless, clock):
    late = await ask_link(web.app)
    in_time = await ask_link(web.app)
    clock.advance(timedelta(minutes=9, seconds=59))
    assert (await web.sign_in(in_time)).status == 303
    web.client.session.cookie_jar.clear()
    clock.advance(timedelta(seconds=2))
    refused = await web.sign_in(late)
    assert refused.status == 403
    assert (await web.client.get(page(A, "queue"))).status == 401


async def test_a_made_up_or_missing_token_is_refused(web: Browserless):
    assert (await web.client.get("/login")).status == 400
    refused = await web.client.post("/login", data={"token": "x" * 43}, allow_redirects=False)
    assert refused.status == 403
    assert (await web.client.post("/login", data={}, allow_redirects=False)).status == 403


async def test_only_hashes_of_tokens_and_cookies_are_stored(web: Browserless, db_path):
    token = await ask_link(web.app)
    response = await web.sign_in(token)
    cookie = response.cookies["companion_session"].value
    assert columns_containing(db_path, token) == []
    assert columns_containing(db_path, cookie) == []
    assert len(rows(db_path, "SELECT * FROM web_session")) == 1


async def test_sessions_survive_a_restart(web: Browserless, make_app, clock):
    await web.sign_in_as()
    await web.client.close()
    again = await serve(await make_app(sections=WEB), RecordingPort(clock=clock))
    try:
        again.client.session.cookie_jar.update_cookies(
            {"companion_session": _cookie(web)}, again.client.make_url("/")
        )
        assert (await again.client.get(page(A, "schedules"))).status == 200
    finally:
        await again.client.close()


def _set_cookie(response: ClientResponse, name: str) -> str:
    (header,) = [h for h in response.headers.getall("Set-Cookie") if h.startswith(f"{name}=")]
    return header


def _cookie(web: Browserless) -> str:
    for morsel in web.client.session.cookie_jar:
        if morsel.key == "companion_session":
            return morsel.value
    raise AssertionError("no session cookie")


async def test_https_public_url_makes_the_cookie_secure(make_app, clock):
    app = await make_app(sections={"web": {"public_url": "https://mods.example.org"}})
    harness = await serve(app, RecordingPort(clock=clock))
    try:
        token = await ask_link(app)
        shown = await harness.client.get(f"/login?token={token}")
        assert "Secure" in _set_cookie(shown, "companion_login")
        # The client does not send Secure cookies over plain http: send it as a browser would.
        response = await harness.client.post(
            "/login",
            data={"token": token, "nonce": login_nonce(await shown.text())},
            headers={"Cookie": f"companion_login={shown.cookies['companion_login'].value}"},
            allow_redirects=False,
        )
        assert "Secure" in _set_cookie(response, "companion_session")
    finally:
        await harness.client.close()


async def test_a_member_gets_a_refusal_and_no_link(web: Browserless, db_path):
    reply = await say(web.app, "dashboard", MEMBER)
    assert reply.text == "Only moderators can use `dashboard`."
    assert "token" not in reply.text
    assert rows(db_path, "SELECT * FROM web_login") == []
    assert (await web.client.get("/")).status == 401


async def test_with_web_off_the_command_says_so(make_app):
    app = await make_app()
    reply = await say(app, "dashboard", MODERATOR)
    assert "not switched on" in reply.text and "token" not in reply.text


async def test_an_unchecked_session_is_short(web: Browserless, clock):
    await web.sign_in_as()
    clock.advance(timedelta(minutes=14))
    assert (await web.client.get(page(A, "settings"))).status == 200
    clock.advance(timedelta(minutes=2))
    assert (await web.client.get(page(A, "settings"))).status == 401


class AskablePort(RecordingPort):
    """A port that can say who moderates now (the capability the console adapter offers)."""

    moderators: set[str]

    async def is_moderator(self, platform: str, community_id: str, member_id: str) -> bool:
        return member_id in self.moderators


async def test_a_moderator_who_loses_the_role_loses_the_dashboard(make_app, clock, db_path):
    app = await make_app(sections=WEB)
    port = AskablePort(clock=clock)
    port.moderators = {MODERATOR.id}
    harness = await serve(app, port)
    try:
        await harness.sign_in_as()
        csrf = await harness.csrf(page(A, "settings"))
        clock.advance(timedelta(hours=2))  # a checked session lasts longer than 15 minutes
        assert (await harness.client.get(page(A, "settings"))).status == 200
        port.moderators.clear()
        refused = await harness.client.post(
            page(A, "settings") + "/timezone", data={"csrf": csrf, "zone": "Asia/Tokyo"}
        )
        assert refused.status == 403 and "no longer a moderator" in await refused.text()
        assert app.communities.zone(A).key == "UTC"
        port.moderators.add(MODERATOR.id)  # the session reached only that community: gone
        assert (await harness.client.get(page(A, "settings"))).status == 401
    finally:
        await harness.client.close()


async def test_a_second_link_adds_its_community_to_the_session(web: Browserless):
    await web.sign_in_as()
    await web.sign_in_as(MODERATOR, OTHER_PLACE)
    index = await (await web.client.get("/")).text()
    assert "c:one" in index and "c:two" in index
    assert (await web.client.get(page("c:two", "queue"))).status == 200


async def test_sign_out_ends_the_session(web: Browserless):
    await web.sign_in_as()
    signed_out = await web.submit("/logout", from_page="/")
    assert signed_out.status == 200 and "Signed out" in await signed_out.text()
    assert (await web.client.get(page(A, "schedules"))).status == 401


# --- who reaches what ----------------------------------------------------------------------


async def test_a_moderator_of_a_cannot_reach_b_or_b_s_ids(web: Browserless, db_path):
    app = web.app
    await say(app, "schedule reflection 09:00", OTHER_MOD, OTHER_PLACE)
    await say(
        app, "suggest prompt What did you notice in the other room today?", MEMBER, OTHER_PLACE
    )
    await say(
        app, "prompt add A prompt that belongs to the other community", OTHER_MOD, OTHER_PLACE
    )
    b_schedule = rows(db_path, "SELECT id FROM schedule WHERE community_id = 'c:two'")[0][0]
    b_item = rows(db_path, "SELECT id FROM suggestion WHERE community_id = 'c:two'")[0][0]
    b_prompt = rows(db_path, "SELECT id FROM prompt WHERE community_id = 'c:two'")[0][0]
    await web.sign_in_as()
    for name in ("schedules", "queue", "prompts", "bookclub", "settings", "prompts/export"):
        assert (await web.client.get(page("c:two", name))).status == 404, name
    csrf = await web.csrf(page(A, "schedules"))
    attempts = [
        (page("c:two", "schedules") + f"/{b_schedule}/cancel", {}),
        (page(A, "schedules") + f"/{b_schedule}/cancel", {}),
        (page(A, "schedules") + f"/{b_schedule}/pause", {}),
        (page(A, "queue") + f"/{b_item}/approve", {}),
        (page(A, "queue") + f"/{b_item}/reject", {"reason": "not here"}),
        (page(A, "queue") + f"/{b_item}/block", {}),
        (page(A, "prompts") + f"/{b_prompt}/remove", {}),
        (page(A, "prompts") + f"/{b_prompt}/edit", {"text": "Rewritten from the wrong place"}),
        (page("c:two", "settings") + "/timezone", {"zone": "Asia/Tokyo"}),
        (page(A, "bookclub") + "/1/end", {}),
    ]
    for path, data in attempts:
        response = await web.client.post(path, data={"csrf": csrf, **data})
        assert response.status == 404, path
    assert rows(db_path, "SELECT status FROM schedule WHERE id = ?", (b_schedule,)) == [("active",)]
    assert rows(db_path, "SELECT status FROM suggestion WHERE id = ?", (b_item,)) == [("pending",)]
    assert rows(db_path, "SELECT COUNT(*) FROM suggester_block") == [(0,)]
    assert rows(db_path, "SELECT text FROM prompt WHERE community_id = 'c:two'") == [
        ("A prompt that belongs to the other community",)
    ]
    assert app.communities.zone("c:two").key == "UTC"


async def test_without_a_session_every_page_is_refused(web: Browserless):
    for name in ("schedules", "queue", "prompts", "bookclub", "settings"):
        response = await web.client.get(page(A, name))
        assert response.status == 401
        assert "dashboard" in await response.text()
    refused = await web.client.post(page(A, "schedules") + "/reflection", data={"time": "09:00"})
    assert refused.status == 401


# --- CSRF ------------------------------------------------------------------------------


async def test_a_form_without_or_with_a_wrong_csrf_token_changes_nothing(web: Browserless, db_path):
    await web.sign_in_as()
    path = page(A, "schedules") + "/reflection"
    for fields in ({"time": "09:00"}, {"time": "09:00", "csrf": "0" * 64}, {"csrf": ""}):
        refused = await web.client.post(path, data=fields)
        assert refused.status == 403
        assert "security token" in await refused.text()
    assert rows(db_path, "SELECT COUNT(*) FROM schedule") == [(0,)]
    ok = await web.submit(path, {"time": "09:00"}, from_page=page(A, "schedules"))
    assert ok.status == 200 and "Planned #1" in await ok.text()


async def test_another_session_s_csrf_token_is_refused(web: Browserless, make_app, clock):
    await web.sign_in_as()
    mine = await web.csrf(page(A, "schedules"))
    web.client.session.cookie_jar.clear()
    await web.sign_in_as()
    theirs = await web.csrf(page(A, "schedules"))
    assert mine != theirs
    refused = await web.client.post(
        page(A, "settings") + "/timezone", data={"csrf": mine, "zone": "Asia/Tokyo"}
    )
    assert refused.status == 403


# --- headers and escaping -----------------------------------------------------------------


async def test_every_response_carries_the_security_headers(web: Browserless):
    await web.sign_in_as()
    for path in (
        page(A, "schedules"),
        "/login?token=abc",
        page("c:nope", "queue"),
        "/static/style.css",
    ):
        response = await web.client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    body = await (await web.client.get(page(A, "schedules"))).text()
    assert "<script>" not in body and " on" + "click=" not in body


async def test_html_in_stored_texts_is_shown_as_text(web: Browserless):
    app = web.app
    evil = "<script>alert(1)</script> What do <b>you</b> think? @everyone"
    await say(app, f"suggest prompt {evil}")
    await say(
        app, "resource suggest https://example.org/x?a=<i> A <img src=x onerror=alert(1)> talk"
    )
    await say(app, f"prompt add {evil}", MODERATOR)
    await web.sign_in_as()
    for name in ("queue", "prompts"):
        body = await (await web.client.get(page(A, name))).text()
        assert "<script>alert(1)" not in body and "<b>you</b>" not in body, name
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, name
    queue = await (await web.client.get(page(A, "queue"))).text()
    assert "<img" not in queue and "&lt;img src=x" in queue


# --- the pages' actions -----------------------------------------------------------------------


async def test_schedules_create_pause_resume_cancel_and_show_on_the_calendar(
    web: Browserless, db_path
):
    await web.sign_in_as()
    await say(web.app, "timezone Europe/Berlin", MODERATOR)
    schedules = page(A, "schedules")
    made = await web.submit(
        schedules + "/discussion",
        {"rule": "weekly", "days": "thu", "time": "19:30", "prompt": "next"},
        from_page=schedules,
    )
    body = await made.text()
    assert "Planned #1: a discussion thread" in body
    assert body.count("Discussion thread <span") == 4  # Thursdays 5, 12, 19, 26 March
    assert "Thu 05 Mar" in body and "19:30" in body
    bad = await web.submit(
        schedules + "/discussion",
        {"rule": "once", "date": "2026-03-01", "time": "18:00"},
        from_page=schedules,
    )
    assert "That time has already passed" in await bad.text()
    missing = await web.submit(
        schedules + "/discussion", {"rule": "once", "time": "18:00"}, from_page=schedules
    )
    assert "Pick the date" in await missing.text()
    wrong = await web.submit(schedules + "/reflection", {"time": "25:00"}, from_page=schedules)
    assert "is not a time: use HH:MM" in await wrong.text()
    paused = await web.submit(schedules + "/1/pause", from_page=schedules)
    text = await paused.text()
    assert "Paused #1." in text and "Discussion thread <span" not in text
    resumed = await web.submit(schedules + "/1/resume", from_page=schedules)
    assert "Resumed #1" in await resumed.text()
    cancelled = await web.submit(schedules + "/1/cancel", from_page=schedules)
    assert "Cancelled #1." in await cancelled.text()
    assert rows(db_path, "SELECT status FROM schedule") == [("cancelled",)]
    again = await web.submit(schedules + "/1/cancel", from_page=schedules)
    assert "There is no schedule #1 here" in await again.text()
    chosen = await (await web.client.get(schedules + "?date=2026-03-20")).text()
    assert 'value="2026-03-20"' in chosen


async def test_the_calendar_leaves_out_a_question_waiting_to_be_posted(web: Browserless, db_path):
    await say(web.app, "ask anonymously How do I speak up without centring myself?")
    await say(web.app, "approve 1", MODERATOR)
    await web.sign_in_as()
    schedules = page(A, "schedules")
    body = await (await web.client.get(schedules)).text()
    assert "Discussion thread" not in body and "/1/cancel" not in body
    refused = await web.submit(schedules + "/1/cancel", from_page=schedules)
    assert "schedule #1" in await refused.text()
    assert rows(db_path, "SELECT status FROM schedule") == [("active",)]


async def test_queue_approve_reject_with_reason_and_block(web: Browserless, db_path):
    app = web.app
    await say(app, "suggest prompt What did you notice when you listened first?")
    await say(app, "suggest prompt Is this a prompt we should keep around?")
    await say(app, "resource suggest https://example.org/talk A talk on listening")
    await web.sign_in_as()
    queue = page(A, "queue")
    body = await (await web.client.get(queue)).text()
    assert "3 waiting" in body and 'href="https://example.org/talk"' in body
    approved = await web.submit(queue + "/1/approve", from_page=queue)
    assert "#1 approved." in await approved.text()
    no_reason = await web.submit(queue + "/2/reject", from_page=queue)
    assert "Reason is missing" in await no_reason.text()
    rejected = await web.submit(
        queue + "/2/reject", {"reason": "We have one like it"}, from_page=queue
    )
    text = await rejected.text()
    assert "#2 rejected; the suggester will see your reason." in text
    assert "Moderation log" in text and "rejected" in text
    blocked = await web.submit(queue + "/3/block", from_page=queue)
    assert "can no longer suggest here" in await blocked.text()
    notices = [s for s in web.port.sent if s.kind == "notice"]
    assert notices[-1].title == MEMBER.id and "We have one like it" in notices[-1].text
    assert rows(db_path, "SELECT status FROM suggestion ORDER BY id") == [
        ("approved",),
        ("rejected",),
        ("pending",),
    ]
    later = await say(app, "suggest prompt One more idea, please?")
    assert "paused your suggestions" in later.text


async def test_prompts_add_search_edit_remove_export_import(web: Browserless, db_path):
    await web.sign_in_as()
    prompts = page(A, "prompts")
    added = await web.submit(
        prompts, {"text": "Who carried the weight this week? #care"}, from_page=prompts
    )
    assert "Added prompt <code>1</code>" in await added.text()
    short = await web.submit(prompts, {"text": "Too short"}, from_page=prompts)
    assert "at least 10 characters" in await short.text()
    found = await (await web.client.get(prompts + "?q=weight")).text()
    assert "Who carried the weight" in found
    assert "Who carried" not in await (await web.client.get(prompts + "?q=nothing-like-it")).text()
    edited = await web.submit(
        prompts + "/1/edit", {"text": "Who carried the load this week? #care"}, from_page=prompts
    )
    text = await edited.text()
    assert "Added prompt <code>2</code>" in text and "Removed prompt <code>1</code>" in text
    bad_edit = await web.submit(prompts + "/2/edit", {"text": "short"}, from_page=prompts)
    assert "at least 10 characters" in await bad_edit.text()
    assert rows(db_path, "SELECT id, text FROM prompt WHERE removed_at IS NULL") == [
        (2, "Who carried the load this week?")
    ]
    exported = await web.client.get(prompts + "/export")
    assert exported.headers["Content-Disposition"].startswith("attachment")
    data = json.loads(await exported.text())
    assert [p["text"] for p in data["prompts"]] == ["Who carried the load this week?"]
    removed = await web.submit(prompts + "/2/remove", from_page=prompts)
    assert "Removed prompt <code>2</code>" in await removed.text()
    csrf = await web.csrf(prompts)
    upload = FormData()
    upload.add_field("csrf", csrf)
    upload.add_field(
        "file", json.dumps(data), filename="export.json", content_type="application/json"
    )
    imported = await web.client.post(prompts + "/import", data=upload)
    assert "Imported 1 entries." in await imported.text()
    broken = await web.client.post(prompts + "/import", data={"csrf": csrf, "data": "{not json"})
    assert "Nothing imported" in await broken.text()
    assert rows(db_path, "SELECT COUNT(*) FROM prompt WHERE removed_at IS NULL") == [(1,)]


@pytest.mark.parametrize("failing", ["remove", "add"])
async def test_a_prompt_edit_is_whole_or_nothing(web: Browserless, db_path, monkeypatch, failing):
    """The edit's two writes are one unit of work: whichever fails, the member sees the
    apology and the prompts are as they were (not the new one beside the old)."""
    await say(web.app, "prompt add Who carried the weight this week? #care", MODERATOR)
    await web.sign_in_as()
    prompts = page(A, "prompts")
    await web.client.get(prompts)  # the CSRF token first, before the store breaks
    fail_in(monkeypatch, PromptRepo, failing)
    edited = await web.submit(
        prompts + "/1/edit", {"text": "Who carried the load this week? #care"}, from_page=prompts
    )
    text = await edited.text()
    assert "Sorry, something went wrong" in text and "Added prompt" not in text
    assert rows(db_path, "SELECT id, text FROM prompt WHERE removed_at IS NULL") == [
        (1, "Who carried the weight this week?")
    ]


async def test_glossary_additions_are_listed(web: Browserless):
    await say(web.app, 'suggest term "call in" Inviting someone privately to reflect on harm')
    await say(web.app, "approve 1", MODERATOR)
    await web.sign_in_as()
    body = await (await web.client.get(page(A, "prompts"))).text()
    assert "<dt>call in</dt>" in body and "Inviting someone privately" in body


async def test_book_club_shows_counts_never_names_and_pauses_skips_ends(web: Browserless):
    app = web.app
    await say(app, 'bookclub plan create "Six Small Chapters" 6', MODERATOR)
    reply = await say(
        app, "bookclub start six-small-chapters 2026-03-03 weekly thu 19:00", MODERATOR
    )
    assert "Book club started" in reply.text
    for member in ("u:a", "u:b"):
        await say(app, "bookclub progress 2", Actor(member, f"Reader {member}"))
    await say(app, "bookclub progress 1", Actor("u:c", "Reader C"))
    await web.sign_in_as()
    club = page(A, "bookclub")
    body = await (await web.client.get(club)).text()
    assert "Six Small Chapters" in body and "Reader" not in body and "u:a" not in body
    assert "<td>2</td><td>Thu 12 Mar 2026, 19:00</td><td>planned</td><td>2</td>" in body
    assert "<td>1</td><td>Thu 05 Mar 2026, 19:00</td><td>planned</td><td>1</td>" in body
    calendar = await (await web.client.get(page(A, "schedules"))).text()
    assert "Book club: Six Small Chapters, chapter 1 discussion" in calendar
    paused = await (await web.submit(club + "/1/pause", from_page=club)).text()
    assert "Paused the book club." in paused and "Status: <strong>paused</strong>" in paused
    assert ">Resume</button>" in paused and ">Skip the next chapter</button>" not in paused
    resumed = await (await web.submit(club + "/1/resume", from_page=club)).text()
    assert "Resumed. The remaining discussions moved 0 days later" in resumed
    assert "Status: <strong>active</strong>" in resumed and ">Resume</button>" not in resumed
    skipped = await (await web.submit(club + "/1/skip", from_page=club)).text()
    assert "Skipped the chapter 1 discussion; the others keep their dates." in skipped
    assert "<td>1</td><td>Thu 05 Mar 2026, 19:00</td><td>skipped</td>" in skipped
    assert "<td>2</td><td>Thu 12 Mar 2026, 19:00</td><td>planned</td>" in skipped
    ended = await web.submit(club + "/1/end", from_page=club)
    assert "No book club here" in await ended.text()
    assert "There is no book club" in (await say(app, "bookclub", MEMBER)).text


async def test_settings_set_the_time_zone_and_a_daily_reflection(web: Browserless):
    await web.sign_in_as()
    settings = page(A, "settings")
    wrong = await web.submit(settings + "/timezone", {"zone": "Mars/Olympus"}, from_page=settings)
    shown = await wrong.text()
    assert "is not a time zone I know" in shown and 'class="message error"' in shown
    assert web.app.communities.zone(A).key == "UTC"
    done = await web.submit(settings + "/timezone", {"zone": "europe/berlin"}, from_page=settings)
    assert "Time zone set to <strong>Europe/Berlin</strong>" in await done.text()
    planned = await web.submit(settings + "/reflection", {"time": "08:30"}, from_page=settings)
    text = await planned.text()
    assert "Planned #1: the reflection question daily at 08:30 Europe/Berlin" in text
    assert "every day at 08:30 Europe/Berlin (active)" in text


def test_web_settings_are_checked():
    assert WebSettings.from_table({}).enabled is False
    assert WebSettings.from_table({"port": 9000}).public_url == "http://127.0.0.1:9000"
    assert WebSettings.from_table({"public_url": "https://x.example"}).secure
    for bad in (
        {"port": "80"},
        {"public_url": "ftp://x"},
        {"enabled": "yes"},
        {"session_hours": 0},
    ):
        with pytest.raises(ConfigError, match=r"\[web\]"):
            WebSettings.from_table(bad)
