"""Every shipped file validates; broken files are refused with the line to fix."""

import itertools
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from rapidfuzz import fuzz

from companion import content as content_module
from companion.schema import ContentError
from tests.content.seeds import SEEDS, flat, seeds_dir

SHIPPED = content_module.default_dir()


def test_the_shipped_content_validates_with_the_promised_counts(shipped):
    assert len(shipped.terms) >= 30
    assert len(shipped.reflections) >= 120
    assert len(shipped.prompts) >= 60
    assert len(shipped.resources) >= 30
    assert len(shipped.myths) == 4
    assert {p.kind for p in shipped.practices} == {"do", "dont"}
    assert "the-wake-up" in shipped.plans


def test_allyship_quotes_awakens_definition_exactly_with_attribution(shipped):
    term = shipped.find_term("allyship")
    assert term.quote.text.startswith("Allyship is an active and consistent practice of using")
    assert term.quote.source == "awaken-allyship-2019"  # where the definition first appeared
    assert shipped.resources[term.quote.source].creator == "Michelle MiJung Kim"
    assert "the-wake-up" in term.sources  # where the same definition appears later
    assert len(term.parts) == 4


def _quotes(content) -> list[tuple[str, str, str]]:
    """(where, quoted text, the source it is attributed to) for every quotation."""
    found = [
        (f"term {t.id}", t.quote.text, t.quote.source) for t in content.terms.values() if t.quote
    ]
    found += [(f"myth {m.id}", m.myth, m.source) for m in content.myths]
    entries = [*content.reflections.values(), *content.prompts.values(), *content.practices]
    for entry in entries:
        for text in (entry.text, getattr(entry, "reason", "")):
            for match in _QUOTED.finditer(text):
                quoted = match.group(1) or match.group(2)
                found.append((f"{type(entry).__name__.lower()} {entry.id}", quoted, entry.source))
    for path in content.paths.values():
        for day in path.days:
            for text in (day.short, day.deeper, day.question):
                for match in _QUOTED.finditer(text):
                    quoted = match.group(1) or match.group(2)
                    source = day.resources[0] if day.resources else None
                    found.append((f"path {path.id} day {day.number}", quoted, source))
    return found


_QUOTED = re.compile('\u201c([^\u201d]+)\u201d|"([^"]+)"')


Segments = list[tuple[str, str]]  # (text, the work it belongs to)
CHECKABLE = {seed.resource for seed in SEEDS} | {w for s in SEEDS for w, _, _ in s.cites}
PASSAGES = Path(__file__).with_name("seed_passages.toml")


def listed_passages() -> list[dict[str, str]]:
    return tomllib.loads(PASSAGES.read_text(encoding="utf-8"))["passage"]


def seed_segments(seeds: Path) -> Segments:
    """Each seed cut into the passages it quotes from other works and its own text between."""
    segments: Segments = []
    for seed in SEEDS:
        text = (seeds / seed.file).read_text(encoding="utf-8")
        cuts = sorted(
            (text.index(before) + len(before), text.index(after), work)
            for work, before, after in seed.cites
        )
        at = 0
        for start, end, work in cuts:
            segments += [(text[at:start], seed.resource), (text[start:end], work)]
            at = end
        segments.append((text[at:], seed.resource))
    return segments


def misattributed(quotes: list[tuple[str, str, str]], segments: Segments) -> list[str]:
    """Quotes not word for word in the source articles, or attributed to the wrong work.

    A passage an article quotes from another work must name that work; the article's own
    words must name the article. Quotes whose source is neither an article nor a work one
    quotes cannot be checked here and are skipped.
    """
    flattened = [(flat(text), work) for text, work in segments]
    problems = []
    for where, quote, source in quotes:
        wanted = flat(quote).rstrip(".?!,")
        allowed = {work for text, work in flattened if wanted in text}
        if allowed and source not in allowed:
            problems.append(f"{where}: quoted from {sorted(allowed)}, attributed to {source}")
        elif not allowed and source in CHECKABLE:
            problems.append(f"{where}: not word for word in the source articles: {quote!r}")
    return problems


@pytest.fixture(scope="module")
def seeds() -> Path:
    found = seeds_dir()
    if found is None:
        pytest.skip("the seed articles (../shared/seeds/) are not beside this checkout")
    return found


def test_every_quotation_from_a_source_article_names_where_it_comes_from(shipped):
    quotes = _quotes(shipped)
    assert len([q for q in quotes if q[2] in {"awaken-allyship-2019", "the-wake-up"}]) >= 4
    passages = [(p["text"], p["work"]) for p in listed_passages()]
    assert misattributed(quotes, passages) == []


