"""Text commands ("!define allyship", "/prompt add ...") to a spec and raw arguments.

Used by the Matrix and console adapters; Discord hands over typed options instead.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from companion.commands import CommandSpec, Registry, UsageError, UserError

MAX_LINE = 8000
_QUOTES = {'"': '"', "\u201c": "\u201d", "'": "'", "\u2018": "\u2019"}
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'"})


@dataclass(frozen=True, slots=True)
class Parsed:
    spec: CommandSpec
    args: dict[str, str]


def clean(text: str) -> str:
    """Drop control and format characters (keeping newlines and tabs as spaces)."""
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in "\n\t":
            out.append(ch)
        elif category in ("Cc", "Cs", "Co", "Cn") or (category == "Cf" and ch != "\u200d"):
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def parse(line: str, registry: Registry) -> Parsed:
    """Parse a command line (prefix already removed). Raises UserError with a helpful message."""
    if len(line) > MAX_LINE:
        raise UserError(
            f"That message is too long for a command ({len(line):,} characters; "
            f"at most {MAX_LINE:,})."
        )
    text = clean(line).strip()
    if not text:
        raise UserError("Type a command, for example `help` or `define allyship`.")
    spec, pos = _find_command(text, registry)
    return Parsed(spec, _split_args(spec, text, pos))


def _find_command(text: str, registry: Registry) -> tuple[CommandSpec, int]:
    words = list(re.finditer(r"\S+", text))
    first = words[0].group().lower().translate(_APOSTROPHES)
    if len(words) > 1:
        two = f"{first} {words[1].group().lower().translate(_APOSTROPHES)}"
        spec = registry.get(two)
        if spec is not None:
            return spec, words[1].end()
    spec = registry.get(first)
    if spec is not None:
        return spec, words[0].end()
    subcommands = registry.subcommands(first)
    if subcommands:
        names = ", ".join(f"`{s.name}`" for s in subcommands)
        if len(words) > 1:
            raise UserError(f"`{first}` has no `{words[1].group()[:40]}`. Try one of: {names}.")
        raise UserError(f"`{first}` needs more: try one of {names}.")
    raise UserError(unknown_command_message(first, registry))


def unknown_command_message(word: str, registry: Registry) -> str:
    word = word[:40]
    firsts = sorted({name.split()[0] for name in registry.names()})
    close = process.extract(word, firsts, scorer=fuzz.ratio, limit=3, score_cutoff=60)
    shown = word.replace("`", "'")
    if close:
        options = ", ".join(f"`{name}`" for name, _, _ in close)
        return f"I don't know `{shown}`. Did you mean {options}? `help` lists everything."
    return f"I don't know `{shown}`. `help` lists what I can do."


def _split_args(spec: CommandSpec, text: str, pos: int) -> dict[str, str]:
    args: dict[str, str] = {}
    for param in spec.params:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        if param.rest:
            args[param.name] = _unquote_whole(text[pos:].strip())
            pos = len(text)
            break
        token, pos = _next_token(spec, text, pos)
        args[param.name] = token
    if text[pos:].strip():
        extra = text[pos:].strip().split()[0][:40]
        raise UsageError(spec, f"unexpected extra words starting at {extra!r}")
    return args


def _next_token(spec: CommandSpec, text: str, pos: int) -> tuple[str, int]:
    opener = text[pos]
    if opener in _QUOTES:
        closer = _QUOTES[opener]
        end = text.find(closer, pos + 1)
        if end == -1:
            raise UsageError(spec, f"a quote ({opener}) is not closed")
        return text[pos + 1 : end], end + 1
    end = pos
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[pos:end], end


def _unquote_whole(text: str) -> str:
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] == _QUOTES[text[0]]:
        inner = text[1:-1]
        if text[0] not in inner:
            return inner.strip()
    return text
