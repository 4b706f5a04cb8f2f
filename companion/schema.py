"""A small declarative schema for the TOML content files, with errors that point at lines.

Each problem names the file, the entry (by id, or its position), the field and the line a
person must fix, e.g. ``glossary.toml:42: term "allyship", field "related": ...``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$")
QUOTE_MARKS = ('"', "\u201c", "\u201d")


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int | None
    entry: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field_part = f'field "{self.field}"' if self.field else None
        what = " ".join(part for part in (self.entry, field_part) if part)
        return f"{where}: {what}: {self.message}" if what else f"{where}: {self.message}"


class ContentError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} problem(s) in the content files:\n{lines}{more}")


Check = Callable[[Any], str | None]


class Field(NamedTuple):
    name: str
    kind: type | tuple[type, ...]
    required: bool = False
    max_len: int | None = None
    choices: tuple[str, ...] = ()
    check: Check | None = None
    item_kind: type | None = None  # for lists


def slug(value: Any) -> str | None:
    if not SLUG.match(value) or len(value) > 40:
        return "must be a slug: lowercase letters, digits and single hyphens, at most 40"
    return None


def url(value: Any) -> str | None:
    return None if URL.match(value) else "must be a link starting with http:// or https://"


def positive(value: Any) -> str | None:
    return None if value >= 1 else "must be 1 or more"


def question(value: Any) -> str | None:
    return None if value.rstrip().endswith("?") else "a question must end with '?'"


@dataclass(slots=True)
class Entries:
    """The entries of one array of tables, with their line numbers."""

    file: str
    table: str
    items: list[dict[str, Any]]
    text_lines: list[str]
    starts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        header = re.compile(rf"^\s*\[\[\s*{re.escape(self.table)}\s*\]\]")
        self.starts = [i + 1 for i, line in enumerate(self.text_lines) if header.match(line)]

    def label(self, index: int) -> str:
        item = self.items[index]
        ident = item.get("id") if isinstance(item, Mapping) else None
        ident = ident if isinstance(ident, str) else None
        return f'{self.table} "{ident}"' if ident else f"{self.table} #{index + 1}"

    def line_of(self, index: int, name: str | None = None) -> int | None:
        if index >= len(self.starts):
            return None
        start = self.starts[index]
        end = self.starts[index + 1] if index + 1 < len(self.starts) else len(self.text_lines) + 1
        if name:
            pattern = re.compile(rf"^\s*(\[+\s*{re.escape(self.table)}\.)?{re.escape(name)}\b")
            for number in range(start, end):
                if pattern.match(self.text_lines[number - 1]):
                    return number
        return start

    def problem(self, index: int, name: str | None, message: str) -> Problem:
        return Problem(self.file, self.line_of(index, name), self.label(index), name, message)


def validate_entries(entries: Entries, fields: tuple[Field, ...]) -> list[Problem]:
    """Types, required fields, lengths, choices, unknown fields and unique ids."""
    problems: list[Problem] = []
    known = {f.name for f in fields}
    seen: dict[str, int] = {}
    for index, item in enumerate(entries.items):
        if not isinstance(item, Mapping):
            problems.append(entries.problem(index, None, "must be a table"))
            continue
        for name in item:
            if name not in known:
                hint = ", ".join(sorted(known))
                problems.append(entries.problem(index, name, f"unknown field (known: {hint})"))
        for spec in fields:
            problems.extend(_check_field(entries, index, item, spec))
        ident = item.get("id")
        if isinstance(ident, str):
            if ident in seen:
                first = entries.line_of(seen[ident])
                problems.append(
                    entries.problem(index, "id", f"duplicate id (first at line {first})")
                )
            else:
                seen[ident] = index
    return problems


def _check_field(
    entries: Entries, index: int, item: Mapping[str, Any], spec: Field
) -> list[Problem]:
    if spec.name not in item:
        return [entries.problem(index, spec.name, "is required")] if spec.required else []
    value = item[spec.name]
    expected = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    if isinstance(value, bool) and bool not in expected or not isinstance(value, expected):
        names = " or ".join(_type_name(t) for t in expected)
        return [entries.problem(index, spec.name, f"must be {names}")]
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and spec.item_kind is not None:
        for v in value:
            if not isinstance(v, spec.item_kind) or isinstance(v, bool):
                want = _type_name(spec.item_kind)
                return [entries.problem(index, spec.name, f"every item must be {want}")]
    problems = []
    for v in values:
        if isinstance(v, str):
            if not v.strip():
                problems.append(entries.problem(index, spec.name, "must not be empty"))
                continue
            if spec.max_len is not None and len(v) > spec.max_len:
                msg = f"is too long ({len(v)} characters; at most {spec.max_len})"
                problems.append(entries.problem(index, spec.name, msg))
        if spec.choices and v not in spec.choices:
            msg = f"must be one of: {', '.join(spec.choices)}"
            problems.append(entries.problem(index, spec.name, msg))
        elif spec.check is not None and not isinstance(v, Mapping):
            error = spec.check(v)
            if error:
                problems.append(entries.problem(index, spec.name, f"{v!r} {error}"))
    return problems


def _type_name(kind: type) -> str:
    names = {
        str: "text",
        int: "a whole number",
        list: "a list",
        dict: "a table",
        bool: "true or false",
    }
    return names.get(kind, kind.__name__)


def has_quotation(text: str) -> bool:
    return any(mark in text for mark in QUOTE_MARKS)


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()
