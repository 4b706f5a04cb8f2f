"""Composing what the bot says: helpers that escape their arguments, so safe output is the
easy path (in the spirit of Red-DiscordBot's ``chat_formatting``).

:class:`Md` is text that is already safe in the core's small Markdown (see
:mod:`companion.markup`). The helpers return it, and anything that is not an ``Md`` is
escaped wherever it meets one: passed to a helper, to :func:`fmt`, added to an ``Md`` or
joined by one. A ``Reply``, a ``UserError`` and a scheduled ``Post`` escape a plain ``str``
too, so text that skipped the helpers is shown as typed: never as markup, never as a mass
mention. A handler that wants member text to become markup has to go out of its way.

    fmt("Added prompt {}: {}", code(prompt_id), text)   # text is escaped
    bold(term) + " " + definition                        # so is definition
    bullets(titles)                                      # each title is escaped

The template of :func:`fmt` is the only Markdown written by hand; it must be a string
literal (a test checks that no f-string or variable is passed), with balanced backticks.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable
from typing import Any, LiteralString, overload
from urllib.parse import quote as percent_quote
from urllib.parse import urlsplit

from companion.markup import defuse_mentions, escape

__all__ = [
    "Md",
    "as_md",
    "bold",
    "bullets",
    "code",
    "fmt",
    "italic",
    "join",
    "lines",
    "link",
    "plain",
    "prefix_commands",
    "quote",
    "sentence",
    "stored",
]

_BACKTICKS = re.compile(r"(?<!\\)(?:\\\\)*`")
_CODE_SPAN = re.compile(r"`[^`]*`")
# The core's Markdown as its renderers read it: an escape pair is one unit (so an escaped
# backtick, as in member text, opens no span); a code span runs to the next backtick.
_ESCAPE_OR_SPAN = re.compile(r"\\.|`([^`\n]+)`", re.DOTALL)
# Characters a link's URL may not carry as they are: the renderers end a URL there.
_URL_UNSAFE = "()<>\\`\"' "


class Md(str):
    """Text that is already safe Markdown. Build it with the helpers below, not by hand."""

    __slots__ = ()

    def __add__(self, other: str) -> Md:
        return Md(str.__add__(self, as_md(other)))

    def __radd__(self, other: str) -> Md:
        return Md(str.__add__(as_md(other), self))

    def join(self, parts: Iterable[str]) -> Md:
        return Md(str.join(self, (as_md(part) for part in parts)))

    def __repr__(self) -> str:
        return f"Md({str.__repr__(self)})"


def as_md(value: object) -> Md:
    """``value`` as Markdown: an ``Md`` as it is, anything else escaped (shown as typed)."""
    if isinstance(value, Md):
        return value
    return Md(escape(str(value)))


plain = as_md  # "show this as typed", where that reads better


class _Escaping(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> Md:
        if isinstance(value, Md):
            return Md(format(str(value), format_spec)) if format_spec else value
        return Md(escape(format(value, format_spec)))

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        converted = super().convert_field(value, conversion)
        # "{!r}" of an Md is a plain repr: escaped like any other text.
        return str(converted) if conversion else converted


_FORMATTER = _Escaping()


def fmt(template: LiteralString, /, *args: object, **kwargs: object) -> Md:
    """``template.format(...)`` with every argument escaped unless it is already ``Md``."""
    for line in template.split("\n"):
        if len(_BACKTICKS.findall(line)) % 2:
            raise ValueError(f"unbalanced backticks in a template: {template!r}")
        if any("{" in span.group() for span in _CODE_SPAN.finditer(line)):
            raise ValueError(f"a field inside a code span (use code()): {template!r}")
    return Md(_FORMATTER.vformat(template, args, kwargs))


def bold(text: object) -> Md:
    shown = as_md(text if isinstance(text, Md) else str(text).strip())
    return Md(f"**{shown}**") if shown.strip() else shown


def italic(text: object) -> Md:
    shown = as_md(text if isinstance(text, Md) else str(text).strip())
    return Md(f"*{shown}*") if shown else shown


def code(text: object) -> Md:
    """A code span that cannot be broken out of: no backtick or line break survives in it
    (the core's code spans have no way to hold one), and mass mentions are broken."""
    inner = str(text).replace("`", "'").replace("\r", " ").replace("\n", " ")
    inner = defuse_mentions(inner)
    return Md(f"`{inner}`") if inner.strip() else Md("")


def quote(text: object) -> Md:
    """Text in typographic quotes: “like this”."""
    return Md(f"“{as_md(text)}”")


def link(title: object, url: str) -> Md:
    """``[title](url)`` for an http(s) URL; the title is escaped. Any other URL is not
    linked: the title is shown alone."""
    label = as_md(title) if str(title).strip() else Md("link")
    safe = _safe_url(url)
    return Md(f"[{label}]({safe})") if safe else label


def _safe_url(url: str) -> str | None:
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    return "".join(percent_quote(ch, safe="") if ch in _URL_UNSAFE else ch for ch in url)


def lines(*parts: object) -> Md:
    """Parts on lines of their own; plain ones are escaped."""
    return Md("\n").join(as_md(part) for part in parts)


def join(parts: Iterable[object], sep: LiteralString = ", ") -> Md:
    return Md(sep).join(as_md(part) for part in parts)


def bullets(items: Iterable[object], *, empty: object = None) -> Md:
    """A "- " list, one item a line (each item escaped unless it is ``Md``); ``empty`` is
    the one item shown when there are none."""
    shown = [as_md(item) for item in items]
    if not shown and empty is not None:
        shown = [as_md(empty)]
    return Md("\n").join(Md("- ") + item for item in shown)


def sentence(text: Md) -> Md:
    """The same Markdown with its first letter in upper case (a problem made a sentence)."""
    return Md(text[:1].upper() + text[1:])


@overload
def prefix_commands(text: Md, prefix: str, is_command: Callable[[str], bool]) -> Md: ...


@overload
def prefix_commands(text: str, prefix: str, is_command: Callable[[str], bool]) -> str: ...


def prefix_commands(text: str, prefix: str, is_command: Callable[[str], bool]) -> str:
    """``text`` with ``prefix`` put before each code span ``is_command`` says names a command
    (companion.mentions decides, per platform). Markdown stays ``Md``; a plain ``str`` (a
    scheduled event's description) stays plain."""
    prefix = prefix.replace("`", "").replace("\n", "")  # it cannot end the span early
    if not prefix or "`" not in text:
        return text

    def mention(match: re.Match[str]) -> str:
        span = match.group(1)
        if span is None or span[:1].isspace() or not is_command(span):
            return match.group()
        return f"`{prefix}{span}`"

    shown = _ESCAPE_OR_SPAN.sub(mention, text)
    return Md(shown) if isinstance(text, Md) else shown


def stored(text: str) -> Md:
    """Markdown the bot composed itself earlier (with these helpers) and kept in its own
    database, read back to be shown again (a notice in ``mydata``)."""
    return Md(text)


# Counts members see (joined, a day's check-ins, chapters done) show from five on: nobody
# is singled out.
MIN_COUNT = 5


def shown_count(count: int) -> str:
    """A count as members see it: the number from MIN_COUNT on, else "fewer than five"."""
    return str(count) if count >= MIN_COUNT else "fewer than five"
