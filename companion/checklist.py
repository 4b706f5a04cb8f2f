"""The model of `companion doctor`'s checklist: one line per check, a fix with each failure."""

from __future__ import annotations

from typing import NamedTuple

EXAMPLE = "config.example.toml"
CORRECT_SETTING = f"correct it in the config file ({EXAMPLE} explains every setting)"


class Check(NamedTuple):
    """One line of the checklist; a failing one says what to change (``fix``)."""

    name: str
    ok: bool
    detail: str = ""
    fix: str = ""


def passed(name: str, detail: str = "") -> Check:
    return Check(name, True, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, False, detail, fix)
