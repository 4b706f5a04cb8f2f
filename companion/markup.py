"""The core's small Markdown: what a Reply's text may contain, and how to show it.

Supported: paragraphs and line breaks, "- " bullets, **bold**, *italic*, `code`,
[text](https://link) and backslash escapes. Features never write this by hand: they compose
it with :mod:`companion.fmt`, whose helpers escape everything they are given, so member text
is shown as typed and can never become markup or a mass mention.

The inline grammar treats an escape (``\\x``) and a code span as units: a bold, italic or
link can neither end on an escaped character nor start or end inside a code span, so no
arrangement of escaped text and code spans lets member text become markup.
"""

from __future__ import annotations

import re

# "#" needs no escape: it is no markup in the core, and Discord's headings (only at the start
# of a line) are escaped by its renderer.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
# "https://": Discord turns a bare URL in a message into a link; an escaped colon keeps it
# text there (every renderer shows the colon as typed).
_SCHEME = re.compile(r":(?=//)")
_MASS_MENTION = re.compile(r"@(everyone|here|room|channel)\b", re.IGNORECASE)
ZWSP = "\u200b"
# html.escape's own table (quote=True): importing the html module also loads its table of
# 2,231 named entities, 0.4 MB of RSS that nothing else in the bot needs (issue 24).
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})
_LIST_START = re.compile(r"^([-+] )", re.MULTILINE)
# One unit of text inside bold, italic or a link label: an escape pair, a whole code span,
# or one character that is neither a backslash nor a backtick (nor, for some, more).
_ESC, _CODE = r"\\.", r"`[^`\n]+`"
_UNIT = rf"(?:{_ESC}|{_CODE}|[^\\`])"
_ITAL_UNIT = rf"(?:{_ESC}|{_CODE}|[^\\`*])"
_ITAL_EDGE = rf"(?:{_ESC}|{_CODE}|[^\\`*\s])"
_LABEL_UNIT = rf"(?:{_ESC}|{_CODE}|[^\\`\[\]])"
_INLINE = re.compile(
    r"\\(?P<esc>.)"
    rf"|\*\*(?P<bold>{_UNIT}+?)\*\*"
    rf"|\*(?P<ital>{_ITAL_EDGE}(?:{_ITAL_UNIT}*?{_ITAL_EDGE})?)\*"
    r"|`(?P<code>[^`\n]+)`"
    rf"|\[(?P<label>{_LABEL_UNIT}+)\]\((?P<url>https?://[^)\s\\`]+)\)",
    re.DOTALL,
)


def defuse_mentions(text: str) -> str:
    """Break @everyone / @here / @room so no client treats them as a mass mention."""
    return _MASS_MENTION.sub(lambda m: "@" + ZWSP + m.group(1), text)


# Every character the four substitutions below can act on: text without any (most words
# and sentences) is already safe, and is returned without running them.
_ACTED_ON = frozenset("\\`*_[]<>|~:-+@")


def escape(text: str) -> str:
    """Make user text safe to put inside a reply: no markup, no mass mentions."""
    if _ACTED_ON.isdisjoint(text):
        return text
    text = _SPECIAL.sub(r"\\\1", text)
    text = _SCHEME.sub(r"\\:", text)
    text = _LIST_START.sub(r"\\\1", text)  # a line of user text never becomes a bullet
    return defuse_mentions(text)


def to_plain(md: str) -> str:
    """Render for a terminal or a plain-text body: markup removed, links shown in full."""

    def inline(m: re.Match[str]) -> str:
        if m.group("esc") is not None:
            return m.group("esc")
        if m.group("bold") is not None:
            return _INLINE.sub(inline, m.group("bold"))
        if m.group("ital") is not None:
            return _INLINE.sub(inline, m.group("ital"))
        if m.group("code") is not None:
            return m.group("code")
        label = _INLINE.sub(inline, m.group("label"))
        return f"{label} <{m.group('url')}>"

    lines = []
    for line in md.split("\n"):
        if line.startswith("- "):
            line = "• " + line[2:]
        lines.append(_INLINE.sub(inline, line))
    return "\n".join(lines)


def to_html(md: str) -> str:
    """Render for Matrix's formatted_body: every character of text is HTML-escaped."""

    def inline(m: re.Match[str]) -> str:
        if m.group("esc") is not None:
            return m.group("esc").translate(_HTML)
        if m.group("bold") is not None:
            return f"<strong>{_html_inline(m.group('bold'))}</strong>"
        if m.group("ital") is not None:
            return f"<em>{_html_inline(m.group('ital'))}</em>"
        if m.group("code") is not None:
            return f"<code>{m.group('code').translate(_HTML)}</code>"
        url = m.group("url").translate(_HTML)
        return f'<a href="{url}">{_html_inline(m.group("label"))}</a>'

    def _html_inline(text: str) -> str:
        out, last = [], 0
        for m in _INLINE.finditer(text):
            out.append(text[last : m.start()].translate(_HTML))
            out.append(inline(m))
            last = m.end()
        out.append(text[last:].translate(_HTML))
        return "".join(out)

    blocks: list[str] = []
    items: list[str] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            blocks.append("<p>" + "<br>".join(para) + "</p>")
            para.clear()
        if items:
            blocks.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()

    for line in md.split("\n"):
        if line.startswith("- "):
            if para:
                flush()
            items.append(_html_inline(line[2:]))
        elif not line.strip():
            flush()
        else:
            if items:
                flush()
            para.append(_html_inline(line))
    flush()
    return "".join(blocks)
