"""The model of `companion doctor`'s checklist: one line per check, a fix with each failure."""

from __future__ import annotations

from dataclasses import dataclass

EXAMPLE = "config.example.toml"
CORRECT_SETTING = f"correct it in the config file ({EXAMPLE} explains every setting)"


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the checklist; a failing one says what to change (``fix``)."""

    name: str
    ok: bool
    detail: str = ""
    fix: str = ""


def passed(name: str, detail: str = "") -> Check:
    return Check(name, True, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, False, detail, fix)
