"""No member text becomes markup, a live link or a mass mention, on any platform.

Attacker text goes into every argument of every registered command (the registry is
iterated, so a new command is covered without touching this file), through both ways
commands arrive (a text line as on Matrix and the terminal, typed options as on Discord),
as a member and as a moderator, in a community and in a direct chat; and into every
stored text that is shown or posted later (prompts, resources, terms, club and plan
titles, chapter prompts, anonymous questions, a moderator's reason). Every reply and every
scheduled post, thread and private notice is rendered by each adapter's real renderer.

What "live" means per platform:
- Matrix: the HTML ``formatted_body`` is parsed; every tag must be on the renderer's
  allow-list and every ``<a href>`` one of the links the bot itself gives (the shipped
  library, a resource a moderator approved). A URL shown as text, in the body or the HTML,
  is not live: clients may make it clickable as they do in any member's message, showing
  its destination. No ``@room``/``@everyone`` in body or text.
- Discord: read as Discord's Markdown does (a backslash before punctuation shows it as
  text; code spans are literal): no masked link ``[..](url)``, autolink ``<url>`` or bare
  ``https://`` URL (Discord links bare URLs) to the attacker's host, no ``<@..>``/``<#..>``
  mention syntax and no raw ``@everyone``/``@here``; thread names on one line.
- Terminal: no control characters (escape sequences, OSC 8 hyperlinks, bidi overrides).
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from html.parser import HTMLParser
from pathlib import Path
from time import monotonic
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nio import RoomCreateResponse, RoomSendResponse

from companion import content as content_module
from companion import exchange
from companion.app import App, build
from companion.commands import CommandSpec, ParamType
from companion.config import Settings
from companion.events import Actor, Invocation, Kind, MessageRef, Place, Reply
from companion.features.bookclub.plans import slugify
from companion.features.challenges.paths import find_path
from companion.features.challenges.text import day_text
from companion.features.challenges.text import title as challenge_title
from companion.fmt import Md, fmt
from companion_adapters.console.adapter import ConsoleAdapter
from companion_adapters.console.adapter import render as console_render
from companion_adapters.console.adapter import render_title as console_title
from companion_adapters.discord.render import split_message, starter, thread_name, to_discord
from companion_adapters.matrix import native, outbound
from companion_adapters.matrix.adapter import MatrixAdapter
from companion_adapters.matrix.settings import MatrixConfig
from tests.conftest import FIXTURE_CONTENT, START
from tests.fakes import FakeClock

EVIL = "evil.example"
SAFE_URL = "https://ok.example/resource"
FRAGMENTS = [
    "[win](https://evil.example)",
    "[win](<https://evil.example/a>)",
    "<https://evil.example>",
    "https://evil.example/p?q=(1)",
    "http://evil.example",
    "![img](https://evil.example/i.png)",
    '<a href="https://evil.example">x</a>',
    "<img src=https://evil.example/i.png onerror=alert(1)>",
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "[x]: https://evil.example",
    "](https://evil.example)",
    "[win]",
    "`",
    "``",
    "```",
    "\\",
    "\\\\",
    "\\[win\\](https://evil.example)",
    "\\`",
    "*",
    "**",
    "_",
    "__",
    "||",
    "~~",
    "@everyone",
    "@here",
    "@room",
    "@channel",
    "<@123>",
    "<@&456>",
    "<#789>",
    "<t:0:R>",
    "\n- ",
    "\n# ",
    "\n> ",
    "\n",
    "&lt;a href=x&gt;",
    "&#60;b&#62;",
    "#tag",
    "(",
    ")",
    "\u200b",
    "\x1b]8;;https://evil.example\x07link\x1b]8;;\x07",
    "\x1b[31m",
    "\u202e",
    "\r",
    "\t",
    " ",
    "what do you notice",
    "?",
    '"',
    "\u201c",
]
attack = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=3)), min_size=1, max_size=7
).map("".join)
PLATFORMS = ("matrix", "discord", "console")
# Examples of the command property (a tenth as many stored-text scenarios, each ~30
# commands and a scheduler run). COMPANION_SAFETY_EXAMPLES=20000 for a long run.
EXAMPLES = int(os.environ.get("COMPANION_SAFETY_EXAMPLES", "2000"))

# --- the checks, per platform --------------------------------------------------------------

ALLOWED_TAGS = {"p", "br", "ul", "li", "strong", "em", "code", "a", "blockquote"}
_MASS = re.compile(r"@(everyone|here|room|channel)\b", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class _Html(HTMLParser):
    def __init__(self, links: set[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.links = links
        self.problems: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        elif tag == "a":
            if len(attrs) != 1 or attrs[0][0] != "href" or not allowed(attrs[0][1], self.links):
                self.problems.append(f"link {attrs}")
        elif attrs:
            self.problems.append(f"attributes on <{tag}>: {attrs}")

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.problems.append("a comment")

    def handle_decl(self, decl: str) -> None:
        self.problems.append("a declaration")

    def unknown_decl(self, data: str) -> None:
        self.problems.append("a declaration")

    def handle_pi(self, data: str) -> None:
        self.problems.append("a processing instruction")


def allowed(url: str | None, links: set[str]) -> bool:
    """A link the bot gives itself: the shipped library's, or a resource a moderator
    approved (this test's resources all live under SAFE_URL)."""
    return url is not None and (url in links or url.startswith(SAFE_URL + "?"))


def check_matrix(content: dict[str, Any], links: set[str]) -> None:
    assert content["m.mentions"] == {}
    assert not _MASS.search(content["body"]), content["body"]
    html = content.get("formatted_body")
    if html is None:
        return
    parser = _Html(links)
    parser.feed(html)
    parser.close()
    assert not parser.problems, (parser.problems, html)
    assert not _MASS.search("".join(parser.text)), html


def check_matrix_native(content: dict[str, Any], links: set[str]) -> None:
    """A notice, or a poll's start or end (its question and answers are plain text, never
    a ping; its text fallbacks are the notice's), or an edit (its new content too)."""
    check_matrix(content, links)
    if "m.new_content" in content:
        check_matrix(content["m.new_content"], links)
    poll = content.get("m.poll")
    plain: list[str] = [content.get("org.matrix.msc1767.text", "")]
    for text in content.get("m.text", []):
        if text.get("mimetype") == "text/html":
            check_matrix({"m.mentions": {}, "body": "", "formatted_body": text["body"]}, links)
        else:
            plain.append(text["body"])
    if poll is not None:
        plain.append(poll["question"]["m.text"][0]["body"])
        plain.extend(answer["m.text"][0]["body"] for answer in poll["answers"])
        unstable = content["org.matrix.msc3381.poll.start"]
        plain.append(unstable["question"]["org.matrix.msc1767.text"])
        plain.extend(a["org.matrix.msc1767.text"] for a in unstable["answers"])
    for text in plain:
        assert not _MASS.search(text), text


def _discord_live_text(text: str) -> str:
    """What Discord reads as Markdown: escaped punctuation and code spans blanked out."""
    out, i = [], 0
    while i < len(text):
        char = text[i]
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if char == "\\" and nxt and not nxt.isalnum() and not nxt.isspace():
            out.append("\x00")
            i += 2
            continue
        if char == "`":
            end = text.find("`", i + 1)
            if end != -1:
                out.append("\x00")
                i = end + 1
                continue
        out.append(char)
        i += 1
    return "".join(out)


def check_discord(text: str, links: set[str]) -> None:
    assert not _MASS.search(text), text
    live = _discord_live_text(text)
    for masked in re.finditer(r"\[[^\]]*\]\(\s*<?([^)\s>]*)", live):
        assert allowed(masked.group(1), links), (masked.group(0), text)
    assert not re.search(r"<[a-z][a-z0-9+.-]*:[^ >]+>", live), text
    for bare in re.finditer(r"https?://[^\s<)]+", live):
        assert EVIL not in bare.group(), text
    assert not re.search(r"<[@#]|<t:", live), text


def check_console(text: str) -> None:
    assert not _CONTROL.search(text), repr(text)


def check_markdown(md: str, links: set[str], kind: Kind = Kind.ANSWER) -> None:
    """A reply's or a post's Markdown through every adapter's renderer."""
    for content in outbound.notices(md, kind=kind):
        check_matrix(content, links)
    for chunk in split_message(to_discord(md)):
        check_discord(chunk, links)
    check_console(console_render(md))


def check_title(title: str, links: set[str]) -> None:
    check_matrix(outbound.thread_root(title), links)
    name = thread_name(title)
    assert "\n" not in name and len(name) <= 100 and not _MASS.search(name), name
    check_discord(starter(title), links)
    check_console(console_title(title))


# --- one app for the whole test, driven from a loop of its own ------------------------------


class Harness:
    """One real app on a SQLite file, a Matrix adapter whose client records what it sends,
    the console adapter writing to a buffer, and a port fanning scheduled posts out to them
    and to Discord's renderer."""

    def __init__(self, db: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock(START)
        content = content_module.load(FIXTURE_CONTENT)
        self.links = {r.url for r in content.resources.values() if r.url} | {SAFE_URL}
        self.app: App = self.run(
            build(
                # No flood limit: this test sends many commands from one member at once.
                Settings(db_path=db, suggestions_per_day=1000, commands_per_window=0),
                clock=self.clock,
                rng=random.Random(1),
                content=content,
            )
        )
        config = MatrixConfig.from_section(
            # Plain rooms: an encrypting adapter would wait for a first sync before sending.
            {"homeserver": "http://127.0.0.1:9", "user_id": "@bot:localhost", "encryption": False}
        )
        self.matrix = MatrixAdapter(self.app.gateway, config)
        self.matrix_sent: list[dict[str, Any]] = []

        async def room_send(
            room: str, kind: str, content: dict[str, Any], tx_id: str, **_: Any
        ) -> Any:
            self.matrix_sent.append(content)
            return RoomSendResponse(f"$e{len(self.matrix_sent)}", room)

        async def room_create(**_: Any) -> Any:
            return RoomCreateResponse("!direct")

        self.matrix.client.room_send = room_send  # type: ignore[method-assign]
        self.matrix.client.room_create = room_create  # type: ignore[method-assign]
        self.console_out = io.StringIO()
        self.console = ConsoleAdapter(self.app.gateway, stdout=self.console_out, interactive=False)
        self.discord_sent: list[str] = []
        self.posts = 0
        for platform in PLATFORMS:
            self.app.ports.attach(platform, self)
        self.examples = 0
        self.day = START.date()
        self.started = monotonic()

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        self.run(self.matrix.client.close())
        self.run(self.app.close())
        self.loop.close()

    # The port every platform's schedules go through: each real adapter renders them.
    async def post(self, place: Place, text: str, *, key: str, kind: Any = None) -> Any:
        self.posts += 1
        self.discord_sent.extend(split_message(to_discord(text)))
        await self.console.post(place, text, key=key)
        return await self.matrix.post(place, text, key=key, kind=kind)

    async def open_thread(
        self, place: Place, title: str, text: str, *, key: str, kind: Any = None
    ) -> Place:
        self.posts += 1
        check_title(title, self.links)
        self.discord_sent.append(starter(title))
        self.discord_sent.extend(split_message(to_discord(text)))
        await self.console.open_thread(place, title, text, key=key)
        return await self.matrix.open_thread(place, title, text, key=key, kind=kind)

    async def notify(self, place: Place, member_id: str, text: str, *, key: str) -> None:
        self.posts += 1
        self.discord_sent.extend(split_message(to_discord(text)))
        await self.console.notify(place, member_id, text, key=key)
        await self.matrix.notify(place, member_id, text, key=key)

    # Polls and announcements (members react to them) go the platform's own way.
    async def open_poll(
        self,
        place: Place,
        question: str,
        answers: tuple[str, ...],
        *,
        text: str,
        hours: int,
        key: str,
    ) -> MessageRef:
        self.posts += 1
        self.discord_sent.extend(split_message(to_discord(text)))
        await self.console.post(place, text, key=key)
        return await self.matrix.open_poll(
            place, question, answers, text=text, hours=hours, key=key
        )

    async def close_poll(
        self, message: MessageRef, text: str, counts: dict[int, int], *, key: str
    ) -> None:
        self.posts += 1
        self.discord_sent.extend(split_message(to_discord(text)))
        await self.console.post(message.place, text, key=key)
        await self.matrix.close_poll(message, text, counts, key=key)

    async def announce(self, place: Place, title: str, text: str, *, key: str) -> MessageRef:
        self.posts += 1
        check_title(title, self.links)
        self.discord_sent.extend(split_message(to_discord(text)))
        await self.console.post(place, text, key=key)
        return await self.matrix.announce(place, title, text, key=key)

    async def update(self, message: MessageRef, text: str, *, key: str) -> None:
        self.discord_sent.extend(split_message(to_discord(text)))
        await self.matrix.update(message, text, key=key)

    def check_sent(self) -> None:
        for content in self.matrix_sent:
            check_matrix_native(content, self.links)
        for chunk in self.discord_sent:
            check_discord(chunk, self.links)
        check_console(self.console_out.getvalue())
        self.matrix_sent.clear()
        self.discord_sent.clear()
        self.console_out.seek(0)
        self.console_out.truncate()


@pytest.fixture(scope="module")
def harness(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[Harness]:
    made = Harness(tmp_path_factory.mktemp("safety") / "companion.db")
    yield made
    made.close()
    # Not a timed test: how many examples ran, and how long this module took.
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"output safety: {made.examples} hypothesis examples, "
            f"{made.posts} scheduled posts, {monotonic() - made.started:.1f} s"
        )


def actor(moderator: bool, community: str) -> Actor:
    """A member of one community (so what a member keeps, shown in mydata, stays small)."""
    if moderator:
        return Actor(f"u:mod:{community}", "Mod", True)
    return Actor(f"u:member:{community}", "Member")


def place(platform: str, community: str, direct: bool) -> Place:
    if direct:
        return Place(platform, f"dm:u:member:{community}", f"r:dm:{community}")
    return Place(platform, community, f"r:{community}")


# --- every command, every argument ------------------------------------------------------------


def _value(param: Any, text: str, number: int) -> object:
    return number if param.type is ParamType.INT and number >= 0 else text


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.data(),
    moderator=st.booleans(),
    direct=st.booleans(),
    platform=st.sampled_from(PLATFORMS),
    typed=st.booleans(),
)
def test_no_command_answer_carries_an_attackers_markup(
    harness: Harness,
    data: st.DataObject,
    moderator: bool,
    direct: bool,
    platform: str,
    typed: bool,
) -> None:
    specs: list[CommandSpec] = list(harness.app.registry)
    spec = data.draw(st.sampled_from(specs), label="command")
    texts = [data.draw(attack, label=p.name) for p in spec.params]
    numbers = [data.draw(st.integers(-1, 3)) for _ in spec.params]
    harness.examples += 1
    community = f"c:{harness.examples // 40}"
    where = place(platform, community, direct)
    who = actor(moderator, community)
    dispatcher = harness.app.dispatcher
    if typed:  # as Discord hands options over
        args = {
            p.name: _value(p, t, n) for p, t, n in zip(spec.params, texts, numbers, strict=True)
        }
        inv = Invocation(spec.name, args, who, where, harness.clock.now())
        reply: Reply | None = harness.run(dispatcher.dispatch(inv))
    else:  # a line of text, as on Matrix and in the terminal
        line = " ".join([spec.name, *texts])
        reply = harness.run(dispatcher.run_text(line, who, where, harness.clock.now()))
    assert reply is not None
    check_markdown(reply.text, harness.links, reply.kind)
    harness.check_sent()  # notices sent on the way (a decision) and posts (an approval)


def test_every_registered_command_with_every_attack(harness: Harness) -> None:
    """Deterministic cover of the registry: each command gets every fragment above (in
    groups), both ways in, as member and moderator, in a community and a direct chat."""
    groups = ["".join(FRAGMENTS[i : i + 7]) for i in range(0, len(FRAGMENTS), 7)]
    ways = [(t, m, d) for t in (False, True) for m in (False, True) for d in (False, True)]
    runs = 0
    for spec in harness.app.registry:
        for turn, (typed, moderator, direct) in enumerate(ways):
            text = groups[turn % len(groups)]
            where = place(PLATFORMS[turn % 3], f"d:{spec.name}", direct)
            who, now = actor(moderator, f"d:{spec.name}"), harness.clock.now()
            if typed:
                args = {p.name: text for p in spec.params}
                inv = Invocation(spec.name, args, who, where, now)
                reply = harness.run(harness.app.dispatcher.dispatch(inv))
            else:
                line = " ".join([spec.name, *(text for _ in spec.params)])
                reply = harness.run(harness.app.dispatcher.run_text(line, who, where, now))
            assert reply is not None
            check_markdown(reply.text, harness.links, reply.kind)
            harness.check_sent()
            runs += 1
    assert runs == len(ways) * len(harness.app.registry)


# --- stored texts, shown and posted later ----------------------------------------------------


def _number(reply: Reply) -> int | None:
    found = re.search(r"#(\d+)", reply.text)
    return int(found.group(1)) if found else None


@settings(
    max_examples=max(EXAMPLES // 10, 20),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(texts=st.lists(attack, min_size=12, max_size=12), platform=st.sampled_from(PLATFORMS))
def test_stored_texts_stay_text_when_shown_and_posted_later(
    harness: Harness, texts: list[str], platform: str
) -> None:
    harness.examples += 1
    harness.day += timedelta(days=1)
    harness.clock.set(datetime.combine(harness.day, time(12, 0), UTC))
    community = f"s:{harness.examples}"
    here = place(platform, community, direct=False)
    member, mod = actor(False, community), actor(True, community)
    app, clock = harness.app, harness.clock
    replies: list[Reply] = []

    def do(name: str, who: Actor, **args: object) -> Reply:
        inv = Invocation(name, args, who, here, clock.now())
        reply: Reply | None = harness.run(app.dispatcher.dispatch(inv))
        assert reply is not None
        replies.append(reply)
        return reply

    prompt, title, term, definition, suggested, question, plan, chapter, reason = texts[:9]
    event_title, where, option = (t.replace("|", "/") for t in texts[9:])
    ask = " — what do you notice here?"
    do("prompt add", mod, text=prompt + ask)
    for name, args in [
        ("resource suggest", {"url": f"{SAFE_URL}?n={harness.examples}", "title": title}),
        ("suggest term", {"term": term[:60], "definition": definition + ask}),
        ("suggest prompt", {"text": suggested + ask}),
        ("ask anonymously", {"question": question + ask}),
    ]:
        number = _number(do(name, member, **args))
        if number is not None:
            do("approve", mod, id=number)  # the question is posted right away
    number = _number(do("suggest prompt", member, text=reason + ask))
    if number is not None:
        do("reject", mod, id=number, reason=reason + " (a reason)")  # a notice to the member
    do("bookclub plan", mod, action="create", details=f'"{plan[:140]}" 1')
    slug = slugify(plan[:140])
    do("bookclub plan", mod, action="prompt", details=f"{slug} 1 {chapter}{ask}")
    today = clock.now().date()
    do(
        "bookclub start",
        mod,
        plan=slug,
        date=today.isoformat(),
        pace="every 1 days 23:00 with meetings 23:45",
    )
    tomorrow = (today + timedelta(days=1)).isoformat()
    do("schedule discussion", mod, rule="once", when=f"{tomorrow} 23:30 next")
    do("reflect answer", member, text=prompt)
    do("challenge start", mod, path="three-days", date=today.isoformat(), time="23:10")
    do("challenge join", member)
    do("challenge remind", member, switch="on")
    # An event (announced at once, a reminder 15 minutes before) and a poll (posted at once).
    event = f"{tomorrow} 23:40 {event_title[:90].strip() or 'x'} | {where[:90]}"
    event_id = _number(do("event plan", mod, rule="once", details=event))
    if event_id is not None:
        do("event rsvp", member, id=event_id, answer="yes")
        do("event show", member, id=event_id)
    poll_id = _number(do("poll", mod, poll=f"{question[:250]} | {option[:50]} | {where[:50]}"))
    if poll_id is not None:
        do("vote", member, answer=1)
    # A meeting time picked by a poll (closes in an hour): the event planned at the close.
    picked = f"{event_title[:90].strip() or 'x'} | {where[:90]} poll thu 23:50 | fri 23:50 for 1h"
    do("event plan", mod, rule="weekly", details=picked)
    # The club's vote on its next book: the attacker's plan title as an answer (shortened).
    do("bookclub vote", mod, books=f"{slug} the-wake-up")
    harness.run(app.scheduler.run_due())  # the announcement and the poll go out at once
    if event_id is not None:
        do("event rsvp", member, id=event_id, answer="maybe")  # the announcement is edited
    do("bookclub progress", member, chapter=1)
    for name, who, args in [
        ("prompt list", member, {}),
        ("resources", member, {}),
        ("resources", member, {"query": title[:90]}),
        ("terms", member, {}),
        ("define", member, {"term": term[:90]}),
        ("queue", mod, {}),
        ("audit", mod, {}),
        ("mydata", member, {}),
        ("journal", member, {}),
        ("bookclub", member, {}),
        ("bookclub schedule", member, {}),
        ("bookclub prompts", member, {}),
        ("schedule list", mod, {}),
        ("event list", member, {}),
    ]:
        do(name, who, **args)
    for reply in replies:
        check_markdown(reply.text, harness.links, reply.kind)
    before = harness.posts
    for moment in (time(23, 1), time(23, 31)):  # the reminder; the chapter and discussion
        clock.set(datetime.combine(today, moment, UTC))
        harness.run(app.scheduler.run_due())
        today += timedelta(days=1)
    assert harness.posts > before, "nothing was posted"
    assert harness.matrix_sent, "the Matrix adapter sent nothing (its sends failed?)"
    sent = harness.matrix_sent
    if poll_id is not None:  # the poll went the platform's own way, and ended there
        assert any("m.poll" in c for c in sent) and any("m.poll.results" in c for c in sent)
    if event_id is not None:  # the announcement, edited with the counts after the RSVP
        assert any("m.new_content" in c for c in sent)
    harness.check_sent()
    clock.set(datetime.combine(today - timedelta(days=1), time(23, 40), UTC))  # day 1 is open
    replies.clear()
    do("challenge done", member, note=reason)
    do("challenge catchup", member, n=1, note=reason)
    do("challenge review", member, switch="on")
    for name in ("challenge", "challenge today", "challenge progress", "journal", "mydata"):
        do(name, member)
    # The community's own path, written by the attacker: listed, and each day as posted.
    own = own_paths_file(plan, title, prompt, definition, question)
    harness.run(exchange.import_paths(app.store, app.content, community, own, "own.toml", NOW))
    do("challenge paths", member)
    for reply in replies:
        check_markdown(reply.text, harness.links, reply.kind)
    assert "Checked in for day" in replies[0].text, replies[0].text
    found = harness.run(find_path(app.store, app.content, community, "own-path"))
    assert found is not None
    path, content = found
    for day in path.days:
        check_title(challenge_title(path, day), harness.links)
        check_markdown(day_text(content, path, day), harness.links, Kind.DISCUSSION)
    do("challenge end", mod)  # its later days and ticks are not the next example's work


NOW = datetime(2026, 3, 1, tzinfo=UTC)


def own_paths_file(title: str, day_title: str, short: str, deeper: str, question: str) -> str:
    """A one-day path of the community's own with attacker text in every field."""
    fields = {  # each starts with a word: a field must not be empty
        "title": "Day " + day_title[:70],
        "short": "Try " + short[:400],
        "deeper": "Read " + deeper[:500],
        "question": "Why " + question[:260] + "?",
    }
    day = "\n".join(f"{k} = {exchange._toml(v)}" for k, v in fields.items())
    path_title, summary = exchange._toml("Path " + title[:90]), exchange._toml("About " + title)
    return (
        f'[[path]]\nid = "own-path"\ntitle = {path_title}\n'
        f"summary = {summary}\n[[path.day]]\nnumber = 1\n{day}\n"
        'resources = ["awaken-allyship-2019"]\nterms = ["allyship"]\n'
    )


def test_every_challenge_day_as_posted_stays_safe_on_every_platform(harness: Harness) -> None:
    shipped = content_module.load()
    for path in shipped.paths.values():
        for day in path.days:
            check_title(challenge_title(path, day), harness.links)
            text = day_text(shipped, path, day)
            check_markdown(text, harness.links, Kind.DISCUSSION)
            assert len(to_discord(text)) <= 2000  # one Discord message, whole


# --- the checks themselves -------------------------------------------------------------------

UNESCAPED = [  # member text as an adapter that forgot to escape it would show it
    "[win](https://evil.example)",
    "see ![img](https://evil.example/i.png) here",
]


@pytest.mark.parametrize("raw", UNESCAPED)
def test_the_checks_catch_member_text_rendered_as_markup(raw: str) -> None:
    """Every test above passes because its checks find nothing; here they must find
    something. The same attacks, not escaped (Md() marks text as Markdown already made
    safe, which these are not), are caught on Matrix and on Discord; built as the core
    builds member text (fmt escapes it), nothing is found."""
    unsafe = Md(raw)
    with pytest.raises(AssertionError):
        for content in outbound.notices(unsafe):
            check_matrix(content, set())
    with pytest.raises(AssertionError):
        for chunk in split_message(to_discord(unsafe)):
            check_discord(chunk, set())
    check_markdown(fmt("{}", raw), set())


@pytest.mark.parametrize("mass", ["@everyone", "@here", "@room"])
def test_the_checks_catch_pings_and_terminal_escapes(mass: str) -> None:
    """What the adapters defuse by construction, were it to get through."""
    with pytest.raises(AssertionError):
        check_matrix({"m.mentions": {}, "body": f"hello {mass}"}, set())
    with pytest.raises(AssertionError):
        check_discord(f"hello {mass}", set())
    with pytest.raises(AssertionError):
        check_console(f"hello \x1b]8;;https://{EVIL}\x07{mass}\x1b]8;;\x07")
    check_markdown(fmt("hello {}", mass), set())
    poll = native.poll_start(f"hello {mass}", (f"yes {mass}", "no"), fmt("hello {}", mass))
    check_matrix_native(poll, set())  # defused by construction
    poll["m.poll"]["answers"][0]["m.text"][0]["body"] = f"yes {mass}"
    with pytest.raises(AssertionError):
        check_matrix_native(poll, set())
