"""Text commands ("!define allyship", "/prompt add ...") to a spec and raw arguments.

Used by the Matrix and console adapters; Discord hands over typed options instead.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from companion.commands import CommandSpec, Registry, UsageError, UserError, clean
from companion.fmt import Md, code, fmt, join

MAX_LINE = 8000
_QUOTES = {'"': '"', "\u201c": "\u201d", "'": "'", "\u2018": "\u2019"}
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'"})


class Parsed(NamedTuple):
    spec: CommandSpec
    args: dict[str, str]


def parse(line: str, registry: Registry) -> Parsed:
    """Parse a command line (prefix already removed). Raises UserError with a helpful message."""
    if len(line) > MAX_LINE:
        raise UserError(
            fmt(
                "That message is too long for a command ({:,} characters; at most {:,}).",
                len(line),
                MAX_LINE,
            )
        )
    text = clean(line).strip()
    if not text:
        raise UserError(fmt("Type a command, for example `help` or `define allyship`."))
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
        names = join(code(s.name) for s in subcommands)
        if len(words) > 1:
            raise UserError(
                fmt(
                    "{} has no {}. Try one of: {}.",
                    code(first),
                    code(words[1].group()[:40]),
                    names,
                )
            )
        raise UserError(fmt("{} needs more: try one of {}.", code(first), names))
    raise UserError(unknown_command_message(first, registry))


def unknown_command_message(word: str, registry: Registry) -> Md:
    from rapidfuzz import fuzz, process  # loaded on first fuzzy match: 3 MB RSS (issue 24)

    word = word[:40]
    firsts = sorted({name.split()[0] for name in registry.names()})
    close = process.extract(word, firsts, scorer=fuzz.ratio, limit=3, score_cutoff=60)
    if close:
        options = join(code(name) for name, _, _ in close)
        return fmt(
            "I don't know {}. Did you mean {}? `help` lists everything.", code(word), options
        )
    return fmt("I don't know {}. `help` lists what I can do.", code(word))


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
        raise UsageError(spec, fmt("unexpected extra words starting at {}", code(extra)))
    return args


def _next_token(spec: CommandSpec, text: str, pos: int) -> tuple[str, int]:
    opener = text[pos]
    if opener in _QUOTES:
        closer = _QUOTES[opener]
        end = text.find(closer, pos + 1)
        if end == -1:
            raise UsageError(spec, fmt("a quote ({}) is not closed", opener))
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
