"""Replies for Discord: the core's small Markdown as Discord shows it, split into messages.

Pure functions, no discord.py. Discord already speaks the core's subset (paragraphs,
``- `` bullets, ``**bold**``, ``*italic*``, ``code``, ``[text](url)`` and backslash escapes
of any punctuation), so :func:`to_discord` only neutralises what Discord would read as markup
and the core means as text: headings, quotes and subtext at the start of a line, and
spoilers, strike-through and underline inline.

What is "live" on Discord: a masked link ``[text](url)``, an autolink ``<url>``, a bare
``https://`` URL (Discord links those in any message), a mention (``@everyone``, ``<@id>``),
an embed. Member text can make none of them: the core escapes its brackets, angle brackets
and the colon of ``://`` (Discord's own escape rule then shows the character and stops the
link), mass mentions are broken here and every message is sent with no allowed mentions
and embeds suppressed. A thread's title is plain text (the ChatPort contract):
:func:`thread_name` is what Discord shows as the name (which it never reads as Markdown),
:func:`starter` the message a thread in a text channel starts on.
"""

from __future__ import annotations

import re

from companion.fmt import bold
from companion.markup import defuse_mentions

MAX_MESSAGE = 2000
MAX_NONCE = 25
MAX_THREAD_NAME = 100
EMPTY = "(nothing to show)"

# Line starts Discord renders as blocks: "# h1".."### h3", "-# subtext", "> quote".
_BLOCK = re.compile(r"^(?=#{1,3}[ \t]|-#[ \t]|>)", re.MULTILINE)
_BLOCK_STARTS = ("#", ">", "-#")
# Escapes and code spans are kept as they are; the Discord-only inline markers are escaped.
_INLINE = re.compile(r"(\\.|`[^`\n]+`)|(\|\||~~|__)", re.DOTALL)


def to_discord(md: str) -> str:
    """Render a Reply's text for a Discord message."""
    # Cheap checks first (one character, then two): most replies need no regex at all.
    if ("#" in md or ">" in md) and (
        md.startswith(_BLOCK_STARTS) or "\n#" in md or "\n>" in md or "\n-#" in md
    ):
        md = _BLOCK.sub("\\\\", md)
    if ("|" in md or "~" in md or "_" in md) and ("||" in md or "~~" in md or "__" in md):
        md = _INLINE.sub(_escape_inline, md)
    return defuse_mentions(md) if "@" in md else md


def thread_name(title: str) -> str:
    """A thread or forum post name: one line, at most 100 characters, mass mentions broken
    (names are plain text on Discord: no Markdown, no pings, but a name is copied around)."""
    name = defuse_mentions(" ".join(title.split()))
    return name[:MAX_THREAD_NAME].rstrip() or "Discussion"


def starter(title: str) -> str:
    """The message a thread in a text channel starts on: its name in bold, escaped."""
    return to_discord(bold(thread_name(title)))


def _escape_inline(match: re.Match[str]) -> str:
    kept = match.group(1)
    if kept is not None:
        return kept
    return "".join("\\" + c for c in match.group(2))


def split_message(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """``text`` in messages of at most ``limit`` characters, cut at line boundaries.

    A single line longer than ``limit`` is cut at its last space before the limit (or hard,
    never between a backslash and the character it escapes). Blank lines at a cut are dropped.
    """
    if len(text) <= limit:
        return [text] if text.strip() else [EMPTY]
    chunks: list[str] = []
    lines: list[str] = []
    size = -1  # len("\n".join(lines))
    for line in text.split("\n"):
        for piece in _cut_line(line, limit):
            if lines and size + 1 + len(piece) > limit:
                chunks.append("\n".join(lines))
                lines, size = [], -1
            lines.append(piece)
            size += 1 + len(piece)
    chunks.append("\n".join(lines))
    kept = [chunk.strip("\n") for chunk in chunks if chunk.strip()]
    return kept or [EMPTY]


def _cut_line(line: str, limit: int) -> list[str]:
    pieces: list[str] = []
    while len(line) > limit:
        cut = line.rfind(" ", limit // 2, limit + 1)
        if cut <= 0:
            cut = limit
            # Never leave a lone escaping backslash at the end of a piece.
            while cut > 1 and line[cut - 1] == "\\" and _escaping(line, cut - 1):
                cut -= 1
        pieces.append(line[:cut].rstrip(" "))
        line = line[cut:].lstrip(" ")
    pieces.append(line)
    return pieces


def _escaping(text: str, index: int) -> bool:
    """Whether the backslash at ``index`` escapes the next character (an odd run of them)."""
    start = index
    while start > 0 and text[start - 1] == "\\":
        start -= 1
    return (index - start) % 2 == 0


def part_nonce(key: str, part: str = "") -> str:
    """The nonce of one message of a scheduled occurrence: ``key`` itself for the first, then
    ``key`` with a suffix (kept within Discord's 25 characters) for the others, because
    Discord deduplicates a bot's messages by nonce across channels."""
    if not part:
        return key[:MAX_NONCE]
    suffix = "." + part
    return key[: MAX_NONCE - len(suffix)] + suffix
