"""companion.fmt: helpers that escape what they are given, and the rules that keep features
on them (no f-string templates, no hand-made Md, no scattered escape())."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.events import Reply
from companion.fmt import (
    Md,
    bold,
    bullets,
    code,
    fmt,
    italic,
    join,
    lines,
    link,
    prefix_commands,
    quote,
)
from companion.markup import to_html, to_plain
from tests.conftest import MEMBER, MODERATOR, say

EVIL = "[win](https://evil.example)"
CORE = Path(__file__).parents[2] / "companion"


def test_arguments_are_escaped_and_md_is_kept() -> None:
    shown = fmt("{} and {}", EVIL, bold("this"))
    assert "<a" not in to_html(shown) and "<strong>this</strong>" in to_html(shown)
    assert to_plain(shown) == f"{EVIL} and this"
    assert isinstance(shown + EVIL, Md) and "<a" not in to_html(shown + EVIL)
    assert "<a" not in to_html(EVIL + shown)  # str + Md escapes the str as well
    assert "<a" not in to_html(join([EVIL, italic(EVIL)]))
    assert to_plain(bullets([EVIL, "- two"])) == f"• {EVIL}\n• - two"


def test_a_plain_str_reply_is_shown_as_typed() -> None:
    assert to_plain(Reply(EVIL).text) == EVIL
    assert "<a" not in to_html(Reply(EVIL).text)


def test_a_code_span_cannot_be_broken_out_of() -> None:
    for attack in ["a` [x](https://evil.example) `b", "x\n- [x](https://evil.example)", "\\`"]:
        md = fmt("I don't know {}. {}", code(attack), link("ok", "https://ok.example/"))
        assert 'href="https://evil' not in to_html(md)
        assert to_html(md).count("<a ") == 1


def test_bold_around_escaped_stars_and_code_spans_stays_text() -> None:
    # An escaped star must not end a bold, or the freed star could start an italic that
    # reaches into a code span and makes its raw content markup.
    md = fmt("{}: {}", bold("a*"), code("[x](https://evil.example)*"))
    assert "evil" not in to_html(md).split("<code>")[0]
    assert "<a" not in to_html(md)
    assert to_plain(md) == "a*: [x](https://evil.example)*"


def test_links_only_for_http_urls_and_titles_escaped() -> None:
    assert to_html(link("**t**", "https://ok.example/a(b)")).startswith(
        '<p><a href="https://ok.example/a%28b%29">'
    )
    assert to_html(link("t", "javascript:alert(1)")) == "<p>t</p>"
    assert "**t**" in to_plain(link("**t**", "https://ok.example"))


def test_mass_mentions_and_quotes() -> None:
    assert "@everyone" not in fmt("{}", "@everyone") and "@everyone" not in code("@everyone")
    assert to_plain(quote("x*")) == "“x*”"
    assert lines("a", bold("b")) == "a\n**b**"


def test_templates_with_a_field_inside_backticks_or_unbalanced_ones_are_refused() -> None:
    with pytest.raises(ValueError):
        fmt("`journal {}`", 2)
    with pytest.raises(ValueError):
        fmt("an odd ` here")


async def test_the_attacks_of_issue_12_stay_text(app) -> None:
    for line in [f"terms {EVIL}", f"help {EVIL}", f"help x\n- {EVIL}", f"define {EVIL}"]:
        for actor in (MEMBER, MODERATOR):
            html = to_html((await say(app, line, actor)).text)
            assert "<a" not in html and "evil.example" in html


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
    ]


def test_features_compose_output_only_through_the_helpers() -> None:
    problems = []
    for path in sorted(CORE.rglob("*.py")):
        if path.name in ("fmt.py", "markup.py"):
            continue
        source = path.read_text()
        tree = ast.parse(source)
        where = path.relative_to(CORE.parent)
        for call in _calls(tree, "fmt"):
            first = call.args[0] if call.args else None
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                problems.append(f"{where}:{call.lineno}: fmt() needs a literal template")
        for call in _calls(tree, "Md"):
            problems.append(f"{where}:{call.lineno}: Md() by hand (use fmt or a helper)")
        if (
            "from companion.markup import" in source
            and "escape" in source.split("from companion.markup import", 1)[1].split("\n", 1)[0]
        ):
            problems.append(f"{where}: imports escape() (compose with companion.fmt)")
    assert not problems, "\n".join(problems)


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_escape_skips_only_text_that_nothing_would_change(text: str) -> None:
    """escape returns plain text untouched without running its substitutions; the result is
    the same as running them all."""
    from companion import markup

    full = markup._SPECIAL.sub(r"\\\1", text)
    full = markup._SCHEME.sub(r"\\:", full)
    full = markup._LIST_START.sub(r"\\\1", full)
    assert markup.escape(text) == markup.defuse_mentions(full)


def test_only_the_bots_own_code_spans_get_a_command_prefix() -> None:
    """Member text with backticks is escaped, so it opens no span and is shown as typed;
    the bot's own span naming a command gets the platform's prefix, others stay as written."""
    said = fmt("{} said: try {} or {}", "`vote 1`", code("vote 1"), code("weekly thu 19:00"))
    shown = prefix_commands(said, "!", lambda span: span.split()[0] == "vote")
    assert isinstance(shown, Md)
    assert to_plain(shown) == "`vote 1` said: try !vote 1 or weekly thu 19:00"
    assert prefix_commands(shown, "!", lambda span: span.split()[0] == "vote") == shown
    assert prefix_commands(said, "", lambda span: True) == said  # the terminal: bare
