"""From a Reply's text (the core's small Markdown) to Matrix event contents.

Every event is an ``m.notice`` (bots speak in notices, and other bots ignore them) with a
plain ``body`` and an HTML ``formatted_body``; ``companion.markup.to_html`` escapes every
character of text, and ``"m.mentions": {}`` tells clients that nothing in it mentions
anyone. A reply too big for one event is split into several.

A thread's title is plain text (the ChatPort contract): :func:`thread_root` shows it in
bold, escaped like member text. A kind may have its own HTML template (the daily
reflection is a block quote); the plain body is the same for every kind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from companion.events import Kind
from companion.fmt import bold
from companion.markup import defuse_mentions, to_html, to_plain

# Matrix caps a whole event (with signatures, hashes, ...) at 65,536 bytes; keep the
# content of each notice well below that.
MAX_CONTENT_BYTES = 30_000
HTML = "org.matrix.custom.html"

Content = dict[str, Any]

# How one kind is presented in Matrix's HTML, around the shared renderer's output.
TEMPLATES: dict[Kind, str] = {Kind.REFLECTION: "<blockquote>{}</blockquote>"}


def notice(md: str, relates_to: Content | None = None, kind: Kind = Kind.ANSWER) -> Content:
    html = to_html(md)
    template = TEMPLATES.get(kind)
    content: Content = {
        "msgtype": "m.notice",
        "body": to_plain(md),
        "format": HTML,
        "formatted_body": template.format(html) if template else html,
        "m.mentions": {},
    }
    if relates_to is not None:
        content["m.relates_to"] = relates_to
    return content


def thread_root(title: str) -> Content:
    """The root event of a thread: its title, plain text shown in bold, on one line."""
    return notice(bold(" ".join(title.split()) or "Discussion"), kind=Kind.DISCUSSION)


def plain_notice(text: str) -> Content:
    """One plain line, no HTML at all (for the note about encrypted rooms)."""
    return {"msgtype": "m.notice", "body": defuse_mentions(text), "m.mentions": {}}


def reply_to(event_id: str, thread_root: str | None = None) -> Content:
    """A reply to one event; inside a thread, a reply that stays in the thread.

    The reply is to the command itself, so ``is_falling_back`` is false: thread-aware
    clients show it as a real reply in the thread, others as a reply to the command.
    """
    if thread_root is None:
        return {"m.in_reply_to": {"event_id": event_id}}
    return {
        "rel_type": "m.thread",
        "event_id": thread_root,
        "is_falling_back": False,
        "m.in_reply_to": {"event_id": event_id},
    }


def in_thread(root: str) -> Content:
    """A message in a thread that replies to nothing in particular (a scheduled post,
    the prompt under a thread's root): the in-reply-to is only for older clients."""
    return {
        "rel_type": "m.thread",
        "event_id": root,
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": root},
    }


def size(content: Content) -> int:
    """Bytes of the content as the homeserver will count it (UTF-8 JSON)."""
    return len(json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode())


def notices(
    md: str,
    relates_to: Content | None = None,
    limit: int = MAX_CONTENT_BYTES,
    kind: Kind = Kind.ANSWER,
) -> list[Content]:
    """One notice, or several if the text is too big for one event."""
    whole = notice(md, relates_to, kind)
    if size(whole) <= limit:
        return [whole]
    return [notice(part, relates_to, kind) for part in split(md, relates_to, limit, kind)]


def split(md: str, relates_to: Content | None, limit: int, kind: Kind = Kind.ANSWER) -> list[str]:
    """Cut Markdown into parts whose notices fit: at blank lines, then lines, then words.

    A cut can fall inside ``**bold**``, which then shows its asterisks; it cannot make text
    into markup, since every part is rendered (and escaped) on its own.
    """

    def fits(text: str) -> bool:
        return size(notice(text, relates_to, kind)) <= limit

    parts: list[str] = []
    current = ""
    for line in md.split("\n"):
        candidate = line if not current else current + "\n" + line
        if fits(candidate):
            current = candidate
            continue
        if current:
            parts.append(current)
            current = ""
        while not fits(line):
            cut = _longest_fit(line, fits)
            parts.append(line[:cut].rstrip())
            line = line[cut:].lstrip()
        current = line
    if current.strip():
        parts.append(current)
    return [p for p in parts if p.strip()]


def _longest_fit(line: str, fits: Callable[[str], bool]) -> int:
    """The longest prefix of ``line`` that fits, preferably ending at a space."""
    low, high = 1, len(line)
    while low < high:
        mid = (low + high + 1) // 2
        if fits(line[:mid]):
            low = mid
        else:
            high = mid - 1
    space = line.rfind(" ", 0, low)
    cut = space if space > low // 2 else low
    trailing = len(line[:cut]) - len(line[:cut].rstrip("\\"))
    if trailing % 2 == 1:
        cut -= 1  # never separate a backslash from the character it escapes
    return max(cut, 1)


def txn_id(*parts: str) -> str:
    """A transaction id derived from stable inputs, so sending again after a crash or a
    restart posts nothing new (the homeserver answers with the first event's id)."""
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
    return "cmp" + digest[:28]