def test_every_quotation_is_word_for_word_in_the_seeds_themselves(shipped, seeds):
    assert misattributed(_quotes(shipped), seed_segments(seeds)) == []


def test_the_listed_passages_are_in_the_seeds_and_belong_to_their_work(seeds):
    segments = seed_segments(seeds)
    for passage in listed_passages():
        assert (seeds / passage["seed"]).is_file(), passage
        quote = [(passage["text"][:40], passage["text"], passage["work"])]
        assert misattributed(quote, segments) == []


def test_the_attribution_check_catches_a_wrong_source_and_a_changed_word():
    quotes = [
        # Awaken quotes this from Indigenous Action Media: citing Awaken is wrong.
        (
            "a",
            "Accomplices are realized through mutual consent and build trust.",
            "awaken-allyship-2019",
        ),
        # The newsletter quotes this from The Wake Up.
        ("b", "What am I willing to give up?", "revisiting-allyship-2024"),
        # Awaken's own words, one changed.
        ("c", "Allyship is an active and constant practice", "awaken-allyship-2019"),
        # Right: the newsletter's own words, and Awaken's definition.
        ("d", "when we cry, you cry", "revisiting-allyship-2024"),
        (
            "e",
            "Allyship is an active and consistent practice of using power",
            "awaken-allyship-2019",
        ),
    ]
    problems = misattributed(quotes, [(p["text"], p["work"]) for p in listed_passages()])
    assert [p.split(":")[0] for p in problems] == ["a", "b", "c"], problems


def test_the_wake_up_plan_names_only_verified_chapters(shipped):
    plan = shipped.plans["the-wake-up"]
    titled = {c.number: c.title for c in plan.known if c.title}
    assert titled == {10: "Disrupt the Pattern"}
    assert plan.chapters is None  # the full chapter count is not verified


def _near_duplicates(texts: dict[str, str]) -> list[tuple[str, str, float]]:
    pairs = []
    for (a, ta), (b, tb) in itertools.combinations(texts.items(), 2):
        score = fuzz.token_set_ratio(ta.lower(), tb.lower())
        if score >= 90:
            pairs.append((a, b, score))
    return pairs


def test_no_question_or_prompt_is_a_near_duplicate_of_another(shipped):
    texts = {f"reflection {r.id}": r.text for r in shipped.reflections.values()}
    texts |= {f"prompt {p.id}": p.text for p in shipped.prompts.values()}
    assert _near_duplicates(texts) == []


def test_the_near_duplicate_check_catches_a_reworded_question():
    texts = {
        "a": "Where did you notice power at work this week?",
        "b": "Where did you notice power at work around you this week?",
        "c": "What would you give up for equity?",
    }
    assert [(a, b) for a, b, _ in _near_duplicates(texts)] == [("a", "b")]


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(SHIPPED, target)
    return target


def _replace(path: Path, old: str, new: str) -> int:
    text = path.read_text()
    assert old in text
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1))
    return line


def _problems(directory: Path) -> list[str]:
    with pytest.raises(ContentError) as caught:
        content_module.load(directory)
    return [str(p) for p in caught.value.problems]


def test_an_unknown_related_term_names_file_entry_field_and_line(broken):
    line = _replace(broken / "glossary.toml", 'related = ["', 'related = ["privelege", "')
    problems = _problems(broken)
    assert any(
        p.startswith(f"glossary.toml:{line}: term ") and 'field "related"' in p and "privelege" in p
        for p in problems
    ), problems


def test_an_unattributed_quotation_is_refused(broken):
    path = broken / "reflections.toml"
    text = path.read_text()
    start = text.index("[[reflection]]")
    line = text[:start].count("\n") + 1
    path.write_text(
        text[:start]
        + '[[reflection]]\nid = "quoted"\ntext = "What does \\"power\\" mean to you?"\n'
        + 'tags = ["power"]\n\n'
        + text[start:]
    )
    problems = _problems(broken)
    assert any(
        p.startswith(f"reflections.toml:{line + 2}:") and "needs a source" in p for p in problems
    ), problems


def test_duplicate_ids_unknown_tags_and_bad_links(broken):
    resources = broken / "resources.toml"
    _replace(resources, 'url = "http', 'url = "ftp')
    _replace(broken / "reflections.toml", 'tags = ["', 'tags = ["not-a-tag", "')
    problems = "\n".join(_problems(broken))
    assert "must be a link starting with http" in problems
    assert 'unknown tag (add it to tags.toml) "not-a-tag"' in problems


