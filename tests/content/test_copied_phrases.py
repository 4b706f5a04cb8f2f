"""Our own words: no run of 7 or more words from a source article outside a marked quote.

Every text in every content file (each string value, comments aside) is compared with the
two seed articles word by word, case and punctuation aside. A run of words may match a seed
only inside a marked quote: text between quotation marks (or a field that is shown as a
quotation: a glossary term's `quote`, a myth as the article words it) that is word for word
a passage listed in seed_passages.toml, where the other tests check its attribution. The
title of a work in resources.toml is a name, not prose: its words may appear anywhere (the
Awaken article names The Wake Up's subtitle), and links are not text.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.content.seeds import SEEDS, flat, seeds_dir
from tests.content.test_content_files import listed_passages

RUN = 7  # words in a row that make a copied phrase
# Fields shown as quotations whatever marks they carry: (file, key path ending).
QUOTE_FIELDS = {("glossary.toml", ("quote", "text")), ("myths.toml", ("myth",))}
_QUOTED = re.compile('\u201c[^\u201d]*\u201d|"[^"]*"')
_APOSTROPHES = re.compile("[\u2018\u2019`]")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")


def words(text: str) -> list[str]:
    """Lowercase words: apostrophes kept inside a word (people's), all other marks dropped."""
    return _WORD.findall(_APOSTROPHES.sub("'", text.lower()))


def runs(text: str, n: int = RUN) -> set[tuple[str, ...]]:
    found = words(text)
    return {tuple(found[i : i + n]) for i in range(len(found) - n + 1)}


def strings(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every string in a parsed TOML file, with the keys (and entry ids) that lead to it."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        label = (f'"{value["id"]}"',) if isinstance(value.get("id"), str) else ()
        for key, item in value.items():
            yield from strings(item, (*path, *label, key))
    elif isinstance(value, list):
        for item in value:
            yield from strings(item, path)


def is_listed(quoted: str, passages: list[str]) -> bool:
    wanted = flat(quoted).strip(" .,?!")
    return bool(wanted) and any(wanted in passage for passage in passages)


def unmarked(text: str, passages: list[str], whole_is_quote: bool) -> list[str]:
    """The stretches of `text` that are not a marked, listed quote (each checked apart)."""
    if whole_is_quote and is_listed(text, passages):
        return []
    pieces, at = [], 0
    for match in _QUOTED.finditer(text):
        if is_listed(match.group(0)[1:-1], passages):
            pieces.append(text[at : match.start()])
            at = match.end()
    pieces.append(text[at:])
    return pieces


def copied_phrases(directory: Path, seeds: Path, passages: list[str]) -> list[str]:
    """One line per text that shares a run of RUN words with a seed outside a marked quote."""
    seed_runs = set()
    for seed in SEEDS:
        seed_runs |= runs((seeds / seed.file).read_text(encoding="utf-8"))
    listing = directory / "resources.toml"
    resources = tomllib.loads(listing.read_text(encoding="utf-8")) if listing.exists() else {}
    for resource in resources.get("resource", []):
        seed_runs -= runs(resource.get("title", ""))  # a work's name, not its prose
    problems = []
    for path in sorted(directory.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for keys, text in strings(data):
            if keys[-1] == "url":
                continue
            whole = any(
                path.name == name and keys[-len(tail) :] == tail for name, tail in QUOTE_FIELDS
            )
            shared = set()
            for piece in unmarked(text, passages, whole):
                shared |= runs(piece) & seed_runs
            if shared:
                where = f"{path.name} {' '.join(keys)}"
                example = " ".join(sorted(shared)[0])
                problems.append(f"{where}: {len(shared)} run(s) from a source, e.g. {example!r}")
    return problems


@pytest.fixture(scope="module")
def seeds() -> Path:
    found = seeds_dir()
    if found is None:
        pytest.skip("the seed articles (../shared/seeds/) are not beside this checkout")
    return found


@pytest.fixture(scope="module")
def passages() -> list[str]:
    return [flat(p["text"]) for p in listed_passages()]


def test_no_content_copies_seven_words_from_a_source_outside_a_marked_quote(
    content_dir: Path, seeds: Path, passages: list[str]
):
    assert copied_phrases(content_dir, seeds, passages) == []


def test_the_check_finds_a_copied_run_and_allows_a_marked_listed_quote(
    tmp_path: Path, seeds: Path, passages: list[str]
):
    copied = "Do map out your privileges to understand where you can be the most useful."
    reworded = "Work out which privileges you hold, so you know where your help counts."
    listed = "Kim asks: “What am I willing to give up?” What is your answer?"
    # Marked, but not a listed passage: still a copied run (the words are the article's).
    unlisted = "Awaken says: “continue to course-correct as we hone our allyship skills”."
    named = "Its subtitle speaks of Closing the Gap Between Good Intentions and Real Change."
    (tmp_path / "prompts.toml").write_text(
        "".join(
            f'[[prompt]]\nid = "{ident}"\ntext = "{text}"\n\n'
            for ident, text in [
                ("copied", copied.upper().replace(" ", "  ")),  # case and spacing aside
                ("reworded", reworded),
                ("listed", listed),
                ("unlisted", unlisted),
                ("named", named),
            ]
        ),
        encoding="utf-8",
    )
    (tmp_path / "myths.toml").write_text(
        '[[myth]]\nid = "m"\nmyth = "Since I have privileges, I should be the one to solve '
        'problems."\ncorrection = "Having certain privileges doesn’t make you a better or '
        'superior person."\n',
        encoding="utf-8",
    )
    (tmp_path / "resources.toml").write_text(
        '[[resource]]\nid = "the-wake-up"\n'
        'title = "The Wake Up: Closing the Gap Between Good Intentions and Real Change"\n'
        'url = "https://example.org/allyship-is-an-active-and-consistent-practice-of-using"\n',
        encoding="utf-8",
    )
    problems = copied_phrases(tmp_path, seeds, passages)
    assert [p.split(":")[0] for p in problems] == [
        'myths.toml myth "m" correction',
        'prompts.toml prompt "copied" text',
        'prompts.toml prompt "unlisted" text',
    ], problems
