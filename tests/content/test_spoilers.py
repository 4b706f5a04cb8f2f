"""No spoilers in general rotation: a community whose book club is at chapter 3 never sees
a reflection, prompt or practice tied to a later chapter, asked or scheduled; a community
without a club sees everything. Real SQLite store, shipped content, the injected clock.

And no spoiler through a side door: no text that is shown whatever a club has read (an
untagged reflection, prompt or practice, a definition, a resource summary, a tag's
description, a challenge day) carries a chapter-bound idea, in its words or in a paraphrase."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from companion.app import App
from companion.content import Content, work_shown_at
from companion.events import Actor, Place
from companion.markup import to_plain
from tests.conftest import say
from tests.core.schedule_helpers import run_until
from tests.fakes import RecordingPort

CLUB = Place("test", "c:reading", "r:reading")
FREE = Place("test", "c:free", "r:free")
MOD = Actor("u:mod", "Moderator", is_moderator=True)
MEMBER = Actor("u:member", "Member")
AT = 3  # the chapter the club is at


def later(shipped: Content) -> tuple[set[str], set[str], set[str]]:
    """Ids of the shipped reflections, general prompts and practices tied to a chapter > AT,
    or citing a work that waits until after AT (Revisiting Allyship: chapter 11)."""

    def waits(chapter: int | None, *sources: str | None) -> bool:
        works = [shipped.resources[s] for s in sources if s]
        return (chapter or 0) > AT or not all(work_shown_at(w, AT) for w in works)

    reflections = {r.id for r in shipped.reflections.values() if waits(r.chapter, r.source)}
    prompts = {
        p.id
        for p in shipped.prompts.values()
        if p.plan is None and waits(p.chapter, p.source, *p.more_sources)
    }
    practices = {p.id for p in shipped.practices if waits(p.chapter, p.source)}
    return reflections, prompts, practices


@dataclass(frozen=True, slots=True)
class Idea:
    """An idea a book holds back until a chapter, and the ways content tends to word it."""

    book: str
    chapter: int
    name: str
    patterns: tuple[str, ...]  # searched in lowercased text, hyphens read as spaces

    def found_in(self, text: str) -> bool:
        plain = text.lower().replace("-", " ").replace("\u2019", "'")
        return any(re.search(pattern, plain) for pattern in self.patterns)


# What the book's chapters hold that we know of (CONTENT.md: only chapter 11's question is
# verified), with the key phrases and the paraphrases seen in drafts of our own content.
IDEAS = (
    Idea(
        "the-wake-up",
        11,
        "what am I willing to give up? (and allyship as sacrifice, Hall's reading of it)",
        (
            r"\bwilling to (give|let go|part with|sacrifice|lose|trade|surrender)\b",
            r"\b(give|gives|giving|gave|given) (\w+ )?up\b(?! on\b)",  # give up on: abandon
            r"\b(ready|prepared|able) to (give|let go|part with|do without)\b",
            r"\bsacrific",
            r"\b(subtract|subtracting|subtraction)\b",
            r"\binstead of (asking )?what (i|we|you) can do\b",
            r"\bsilence,? (or |and )?(your )?comfort\b",
        ),
    ),
)


def untagged_texts(content: Content) -> list[tuple[str, str]]:
    """(where, text) for every text shown whatever chapter a club has reached."""
    texts = [(f"reflection {r.id}", r.text) for r in content.reflections.values() if not r.chapter]
    for p in content.prompts.values():
        if p.chapter is None and p.plan is None:
            texts += [(f"prompt {p.id} title", p.title), (f"prompt {p.id}", p.text)]
    for practice in content.practices:
        if practice.chapter is None:
            texts += [(f"practice {practice.id}", f"{practice.text} {practice.reason}")]
    for term in content.terms.values():
        quoted = term.quote.text if term.quote else ""
        texts.append((f"term {term.id}", " ".join((term.definition, *term.parts, quoted))))
    texts += [(f"myth {m.id}", f"{m.myth} {m.correction}") for m in content.myths]
    for resource in content.resources.values():
        if resource.summary and resource.quotes_whole_book is None:  # those are held back
            texts.append((f"resource {resource.id} summary", resource.summary))
    texts += [(f"tag {tag}", description) for tag, description in content.tags.items()]
    for path in content.paths.values():  # a challenge day is posted to every member
        for day in path.days:
            words = " ".join((day.title, day.short, day.deeper, day.question))
            texts.append((f"path {path.id} day {day.number}", words))
    return texts


def side_doors(content: Content) -> list[str]:
    return [
        f"{where}: {idea.name} (the-wake-up chapter {idea.chapter})"
        for where, text in untagged_texts(content)
        for idea in IDEAS
        if idea.found_in(text)
    ]


def test_no_untagged_text_carries_a_chapter_bound_idea(shipped: Content):
    assert side_doors(shipped) == []


def test_the_ideas_catch_paraphrases_and_pass_near_misses(shipped: Content):
    [idea] = IDEAS
    paraphrases = [
        "What is something you are not yet ready to give up?",
        "What could you give up in money or time this month?",
        "What would you be prepared to part with for equity?",
        "Allyship sometimes means sacrifice.",
        "What if we thought about what we subtract instead of what we add?",
        "Sharon asks how readers would answer the give-up question today.",
        "Your silence, your comfort, some of your money: which is hardest?",
    ]
    near_misses = [
        "Rather than giving up on the term allyship, revisit what it means.",
        "When did you last give a cause an hour, a dollar or an awkward conversation?",
        "Where is your comfort being paid for by someone else's discomfort?",
        "What did you notice when you stayed silent in a meeting?",
    ]
    assert [p for p in paraphrases if not idea.found_in(p)] == []
    assert [n for n in near_misses if idea.found_in(n)] == []
    # Every entry tied to chapter 11 that speaks of the question is recognised as such.
    tagged = [r.text for r in shipped.reflections.values() if r.chapter == 11]
    assert tagged and all(idea.found_in(text) for text in tagged)


def test_the_shipped_content_ties_the_chapter_11_question_to_chapter_11(shipped: Content):
    reflections, prompts, practices = later(shipped)
    assert "willing-to-give-up-today" in reflections
    assert "give-up-question-group" in prompts
    assert "name-what-you-will-give-up" in practices
    quoted = [
        text
        for text in [r.text for r in shipped.reflections.values() if r.chapter is None]
        + [p.text for p in shipped.prompts.values() if p.chapter is None]
        + [p.text for p in shipped.practices if p.chapter is None]
        if "willing to give up" in text
    ]
    assert quoted == []  # every entry with the chapter 11 question is tagged


@pytest.fixture
def port(clock):
    return RecordingPort(clock=clock)


async def test_a_club_at_chapter_3_sees_nothing_from_a_later_chapter(
    make_app, shipped: Content, clock, port
):
    app = await make_app(content=shipped, commands_per_window=0)  # hundreds of asks at once
    app.ports.attach("test", port)
    # Reading starts today (Mon 2 March); a chapter every 60 days, so chapter 3's
    # discussion opens on 29 August and chapter 4's on 28 October.
    started = await say(app, "bookclub start the-wake-up 2026-03-02 every 60 days 08:00", MOD, CLUB)
    assert "Book club started" in started.text, started.text
    for place in (CLUB, FREE):
        assert "Planned" in (await say(app, "schedule reflection 09:00", MOD, place)).text
        planned = await say(app, "schedule discussion daily 10:00 next", MOD, place)
        assert "Planned" in planned.text, planned.text

    # 183 days of daily posts: more than one full round of every question and prompt.
    await run_until(app, clock, datetime(2026, 9, 1, 12, tzinfo=UTC))
    status = to_plain((await say(app, "bookclub", MEMBER, CLUB)).text)
    assert "This week: chapter 3" in status, status

    tagged_reflections, tagged_prompts, tagged_practices = later(shipped)
    counts = await app.store.reflections.use_counts_many([CLUB.community_id, FREE.community_id])
    asked_club, asked_free = counts[CLUB.community_id], counts[FREE.community_id]
    assert sum(asked_club.values()) >= len(shipped.reflections)  # a full round and more
    assert tagged_reflections.isdisjoint(asked_club)
    assert tagged_reflections <= set(asked_free)  # without a club they are asked
    untagged = {r for r in shipped.reflections if r not in tagged_reflections}
    assert untagged <= set(asked_club)  # and the club still gets every other question

    later_titles = {shipped.prompts[p].title for p in tagged_prompts}
    general_titles = {p.title for p in shipped.prompts.values() if p.id not in tagged_prompts}
    assert later_titles.isdisjoint(general_titles)  # so a title tells them apart

    def threads(place: Place) -> set[str]:
        return {
            s.title or ""
            for s in port.sent
            if s.kind == "thread" and s.place.community_id == place.community_id
        }

    assert later_titles.isdisjoint(threads(CLUB))
    assert later_titles <= threads(FREE)

    # Asked for, at chapter 3: today's question, prompts and practices, many times.
    def shown(replies: list[str], texts: set[str]) -> set[str]:
        return {t for t in texts if any(t in reply for reply in replies)}

    later_texts = (
        {shipped.reflections[r].text for r in tagged_reflections}
        | {shipped.prompts[p].text for p in tagged_prompts}
        | {p.text for p in shipped.practices if p.id in tagged_practices}
    )
    randomly_shown = {shipped.prompts[p].text for p in tagged_prompts} | {
        p.text for p in shipped.practices if p.id in tagged_practices
    }
    for place in (CLUB, FREE):
        replies = [to_plain((await say(app, "reflect", MEMBER, place)).text)]
        replies += [to_plain((await say(app, "prompt", MEMBER, place)).text) for _ in range(300)]
        replies += [to_plain((await say(app, "practice", MEMBER, place)).text) for _ in range(150)]
        replies.append(to_plain((await say(app, "prompt list sacrifice", MEMBER, place)).text))
        if place == CLUB:
            assert shown(replies, later_texts) == set()
            assert not any(title in reply for reply in replies for title in later_titles)
        else:  # the same draws without a club do show them
            assert shown(replies, randomly_shown) == randomly_shown


async def test_how_far_a_club_has_read_follows_skips_pauses_and_its_end(app, clock):
    def reached_at(when: datetime):
        clock.set(when)
        return app.store.bookclubs.chapters_reached([CLUB.community_id], when)

    # Three chapters, one a day at 08:00 UTC from Tue 3 March.
    started = await say(
        app, "bookclub start the-wake-up 2026-03-02 every 1 days 08:00 chapters 3", MOD, CLUB
    )
    assert "Book club started" in started.text, started.text
    assert await reached_at(datetime(2026, 3, 3, 7, tzinfo=UTC)) == {CLUB.community_id: 0}
    assert await reached_at(datetime(2026, 3, 3, 9, tzinfo=UTC)) == {CLUB.community_id: 1}
    assert "Skipped the chapter 2" in (await say(app, "bookclub skip", MOD, CLUB)).text
    # A skipped discussion still means the club read on.
    assert await reached_at(datetime(2026, 3, 4, 9, tzinfo=UTC)) == {CLUB.community_id: 2}
    assert "Paused" in (await say(app, "bookclub pause", MOD, CLUB)).text
    # Chapter 3's old date passes while paused: the club has not read further.
    assert await reached_at(datetime(2026, 3, 6, 9, tzinfo=UTC)) == {CLUB.community_id: 2}
    assert "moved 2 days later" in (await say(app, "bookclub resume", MOD, CLUB)).text
    assert await reached_at(datetime(2026, 3, 6, 12, tzinfo=UTC)) == {CLUB.community_id: 2}

    # A second club in the community, further behind: the lower chapter counts.
    other = Place("test", CLUB.community_id, "r:second")
    second = await say(app, "bookclub start the-wake-up 2026-03-06 every 7 days 08:00", MOD, other)
    assert "Book club started" in second.text, second.text
    assert await reached_at(datetime(2026, 3, 6, 13, tzinfo=UTC)) == {CLUB.community_id: 0}
    await say(app, "bookclub end", MOD, other)
    # Once every discussion has opened the book is read: nothing left to spoil.
    assert await reached_at(datetime(2026, 3, 7, 9, tzinfo=UTC)) == {}
    assert await app.store.bookclubs.chapters_reached([FREE.community_id], clock.now()) == {}


async def test_a_review_quoting_the_whole_book_waits_until_the_club_has_read_it(
    make_app, shipped: Content, clock
):
    review = shipped.resources["waking-up-to-better-allyship"]
    assert review.quotes_whole_book == "the-wake-up"
    app = await make_app(content=shipped, commands_per_window=0)

    async def listed(place: Place) -> list[str]:
        """Every line `resources` shows here, every page, for the queries a reader might try."""
        found = []
        for query in ("", "book", "waking up", "hurley hall", "the wake up"):
            page, pages = 1, 1
            while page <= pages:
                line = f"resources {query} page {page}"
                text = to_plain((await say(app, line, MEMBER, place)).text)
                counted = re.search(r"\(page \d+ of (\d+),", text)
                pages = int(counted.group(1)) if counted else 0  # nothing matches here
                found += [line for line in text.splitlines() if "Waking Up to Better" in line]
                page += 1
        return found

    direct = Place("test", "dm:member", "r:dm")
    before = await listed(FREE)
    assert before and all("it quotes the whole of The Wake Up" in line for line in before)
    assert await listed(direct) == before  # without a club, with its note

    started = await say(app, "bookclub start the-wake-up 2026-03-02 every 7 days 08:00", MOD, CLUB)
    assert "Book club started" in started.text, started.text
    assert await listed(CLUB) == []  # chapter 0: the club has not started reading
    clock.set(datetime(2026, 4, 1, 12, tzinfo=UTC))
    assert "chapter" in to_plain((await say(app, "bookclub", MEMBER, CLUB)).text)
    assert await listed(CLUB) == []  # part way through
    assert await listed(FREE) == before  # another community has no club
    await say(app, "bookclub end", MOD, CLUB)
    assert await listed(CLUB) == before  # the club is over: nothing left to spoil


async def test_a_work_that_quotes_chapter_11_waits_until_the_club_reaches_it(
    make_app, shipped: Content, clock
):
    """Revisiting Allyship ends with the chapter 11 question: `resources` leaves it out where
    a club has not read that far, and shows it from chapter 11 on."""
    newsletter = shipped.resources["revisiting-allyship-2024"]
    assert (newsletter.book, newsletter.chapter) == ("the-wake-up", 11)
    app = await make_app(content=shipped, commands_per_window=0)

    async def listed(place: Place) -> bool:
        text = to_plain((await say(app, "resources hurley hall", MEMBER, place)).text)
        return "Revisiting Allyship" in text

    assert await listed(FREE) and await listed(CLUB)
    line = "bookclub start the-wake-up 2026-03-02 every 7 days 08:00 chapters 14"
    assert "Book club started" in (await say(app, line, MOD, CLUB)).text
    clock.set(datetime(2026, 4, 1, 12, tzinfo=UTC))  # chapter 5
    assert not await listed(CLUB) and await listed(FREE)
    clock.set(datetime(2026, 5, 11, 12, tzinfo=UTC))
    assert "This week: chapter 10" in to_plain((await say(app, "bookclub", MEMBER, CLUB)).text)
    assert not await listed(CLUB)
    clock.set(datetime(2026, 5, 18, 12, tzinfo=UTC))  # chapter 11 opened this morning
    assert "This week: chapter 11" in to_plain((await say(app, "bookclub", MEMBER, CLUB)).text)
    assert await listed(CLUB)


def test_a_source_article_that_holds_a_chapters_idea_is_tied_to_that_chapter(shipped: Content):
    """A work whose own text carries a chapter-bound idea is a spoiler wherever it is linked:
    tied to that chapter, so `resources` waits and no challenge day may cite it."""
    from tests.content.seeds import SEEDS, seeds_dir

    found = seeds_dir()
    if found is None:
        pytest.skip("the seed articles (../shared/seeds/) are not beside this checkout")
    tied = {}
    for seed in SEEDS:
        text = (found / seed.file).read_text("utf-8")
        for idea in IDEAS:
            if idea.found_in(text):
                resource = shipped.resources[seed.resource]
                tied[seed.resource] = (resource.book, resource.chapter, idea.book, idea.chapter)
    assert tied == {
        "revisiting-allyship-2024": ("the-wake-up", 11, "the-wake-up", 11),
    }


NEWSLETTER = "Revisiting Allyship"
NEWSLETTER_URL = "https://www.antiracismnewsletter.com/p/revisiting-allyship"


async def test_define_leaves_out_a_source_tied_to_a_chapter_the_club_has_not_reached(
    make_app, shipped: Content, clock
):
    """`define allyship` (and every term citing the newsletter) lists it with its link where
    no club is mid-book, leaves it out where the club is at chapter 5 or 10, and lists it
    again from the morning chapter 11 opens: the same rule as `resources`."""
    citing = [t.term for t in shipped.terms.values() if "revisiting-allyship-2024" in t.sources]
    assert "allyship" in citing and len(citing) >= 5
    app = await make_app(content=shipped, commands_per_window=0)
    direct = Place("test", "dm:member", "r:dm")

    async def cites(place: Place, term: str = "allyship") -> bool:
        text = (await say(app, f"define {term}", MEMBER, place)).text
        # the term and its other sources are always there
        assert term.lower() in text.lower() and ("Sources:" in text or "reading:" in text)
        return NEWSLETTER in to_plain(text) or NEWSLETTER_URL in text

    assert await cites(CLUB) and await cites(FREE) and await cites(direct)
    line = "bookclub start the-wake-up 2026-03-02 every 7 days 08:00 chapters 14"
    assert "Book club started" in (await say(app, line, MOD, CLUB)).text
    clock.set(datetime(2026, 4, 7, 12, tzinfo=UTC))  # chapter 5
    assert "This week: chapter 5" in to_plain((await say(app, "bookclub", MEMBER, CLUB)).text)
    for term in citing:
        assert not await cites(CLUB, term), term
        assert await cites(FREE, term), term  # a community without a club
    assert await cites(direct)  # a direct message belongs to no community, as in `resources`
    # Chapter 10, asked seconds before chapter 11 opens, then seconds after: the answer
    # remembered from before the opening is not used after it.
    clock.set(datetime(2026, 5, 18, 7, 59, 50, tzinfo=UTC))
    assert "This week: chapter 10" in to_plain((await say(app, "bookclub", MEMBER, CLUB)).text)
    assert not await cites(CLUB)
    clock.set(datetime(2026, 5, 18, 8, 0, 10, tzinfo=UTC))
    assert await cites(CLUB)
    assert "This week: chapter 11" in to_plain((await say(app, "bookclub", MEMBER, CLUB)).text)


async def test_a_moderators_change_to_a_club_shows_in_define_at_once(
    make_app, shipped: Content, clock
):
    """No waiting for a remembered answer to expire: starting a club holds the newsletter
    back at once, and ending it (or every club) shows it again at once, at the same moment."""
    app = await make_app(content=shipped, commands_per_window=0)
    clock.set(datetime(2026, 3, 2, 12, tzinfo=UTC))

    async def cites(place: Place) -> bool:
        return NEWSLETTER in to_plain((await say(app, "define allyship", MEMBER, place)).text)

    assert await cites(CLUB)  # remembered: no club here
    line = "bookclub start the-wake-up 2026-03-02 every 7 days 08:00 chapters 14"
    assert "Book club started" in (await say(app, line, MOD, CLUB)).text
    assert not await cites(CLUB)  # chapter 0, the same second
    second = Place("test", CLUB.community_id, "r:second")
    assert "Book club started" in (await say(app, line, MOD, second)).text
    clock.set(datetime(2026, 4, 7, 12, tzinfo=UTC))  # both at chapter 5
    assert not await cites(CLUB)
    assert "Ended the book club" in (await say(app, "bookclub end", MOD, CLUB)).text
    assert not await cites(CLUB)  # the other club here is still at chapter 5
    assert "Ended the book club" in (await say(app, "bookclub end", MOD, second)).text
    assert await cites(CLUB)


async def test_practices_and_prompts_drawn_from_the_newsletter_wait_with_it(
    make_app, shipped: Content, clock
):
    """A practice or prompt adapted from the newsletter names it ("adapted from ...
    Revisiting Allyship"), so where the club has not reached chapter 11 it is not drawn at
    all (never shown without its source); a community without a club draws them."""
    app = await make_app(content=shipped, commands_per_window=0)
    line = "bookclub start the-wake-up 2026-03-02 every 7 days 08:00 chapters 14"
    assert "Book club started" in (await say(app, line, MOD, CLUB)).text
    clock.set(datetime(2026, 4, 7, 12, tzinfo=UTC))  # chapter 5

    async def draws(place: Place, command: str, times: int) -> list[str]:
        return [to_plain((await say(app, command, MEMBER, place)).text) for _ in range(times)]

    for command, times in (("practice", 150), ("practice do", 100), ("prompt", 300)):
        assert not any(NEWSLETTER in text for text in await draws(CLUB, command, times))
        assert any(NEWSLETTER in text for text in await draws(FREE, command, times)), command
    listed = to_plain((await say(app, "prompt list leadership", MEMBER, CLUB)).text)
    assert "Letting people who face isms lead" not in listed
    listed = to_plain((await say(app, "prompt list leadership", MEMBER, FREE)).text)
    assert "Letting people who face isms lead" in listed


async def test_a_club_started_through_another_process_shows_in_define_within_a_minute(
    make_app, shipped: Content, clock
):
    """Two bot processes on one database (a Discord shard and a Matrix worker, say): the one
    that did not see the change forgets what it remembered within a minute."""
    shard = await make_app(content=shipped, commands_per_window=0)
    worker = await make_app(content=shipped, commands_per_window=0)
    clock.set(datetime(2026, 3, 2, 12, tzinfo=UTC))

    async def cites(app: App) -> bool:
        return NEWSLETTER in to_plain((await say(app, "define allyship", MEMBER, CLUB)).text)

    assert await cites(worker)  # remembered there: no club here
    line = "bookclub start the-wake-up 2026-03-02 every 7 days 08:00 chapters 14"
    assert "Book club started" in (await say(shard, line, MOD, CLUB)).text
    assert not await cites(shard)
    clock.set(datetime(2026, 3, 2, 12, 1, 1, tzinfo=UTC))
    assert not await cites(worker)