def test_a_syntax_error_points_at_its_line(broken):
    path = broken / "myths.toml"
    lines = path.read_text().splitlines()
    lines[3] = "number = = 1"
    path.write_text("\n".join(lines))
    problems = _problems(broken)
    assert problems[0].startswith("myths.toml:4:") and "not valid TOML" in problems[0]


def test_content_check_command_reports_and_exits_nonzero(broken):
    ok = subprocess.run(
        [sys.executable, "-m", "companion", "content", "check"], capture_output=True, text=True
    )
    assert ok.returncode == 0 and "content OK" in ok.stdout
    _replace(broken / "glossary.toml", 'id = "allyship"', 'id = "Ally Ship"')
    bad = subprocess.run(
        [sys.executable, "-m", "companion", "content", "check", str(broken)],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert "glossary.toml:" in bad.stderr and "must be a slug" in bad.stderr


def test_define_says_when_a_definition_is_our_own_summary(shipped):
    from companion.features.definitions import Definitions
    from companion.markup import to_plain

    define = Definitions(shipped, store=None)  # type: ignore[arg-type]  # render reads no store
    power = to_plain(define.render(shipped.terms["power"]))
    assert "Our own summary" in power and "Allyship (& Accomplice)" in power
    assert "Related reading:" in power  # not "the word comes up in": some never use it
    privilege = to_plain(define.render(shipped.terms["privilege"]))
    assert "Our own summary" not in privilege and "Sources:" in privilege
    own = {t.id for t in shipped.terms.values() if t.own_summary}
    assert {"power", "equity", "inclusion", "diversity", "justice", "marginalized"} <= own
    assert "identity" in own
    # Terms whose cited works do not define them so (or, for the first two, use the word).
    summaries = {"performative-allyship", "virtue-signalling", "systemic-racism"}
    assert summaries | {"bystander-intervention"} <= own
    # "Ally cookies" is wanting praise, another idea: it does not lead to virtue signalling.
    assert shipped.find_term("ally cookies") is None


def test_a_prompt_cites_each_work_it_relies_on(shipped):
    from companion.features.prompts import _shipped, render
    from companion.markup import to_plain

    [view] = [v for v in _shipped(shipped) if v.shown_id == "less-risk-more-risk"]
    shown = to_plain(render(view, shipped))
    assert "are not penalized" in shown
    assert "— Michelle MiJung Kim, Allyship (& Accomplice)" in shown
    assert "— and David R. Hekman, Stefanie K. Johnson, Maw-Der Foo and Wei Yang, Does" in shown
    assert "— and Stefanie K. Johnson and David R. Hekman, Women and Minorities" in shown


def test_further_sources_must_exist_and_follow_a_source(broken):
    path = broken / "prompts.toml"
    line = _replace(
        path,
        'source = "awaken-allyship-2019"\nmore_sources = [',
        'source = "awaken-allyship-2019"\nmore_sources = ["hekman-2017", ',
    )
    text = path.read_text()
    start = text.index('id = "bystander-scenarios"')
    path.write_text(
        text[:start] + text[start:].replace("\n\n", '\nmore_sources = ["caste"]\n\n', 1)
    )
    problems = _problems(broken)
    assert any(
        p.startswith(f"prompts.toml:{line + 1}:") and 'unknown resource "hekman-2017"' in p
        for p in problems
    ), problems
    assert any(
        'prompt "bystander-scenarios" field "more_sources": further sources come after' in p
        for p in problems
    ), problems


def test_a_chapter_tag_needs_a_book_and_the_book_must_be_a_book(broken):
    line = _replace(
        broken / "reflections.toml",
        'id = "status-at-stake"',
        'id = "status-at-stake"\nchapter = 2',
    )
    _replace(broken / "practices.toml", 'book = "the-wake-up"', 'book = "code-switch"')
    _replace(
        broken / "prompts.toml", 'plan = "the-wake-up"', 'plan = "the-wake-up"\nbook = "caste"'
    )
    problems = _problems(broken)
    expected = (
        f'reflections.toml:{line + 1}: reflection "status-at-stake" field "chapter": '
        "a chapter needs a book"
    )
    assert expected in problems, problems
    assert any(
        p.startswith("practices.toml:") and '"code-switch" is not a book' in p for p in problems
    ), problems
    assert any(
        p.startswith("prompts.toml:") and "give a plan or a book, not both" in p for p in problems
    ), problems


# --- learning paths (content/paths.toml) ----------------------------------------------------


def test_the_21_day_path_walks_the_four_parts_and_the_prep_path_ends_with_bookclub_start(
    shipped,
):
    path = shipped.paths["allyship-21"]
    assert [d.number for d in path.days] == list(range(1, 22))
    assert {d.part for d in path.days} == set(content_module.PATH_PARTS)
    for day in path.days:
        assert day.short and day.deeper and day.question.endswith("?")
        assert day.terms or day.practices or day.myths or day.resources or day.reflections
    prep = shipped.paths["wake-up-prep"]
    assert [d.number for d in prep.days] == list(range(1, 8))
    assert "`bookclub start the-wake-up" in prep.days[-1].deeper


def test_no_day_carries_the_chapter_11_question(shipped):
    for path in shipped.paths.values():
        for day in path.days:
            text = " ".join((day.title, day.short, day.deeper, day.question)).lower()
            assert "willing to give up" not in text, (path.id, day.number)


def test_a_gap_in_the_days_names_the_file_line_and_field(broken):
    line = _replace(broken / "paths.toml", "number = 3\n", "number = 4\n")
    problems = _problems(broken)
    assert any(
        p.startswith(f"paths.toml:{line}: ")
        and 'path "allyship-21" day 4 field "number"' in p
        and "should be 3" in p
        for p in problems
    ), problems


def test_an_unknown_or_chapter_tied_source_is_refused(broken):
    path = broken / "paths.toml"
    line = _replace(path, 'terms = ["allyship"]', 'terms = ["alyship"]')
    tied = _replace(
        path,
        'practices = ["map-your-privileges"]',
        'practices = ["name-what-you-will-give-up"]',
    )
    problems = _problems(broken)
    assert any(
        p.startswith(f"paths.toml:{line}: ") and 'unknown id "alyship"' in p for p in problems
    ), problems
    assert any(
        p.startswith(f"paths.toml:{tied}: ") and "tied to a chapter" in p for p in problems
    ), problems


def test_a_day_too_long_for_one_chat_message_is_refused(broken):
    line = _replace(
        broken / "paths.toml",
        'deeper = "Read Michelle MiJung Kim',
        'deeper = "' + "x" * 690 + " Read Michelle MiJung Kim",
    )
    problems = _problems(broken)
    assert any('field "deeper"' in p and f"paths.toml:{line}:" in p for p in problems), problems


def test_a_practice_citing_a_work_tied_to_a_chapter_is_not_one_for_clubs_just_starting(broken):
    """A practice adapted from the newsletter (tied to chapter 11) waits with it, so it does
    not count as the don't a club at chapter 0 can always be given."""
    path = broken / "practices.toml"
    blocks = path.read_text().split("[[practice]]")
    for i, block in enumerate(blocks):
        if 'kind = "dont"' in block and "chapter =" not in block:
            kept = [line for line in block.splitlines() if not line.startswith("source =")]
            blocks[i] = "\n".join([*kept, 'source = "revisiting-allyship-2024"', "", ""])
    path.write_text("[[practice]]".join(blocks))
    problems = _problems(broken)
    assert any(
        "at least one practice (dont) must be tied to no chapter (nor cite a work tied" in p
        for p in problems
    ), problems


def test_a_myth_citing_a_work_tied_to_a_chapter_is_refused(broken):
    """`myth 1` is asked by number, whatever a club has read: its source may not wait."""
    line = _replace(
        broken / "myths.toml",
        'source = "awaken-allyship-2019"',
        'source = "revisiting-allyship-2024"',
    )
    problems = _problems(broken)
    expected = (
        f'myths.toml:{line}: myth "allyship-is-for-straight-white-men" field "source": '
        '"revisiting-allyship-2024" waits for a chapter of a book; a myth is shown to everyone'
    )
    assert expected in problems, problems


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("glossary.toml", 'id = "allyship"', "id = []"),
        ("resources.toml", 'id = "awaken-allyship-2019"', "id = {a = 1}"),
        ("plans.toml", 'id = "the-wake-up"', "id = [1]"),
        ("practices.toml", 'kind = "do"', "kind = {}"),
        ("prompts.toml", 'plan = "the-wake-up"', 'plan = ["the-wake-up"]'),
    ],
)
def test_a_list_or_table_where_an_id_belongs_is_a_problem_not_a_typeerror(broken, name, old, new):
    """These once ended `companion content check` (and the bot's start) in a TypeError
    (unhashable type) in the cross-checks, after the type problem had been found."""
    line = _replace(broken / name, old, new)
    problems = _problems(broken)
    assert any(p.startswith(f"{name}:{line}:") and "must be text" in p for p in problems)


def test_a_content_file_that_is_a_directory_is_a_problem_not_an_oserror(broken):
    (broken / "paths.toml").unlink()
    (broken / "paths.toml").mkdir()
    problems = _problems(broken)
    assert any(p.startswith("paths.toml") and "cannot be read" in p for p in problems)
