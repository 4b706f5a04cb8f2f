"""Replies for Discord: Markdown, splitting at 2,000 characters, nonces (pure functions)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from companion.markup import escape
from companion_adapters.discord.render import (
    EMPTY,
    MAX_MESSAGE,
    part_nonce,
    split_message,
    to_discord,
)

pytestmark = pytest.mark.discord

_DISCORD_ESCAPE = re.compile(r"\\([^0-9A-Za-z\s])")


def as_discord_shows(text: str) -> str:
    """Discord's escape rule: a backslash before punctuation shows the punctuation."""
    return _DISCORD_ESCAPE.sub(r"\1", text)


# --- Markdown ---------------------------------------------------------------------------


def test_the_core_subset_passes_through() -> None:
    md = "**Allyship**\n*a practice*\n- `define x`\n[link](https://example.org)\n\nText \\*"
    assert to_discord(md) == md


def test_discord_only_blocks_and_inline_markers_are_shown_as_text() -> None:
    md = "# not a heading\n> not a quote\n-# not subtext\n||no spoiler|| ~~no strike~~ __no__"
    assert to_discord(md) == (
        "\\# not a heading\n\\> not a quote\n\\-# not subtext\n"
        "\\|\\|no spoiler\\|\\| \\~\\~no strike\\~\\~ \\_\\_no\\_\\_"
    )
    # Inside code spans and existing escapes nothing changes.
    assert to_discord("`a||b` \\__") == "`a||b` \\__"
    assert to_discord("#hashtag and 1 > 0") == "#hashtag and 1 > 0"


def test_mass_mentions_are_broken_even_in_core_text() -> None:
    assert to_discord("hello @everyone and @here") == "hello @\u200beveryone and @\u200bhere"


@given(st.text(max_size=200))
def test_user_text_is_shown_exactly_as_typed(typed: str) -> None:
    shown = as_discord_shows(to_discord(escape(typed)))
    assert shown.replace("\u200b", "") == typed.replace("\u200b", "")
    assert "@everyone" not in shown and "@here" not in shown


# --- splitting --------------------------------------------------------------------------


def test_short_text_is_one_message() -> None:
    assert split_message("hello") == ["hello"]
    assert split_message("x" * MAX_MESSAGE) == ["x" * MAX_MESSAGE]
    assert split_message("  \n") == [EMPTY]


def test_long_text_is_split_on_line_boundaries() -> None:
    lines = [f"- line {i:04d} " + "w" * 80 for i in range(60)]
    chunks = split_message("\n".join(lines))
    assert len(chunks) > 1 and all(len(c) <= MAX_MESSAGE for c in chunks)
    assert [line for c in chunks for line in c.split("\n")] == lines


def test_blank_lines_at_a_cut_are_dropped() -> None:
    text = ("a" * 1500) + "\n\n\n" + ("b" * 1500)
    assert split_message(text) == ["a" * 1500, "b" * 1500]


def test_a_line_longer_than_a_message_is_cut_at_a_space() -> None:
    words = " ".join(["allyship"] * 500)  # 4,499 characters on one line
    chunks = split_message(words)
    assert all(len(c) <= MAX_MESSAGE for c in chunks)
    assert " ".join(chunks) == words
    assert all(not c.startswith(" ") and not c.endswith(" ") for c in chunks)


def test_a_hard_cut_never_separates_a_backslash_from_what_it_escapes() -> None:
    text = "a" * 1999 + "\\*" + "b" * 100
    first, second = split_message(text)
    assert first == "a" * 1999 and second.startswith("\\*")
    assert split_message("\\\\" * 1500)[0].endswith("\\\\")


@given(st.text(alphabet="ab \n\\*", max_size=5000), st.integers(20, 300))
def test_splitting_keeps_every_character_within_the_limit(text: str, limit: int) -> None:
    chunks = split_message(text, limit)
    assert all(0 < len(c) <= limit for c in chunks)
    if text.strip():
        squash = re.compile(r"\s+")
        kept = squash.sub("", "".join(chunks))
        assert kept == squash.sub("", text)


# --- nonces -----------------------------------------------------------------------------


def test_nonces_stay_within_25_characters_and_differ_per_part() -> None:
    assert part_nonce("cmp1-abc") == "cmp1-abc"
    assert part_nonce("cmp1-abc", "t0") == "cmp1-abc.t0"
    long = "k" * 25
    nonces = {part_nonce(long, p) for p in ("", "1", "t0", "t12")}
    assert len(nonces) == 4 and all(len(n) <= 25 for n in nonces)


def test_a_thread_title_is_plain_text_in_its_name_and_its_starter() -> None:
    from companion_adapters.discord.render import starter, thread_name

    title = "[win](https://evil.example) @everyone\n**x** " + "y" * 200
    name = thread_name(title)
    assert "\n" not in name and len(name) <= 100 and "@everyone" not in name
    assert as_discord_shows(starter(title)).startswith("**[win](https://evil.example)")
    assert "\\[win\\](https\\://evil.example)" in starter(title)
