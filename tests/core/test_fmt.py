"""companion.fmt: helpers that escape what they are given."""

from __future__ import annotations

import pytest

from companion.fmt import Md, bold, bullets, code, fmt, italic, join, lines, link, quote
from companion.markup import to_html, to_plain

EVIL = "[win](https://evil.example)"


def test_arguments_are_escaped_and_md_is_kept() -> None:
    shown = fmt("{} and {}", EVIL, bold("this"))
    assert "<a" not in to_html(shown) and "<strong>this</strong>" in to_html(shown)
    assert to_plain(shown) == f"{EVIL} and this"
    assert isinstance(shown + EVIL, Md) and "<a" not in to_html(shown + EVIL)
    assert "<a" not in to_html(EVIL + shown)  # str + Md escapes the str as well
    assert "<a" not in to_html(join([EVIL, italic(EVIL)]))
    assert to_plain(bullets([EVIL, "- two"])) == f"• {EVIL}\n• - two"


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
