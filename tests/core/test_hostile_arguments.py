"""Every command, with the arguments an attacker or a careless member types, answers with a
clear message: never the apology, never a logged traceback, never member text as markup.

The registry is walked (a new command is covered without touching this file). Each command
gets a table of hostile values: alone, in each of its arguments, and in each word of each
of its documented examples (so the values reach the parsers behind a valid first word:
dates, times, zones, ids, durations). They arrive both ways commands arrive (a text line as
on Matrix and the terminal, options as on Discord), from a member and a moderator, in a
community that already has a challenge, a book club, events, polls, schedules and prompts,
and naming the ids of another community's objects. Everything runs on the real dispatcher
and a real SQLite store with the shipped content.
"""

from __future__ import annotations

import asyncio
import logging
import random
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from companion import content as content_module
from companion.app import App, build
from companion.commands import APOLOGY, CommandSpec, ParamType
from companion.config import Settings
from companion.events import Actor, Invocation, Kind, NativeAnswer, Place, Reply
from tests.conftest import MEMBER, MODERATOR, PLACE, START, say
from tests.core.test_output_safety import check_markdown
from tests.fakes import FakeClock

HOSTILE = [
    "",
    " ",
    "\t \u3000",
    "x" * 5000,
    "word " * 600,
    "\u200f\u202eevil\u202c",  # RTL mark, right-to-left override
    "a\u200db\u200c\u200b",  # zero-width joiner, non-joiner, space
    "e\u0301\u0301\u0301\u0301\u0301\u0301",  # stacked combining marks
    "👩🏽‍🤝‍👨🏿🏳️‍⚧️",
    "\x00",
    "a\x00b",
    "\x07\x1b[31m\x7f\x9b",
    "\ud800",  # a lone surrogate, as Matrix JSON can carry one
    "\udfff x",
    "**x**",
    "<b>x</b>",
    "[a](javascript:x)",
    "@everyone",
    "@here",
    "<@123>",
    "||spoiler||",
    "`",
    "```",
    "</code>",
    '"',
    "'",
    '"unclosed',
    "|",
    "| | |",
    "0",
    "-1",
    "-9223372036854775809",
    "9223372036854775808",
    "99999999999999999999999999999999999999",
    "1e309",
    "nan",
    "inf",
    "0x10",
    "٣",  # an Arabic-Indic digit: str.isdigit() says yes
    "²",  # a superscript two: isdigit() says yes, int() says no
    "1_000",
    "²h",
    "٣d",
    "every ² days",
    "2026-02-30",
    "2026-02-29",
    "0000-01-01",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "-2026-01-01",
    "2026-13-01",
    "24:00",
    "25:61",
    "23:60",
    "-1:00",
    "2:30",  # in the spring DST gap of many zones
    "2026-03-29 02:30",
    "2026-03-08 02:30",
    "2026-10-25 02:30",
    "Mars/Olympus",
    "UTC+25",
    "../../../etc/passwd",
    "/etc/localtime",
    "Europe/Berlin\x00",
    "EST5EDT",
    "localtime",
    "9999999d",
    "0d",
    "-3d",
    "1000000h",
    "for 0d",
    "for 99999999999d",
    "weekly",
    "once",
    "daily",
    "yes",
    "on",
    "next",
    "page -1",
    "page 99999999999999999999",
]
# The values put in place of each word of each example: the most likely to reach a parser.
HOSTILE_WORDS = [
    "",
    "x" * 3000,
    "\x00",
    "\ud800",
    "\u202e",
    "**x**",
    "@everyone",
    "-1",
    "0",
    "9223372036854775808",
    "99999999999999999999999999999999999999",
    "٣",
    "²",
    "2026-02-30",
    "0000-01-01",
    "0001-01-01",
    "9999-12-31",
    "24:00",
    "25:61",
    "2:30",
    "Mars/Olympus",
    "../../../etc/passwd",
    "99999999999d",
    "0d",
    "|",
]
# Setting up the places the values are aimed at: each community has one of everything.
SETUP = [
    "timezone Europe/Berlin",
    "prompt add What did you notice this week? #practice",
    "suggest prompt A prompt to review",
    "suggest term ally Someone who acts",
    "resource suggest https://example.org/talk Why listening matters #listening",
    "schedule reflection 09:00",
    "schedule discussion weekly thu 19:30 next",
    "challenge start allyship-21 2026-03-03 08:30",
    "challenge join",
    'bookclub plan create "A Hostile Book" 5',
    "bookclub start the-wake-up 2026-03-09 weekly thu 19:00",
    "event plan weekly thu 18:30 Reading circle | https://meet.example.org/wake",
    "event plan once 2026-12-10 12:00 Lunch | here",
    "poll access members",
    "poll Which evening? | Tuesday | Thursday for 3d",
]
COMMUNITIES = ("c:hostile", "c:other")


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Walk:
    """One app on a SQLite file, driven from its own loop; every answer is checked."""

    def __init__(self, db: Path, database_url: str | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock(START)
        content = content_module.load(content_module.default_dir())
        self.links = {r.url for r in content.resources.values() if r.url}
        # Links a moderator gave (an event's place) or approved (a suggested resource).
        self.links |= {"https://meet.example.org/wake", "https://example.org/talk"}
        self.app: App = self.loop.run_until_complete(
            build(
                Settings(
                    db_path=db,
                    database_url=database_url,
                    suggestions_per_day=100000,
                    commands_per_window=0,
                ),
                clock=self.clock,
                rng=random.Random(3),
                content=content,
            )
        )
        self.errors = _Errors()
        logging.getLogger().addHandler(self.errors)
        self.faults: list[str] = []
        self.runs = 0

    def close(self) -> None:
        logging.getLogger().removeHandler(self.errors)
        self.loop.run_until_complete(self.app.close())
        self.loop.close()

    def check(self, what: str, reply: Reply | None) -> None:
        self.runs += 1
        problems = []
        if reply is None:
            problems.append("no answer")
        elif reply.kind is Kind.APOLOGY or APOLOGY in reply.text:
            problems.append("apology")
        if self.errors.records:
            record = self.errors.records[-1]
            problems.append(f"logged {record.getMessage()!r} {record.exc_info!r}")
            self.errors.records.clear()
        if reply is not None and reply.kind is not Kind.APOLOGY:
            try:
                check_markdown(reply.text, self.links, reply.kind)
            except Exception as error:  # an assertion, or a renderer that failed
                problems.append(f"markup: {error!r}"[:300])
        if problems:
            self.faults.append(f"{what!r}: {'; '.join(problems)}")

    def text(self, line: str, who: Actor, where: Place) -> Reply | None:
        dispatcher = self.app.dispatcher
        return self.loop.run_until_complete(dispatcher.run_text(line, who, where, self.clock.now()))

    def typed(self, spec: CommandSpec, args: dict[str, object], who: Actor, where: Place) -> Any:
        inv = Invocation(spec.name, args, who, where, self.clock.now())
        return self.loop.run_until_complete(self.app.dispatcher.dispatch(inv))


def who(moderator: bool, community: str) -> Actor:
    if moderator:
        return Actor(f"u:mod:{community}", "Mod", True)
    return Actor(f"u:member:{community}", "Member \u202e<@1>")


def where(community: str) -> Place:
    return Place("matrix", community, f"r:{community}")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def walk(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Walk]:
    """One app per store (PostgreSQL refuses what SQLite keeps: a NUL, for one)."""
    url = None
    if request.param == "postgresql":
        url = str(request.getfixturevalue("postgres").fresh_database())
    made = Walk(tmp_path_factory.mktemp("hostile") / "companion.db", url)
    for community in COMMUNITIES:
        for line in SETUP:
            reply = made.text(line, who(True, community), where(community))
            assert reply is not None and reply.kind is not Kind.APOLOGY, (line, reply)
    made.errors.records.clear()
    yield made
    made.close()


def _words(example: str) -> list[str]:
    try:
        return shlex.split(example)
    except ValueError:
        return example.split()


def _specs(walk: Walk) -> list[CommandSpec]:
    # "forget me confirm" last: it would wipe the member's state the others aim at.
    return sorted(walk.app.registry, key=lambda spec: spec.name == "forget me")


@pytest.mark.parametrize("moderator", [False, True], ids=["member", "moderator"])
def test_every_command_with_hostile_arguments(walk: Walk, moderator: bool) -> None:
    walk.faults.clear()
    community = COMMUNITIES[0]
    actor, place = who(moderator, community), where(community)
    for spec in _specs(walk):
        for value in HOSTILE:
            line = f"{spec.name} {value}"
            walk.check(line, walk.text(line, actor, place))
            for param in spec.params:
                others: dict[str, object] = {
                    p.name: (p.choices[0] if p.choices else "1") for p in spec.params
                }
                others[param.name] = value
                walk.check(f"{spec.name} {others}", walk.typed(spec, others, actor, place))
                if param.type is ParamType.INT:
                    for number in (-(2**63) - 1, -1, 0, 2**63, 10**40):
                        others[param.name] = number
                        reply = walk.typed(spec, others, actor, place)
                        walk.check(f"{spec.name} {others}", reply)
        for example in spec.examples:
            words = _words(example)
            skip = len(spec.name.split())
            for i in range(skip, len(words)):
                for value in HOSTILE_WORDS:
                    line = " ".join([*words[:i], value, *words[i + 1 :]])
                    walk.check(line, walk.text(line, actor, place))
    assert not walk.faults, "\n".join(walk.faults[:60]) + f"\n({len(walk.faults)} faults)"


def test_another_communitys_ids_change_nothing_and_show_nothing(walk: Walk) -> None:
    """Ids 1 to 6 exist in the other community (its prompts, events, schedules,
    suggestions, polls): naming them from a fresh community finds nothing of theirs."""
    walk.faults.clear()
    fresh = "c:stranger"
    actor, place = who(True, fresh), where(fresh)
    before = {c: walk.text("event list", who(True, c), where(c)) for c in COMMUNITIES}
    for spec in _specs(walk):
        if spec.name == "forget me":
            continue
        for param in spec.params:
            if param.type is not ParamType.INT:
                continue
            for number in range(1, 7):
                args: dict[str, object] = {
                    p.name: (p.choices[0] if p.choices else "x") for p in spec.params
                }
                args[param.name] = number
                reply = walk.typed(spec, args, actor, place)
                walk.check(f"{spec.name} {args}", reply)
                assert reply is not None
                assert "Reading circle" not in reply.text, (spec.name, reply.text)
                assert "Lunch" not in reply.text, (spec.name, reply.text)
    after = {c: walk.text("event list", who(True, c), where(c)) for c in COMMUNITIES}
    assert before == after
    assert not walk.faults, "\n".join(walk.faults[:60]) + f"\n({len(walk.faults)} faults)"


# --- the faults the walk found, one focused test each ------------------------------------------


async def test_a_typed_option_with_a_lone_surrogate_or_nul_is_kept_as_text(app: App) -> None:
    """Discord options and dashboard forms arrive as typed values, not a parsed line: a
    lone surrogate (JSON can carry one) or a NUL in them is cleaned like a typed line's,
    so the store keeps the answer (PostgreSQL refuses NUL) and every renderer can send it."""
    now = app.clock.now()
    inv = Invocation("reflect answer", {"text": "I \ud800noticed\x00 it"}, MEMBER, PLACE, now)
    kept = await app.dispatcher.dispatch(inv)
    assert kept is not None and kept.kind is not Kind.APOLOGY, kept
    journal = await say(app, "journal")
    assert "noticed" in journal.text and "\ud800" not in journal.text
    check_markdown(journal.text, set(), journal.kind)
    for command, name in (("define", "term"), ("help", "command"), ("timezone", "zone")):
        inv = Invocation(command, {name: "\udfff x\x00"}, MODERATOR, PLACE, now)
        reply = await app.dispatcher.dispatch(inv)
        assert reply is not None and reply.kind is Kind.ERROR, reply
        check_markdown(reply.text, set(), reply.kind)  # the Matrix notice can be encoded


async def test_numbers_written_with_other_digits_are_refused_clearly(app: App) -> None:
    """``"²".isdigit()`` is true but ``int("²")`` fails: these answered with the apology."""
    await say(app, "prompt add What did you notice? #practice", MODERATOR)
    refused = await say(app, "prompt remove ²", MODERATOR)
    assert refused.kind is Kind.ERROR and "numbered" in refused.text
    assert "What did you notice?" in (await say(app, "prompt list")).text  # still there
    reminders = await say(app, "event reminders ²h", MODERATOR)
    assert reminders.kind is Kind.ERROR and "lead time" in reminders.text
    pace = await say(app, "bookclub start the-wake-up 2026-03-10 every ² days", MODERATOR)
    assert pace.kind is Kind.ERROR and "every N days" in pace.text
    chapters = await say(app, "bookclub start the-wake-up 2026-03-10 chapters ²", MODERATOR)
    assert chapters.kind is Kind.ERROR and "chapters N" in chapters.text
    assert "no book club" in (await say(app, "bookclub")).text


async def test_dates_at_either_end_of_the_calendar_are_refused_clearly(app: App) -> None:
    """0001-01-01 in Berlin has no instant in UTC, 9999-12-31 in Los Angeles neither: a
    one-off event, a discussion or a book club there answered with the apology."""
    await say(app, "timezone Europe/Berlin", MODERATOR)
    early = await say(app, "event plan once 0001-01-01 00:00 Old | here", MODERATOR)
    assert early.kind is Kind.ERROR and "passed" in early.text
    early = await say(app, "schedule discussion once 0001-01-01 00:00 next", MODERATOR)
    assert early.kind is Kind.ERROR and "passed" in early.text
    await say(app, "timezone America/Los_Angeles", MODERATOR)
    late = await say(app, "event plan once 9999-12-31 23:59 Late | here", MODERATOR)
    assert late.kind is Kind.ERROR and "too far ahead" in late.text
    late = await say(app, "schedule discussion once 9999-12-31 23:59 next", MODERATOR)
    assert late.kind is Kind.ERROR and "too far ahead" in late.text
    club = await say(app, "bookclub start the-wake-up 9999-12-31", MODERATOR)
    assert club.kind is Kind.ERROR and "too far ahead" in club.text
    assert "No events" in (await say(app, "event list")).text
    fine = await say(app, "event plan once 2036-12-31 23:59 Later | here", MODERATOR)
    assert fine.kind is Kind.CONFIRMATION, fine.text


async def test_a_poll_duration_out_of_range_is_refused_not_read_as_an_answer(app: App) -> None:
    """ "for 99999999d" and "for -3h" once fell outside the duration pattern and became part
    of the last answer: the poll silently ran 24 hours with an answer "b for -3h"."""
    await say(app, "poll access members", MODERATOR)
    for duration in ("99999999d", "-3h", "9" * 40 + "h"):
        refused = await say(app, f"poll Which day? | Tue | Thu for {duration}")
        assert refused.kind is Kind.ERROR and "1 to 768 hours" in refused.text, refused.text
    started = await say(app, "poll Which day? | Tue | Thu for 2d")
    assert "open for 48 hours" in started.text, started.text


async def test_a_native_answer_naming_no_storable_id_is_ignored(app: App) -> None:
    """A Matrix member's client writes the event id a poll response or a reaction relates
    to: a lone surrogate or a NUL there ended in a logged traceback (the store's encoder)."""
    await say(app, "poll access members", MODERATOR)
    await say(app, "poll Which day? | Tue | Thu")
    for ref, member in (("\ud800", "@m:x"), ("$e\x00", "@m:x"), ("$e", "@m\ud800:x")):
        answer = NativeAnswer(PLACE.platform, PLACE.community_id, ref, member, 1)
        assert await app.gateway.native_answer(answer) is False


async def test_a_number_of_thousands_of_digits_is_too_large_not_not_a_number(app: App) -> None:
    """int() refuses over 4300 digits with the ValueError a word gets: the member was told
    their number "must be a whole number"."""
    reply = await say(app, "myth " + "9" * 5000)
    assert reply.kind is Kind.USAGE_ERROR and "Number is too large" in reply.text, reply.text
    assert "must be a whole number" in (await say(app, "myth nine")).text


async def test_the_same_schedule_twice_in_one_room_is_refused(app: App) -> None:
    """A command sent twice (a double click, a client's retry) planned the reflection twice:
    the members got each question two times at the same minute."""
    first = await say(app, "schedule reflection 09:00", MODERATOR)
    assert first.kind is Kind.CONFIRMATION, first.text
    again = await say(app, "schedule reflection 9:00", MODERATOR)
    assert again.kind is Kind.ERROR and "planned here already: #" in again.text, again.text
    await say(app, "schedule discussion weekly thu 19:30 next", MODERATOR)
    twin = await say(app, "schedule discussion weekly thu,thu 19:30 next", MODERATOR)
    assert twin.kind is Kind.ERROR and "planned here already" in twin.text, twin.text
    other = await say(app, "schedule reflection 09:00 Europe/Berlin", MODERATOR)
    assert other.kind is Kind.CONFIRMATION, other.text  # another time: its own schedule
    listed = (await say(app, "schedule list")).text
    assert listed.count("Reflection question") == 2 and listed.count("Discussion") == 1
    # Planned again while the first was paused: resuming the first would post it twice.
    await say(app, "schedule pause 1", MODERATOR)
    assert (await say(app, "schedule reflection 09:00", MODERATOR)).kind is Kind.CONFIRMATION
    refused = await say(app, "schedule resume 1", MODERATOR)
    assert refused.kind is Kind.ERROR and "planned here already" in refused.text, refused.text


async def test_the_same_suggestion_twice_waits_once(app: App) -> None:
    """A suggestion sent twice (a retry) queued twice: moderators reviewed it twice and
    could approve two copies of one prompt."""
    first = await say(app, "suggest prompt What did you notice this week at work?")
    assert first.kind is Kind.CONFIRMATION, first.text
    again = await say(app, "suggest prompt What did you notice this week at work?")
    assert again.kind is Kind.ERROR and "already waiting for review (#" in again.text
    term = "suggest term ally Someone who acts in solidarity, again and again"
    assert (await say(app, term)).kind is Kind.CONFIRMATION
    assert "already waiting" in (await say(app, term)).text
    queue = (await say(app, "queue", MODERATOR)).text
    assert queue.count("What did you notice this week at work?") == 1, queue


async def test_an_approved_prompt_suggested_again_is_not_queued(app: App) -> None:
    """Once approved, a prompt is among the community's prompts: suggested again (the
    member forgot, another member had the same idea) it is named, not queued for a copy."""
    other = Actor("u:other", "Other member")
    await say(app, "suggest prompt What did you notice this week at work? #practice")
    assert "approved" in (await say(app, "approve 1", MODERATOR)).text
    again = await say(app, "suggest prompt what did you  notice this week at work?", other)
    assert again.kind is Kind.ERROR, again.text
    assert "already among this community's prompts (`1`" in again.text, again.text
    assert await app.store.contributions.count_pending(PLACE.community_id) == 0
    # Another community has its own prompts: there the same one is a new suggestion.
    elsewhere = PLACE._replace(community_id="c:other")
    line = "suggest prompt What did you notice this week at work?"
    assert (await say(app, line, other, elsewhere)).kind is Kind.CONFIRMATION
