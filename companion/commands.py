"""Commands are declared once, as data, and every adapter renders them from here.

A handler receives the :class:`~companion.events.Invocation` with arguments already checked
against its :class:`Param` list, and returns a :class:`~companion.events.Reply`. It raises
:class:`UserError` for anything the user can fix; the dispatcher shows that message.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple, Protocol

from companion.events import Invocation, Reply
from companion.fmt import Md, as_md, code, fmt, sentence

Handler = Callable[[Invocation], Awaitable[Reply]]
Completer = Callable[[Invocation, str], Awaitable[Sequence[str]]]

MAX_TEXT_ARG = 2000
SQL_INT = 2**63  # a whole-number argument is bound as a 64-bit SQL integer
# The answer when a command failed on the bot's side (the dispatcher's, and a surface's own).
APOLOGY = "Sorry, something went wrong on my side. It has been logged; please try again later."


class Feature(Protocol):
    """A feature module's object: it declares its commands. One that schedules posts also
    declares their kinds beside them (``post_kinds``: companion.delivery.Posting)."""

    def commands(self) -> list[CommandSpec]: ...


class UserError(Exception):
    """Something the user can fix; its message is shown to them. Build it with
    ``companion.fmt`` (``fmt("No prompt {} here.", code(shown))``): a plain ``str`` is
    escaped, so it is shown exactly as written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.text: Md = as_md(message)


class ParamType(Enum):
    WORD = "word"  # one token
    TEXT = "text"  # free text (with ``rest`` it takes the rest of the line)
    INT = "int"


class Param(NamedTuple):
    name: str
    description: str
    type: ParamType = ParamType.WORD
    required: bool = True
    rest: bool = False
    choices: tuple[str, ...] = ()
    min_value: int | None = None
    max_value: int | None = None
    max_length: int = MAX_TEXT_ARG
    complete: Completer | None = None

    @property
    def usage(self) -> str:
        shown = "|".join(self.choices) if 1 < len(self.choices) <= 4 else self.name
        return f"<{shown}>" if self.required else f"[{shown}]"


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command. ``name`` may have two words ("prompt add"): adapters render it as a group."""

    name: str
    description: str
    handler: Handler
    params: tuple[Param, ...] = ()
    moderator_only: bool = False
    private: bool = False  # answered privately (ephemeral / direct room)
    in_direct: bool = True  # usable outside a community (a DM with the bot)
    aliases: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    slow: bool = False  # may take long enough that adapters should defer first

    def __post_init__(self) -> None:
        seen_optional = False
        for i, param in enumerate(self.params):
            if param.rest and i != len(self.params) - 1:
                raise ValueError(f"{self.name}: only the last param may take the rest")
            if param.required and seen_optional:
                raise ValueError(f"{self.name}: required param {param.name} after optional")
            seen_optional = seen_optional or not param.required

    @property
    def usage(self) -> str:
        return " ".join([self.name, *(p.usage for p in self.params)])

    def bind(self, values: Mapping[str, object]) -> dict[str, object]:
        """Check and convert raw values (strings from text, typed from Discord)."""
        known = {p.name for p in self.params}
        unknown = set(values) - known
        if unknown:
            raise UsageError(self, fmt("unexpected argument {}", code(sorted(unknown)[0])))
        bound: dict[str, object] = {}
        for param in self.params:
            raw = values.get(param.name)
            if isinstance(raw, str):
                # A typed option (Discord, a dashboard form) gets what a text line gets: no
                # control character, no NUL, no lone surrogate (JSON can carry one; no
                # store can keep it, no homeserver can take it back).
                raw = clean(raw)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                if param.required:
                    raise UsageError(self, f"{param.name} is missing")
                continue
            bound[param.name] = _convert(self, param, raw)
        return bound


def clean(text: str) -> str:
    """Drop control and format characters (keeping newlines and tabs as spaces)."""
    if text.isascii() and text.isprintable():
        return text  # nothing to drop: most of what members type (one check, in C)
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


def _convert(spec: CommandSpec, param: Param, raw: object) -> object:
    if param.type is ParamType.INT:
        try:
            value = int(str(raw).strip())
        except ValueError:  # not a number, or one of over 4300 digits (int() will not)
            too_long = str(raw).strip().lstrip("+-").isdecimal()
            problem = "is too large" if too_long else "must be a whole number"
            raise UsageError(spec, f"{param.name} {problem}") from None
        if param.min_value is not None and value < param.min_value:
            raise UsageError(spec, f"{param.name} must be at least {param.min_value}")
        if param.max_value is not None and value > param.max_value:
            raise UsageError(spec, f"{param.name} must be at most {param.max_value}")
        if not -SQL_INT <= value < SQL_INT:  # an id no database row has (nor can bind)
            raise UsageError(spec, f"{param.name} is too large")
        return value
    text = str(raw).strip()
    if len(text) > param.max_length:
        raise UsageError(
            spec,
            f"{param.name} is too long ({len(text):,} characters; at most {param.max_length:,})",
        )
    if param.choices:
        lowered = text.lower()
        if lowered not in param.choices:
            raise UsageError(spec, f"{param.name} must be one of: {', '.join(param.choices)}")
        return lowered
    return text


class UsageError(UserError):
    """A command was called with the wrong arguments; the message carries the usage line."""

    def __init__(self, spec: CommandSpec, problem: str) -> None:
        self.spec = spec
        self.problem = as_md(problem)
        super().__init__(fmt("{}. Usage: {}", sentence(self.problem), code(spec.usage)))


@dataclass(slots=True)
class Registry:
    """All commands by name. Names are lowercase; two-word names form groups."""

    _specs: dict[str, CommandSpec] = field(default_factory=dict)
    _aliases: dict[str, str] = field(default_factory=dict)

    def add(self, spec: CommandSpec) -> None:
        for name in (spec.name, *spec.aliases):
            if name in self._specs or name in self._aliases:
                raise ValueError(f"command {name!r} declared twice")
        if len(spec.name.split()) > 2:
            raise ValueError(f"command {spec.name!r}: at most two words")
        self._specs[spec.name] = spec
        for alias in spec.aliases:
            self._aliases[alias] = spec.name

    def extend(self, specs: Iterable[CommandSpec]) -> None:
        for spec in specs:
            self.add(spec)

    def get(self, name: str) -> CommandSpec | None:
        name = " ".join(name.lower().split())
        return self._specs.get(self._aliases.get(name, name))

    def __iter__(self) -> Iterator[CommandSpec]:
        return iter(sorted(self._specs.values(), key=lambda s: s.name))

    def __len__(self) -> int:
        return len(self._specs)

    def names(self) -> list[str]:
        return sorted([*self._specs, *self._aliases])

    def subcommands(self, group: str) -> list[CommandSpec]:
        return [s for s in self if s.name.startswith(group + " ")]
