"""The platform registry: every surface Companion serves, each declared once, in one place.

Each platform declares a :class:`Platform`: its name (which is ``Place.platform`` and the
config table ``[NAME]``), the prefix users type before a command and how ``help`` shows a
command there, its config table and how it is checked, how it is served (against the
:class:`~companion.gateway.Gateway`), its ``doctor`` checks, its lag gauge in /metrics, and
whether /healthz waits for it. Config loading, ``companion run``, ``doctor``, ``help``,
the metrics and the health endpoint read this registry; none of them lists adapters.

Built-in and third-party platforms are found the same way: through the entry-point group
``companion.platforms`` (pyproject.toml declares the built-in ones), so a package such as
``companion-telegram`` adds a platform without editing Companion. An entry point names a
module's ``Platform``; the module must import no platform library (the adapter imports it
when served). Tests may add one with :func:`register`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from companion.checklist import Check
from companion.commands import CommandSpec, Registry
from companion.config import Settings
from companion.config import load_settings as _load_settings
from companion.gateway import Gateway

if TYPE_CHECKING:
    from companion.store import Store

log = logging.getLogger(__name__)

GROUP = "companion.platforms"

Serve = Callable[[Gateway, Settings], Coroutine[Any, Any, None]]
Usage = Callable[[CommandSpec, Registry], str]


@dataclass(slots=True)
class DoctorContext:
    """What a platform's doctor checks may use."""

    settings: Settings
    store: Store | None  # read only; None when the database is missing, unreadable or behind
    registry: Registry | None  # the commands the bot serves; None when the content is invalid


Doctor = Callable[[DoctorContext], Awaitable[list[Check]]]


class LagGauge(NamedTuple):
    """A platform's own latency figure in /metrics (set by ``heartbeat(platform, lag)``)."""

    metric: str  # companion_<platform>_..._seconds
    description: str


class Platform(NamedTuple):
    name: str  # Place.platform, and the config table [name] that turns it on
    prefix: str  # what users type before a command: "!" for "!define", "" for none
    # Start the surface and serve until cancelled (or, like the terminal, until its input
    # ends): attach its port through the gateway once connected, detach it when stopping.
    serve: Serve
    settings: tuple[str, ...] = ()  # the keys its config table may have (besides enabled)
    prefix_setting: str | None = None  # a key of the table that changes the prefix
    check: Callable[[Mapping[str, Any]], object] | None = None  # ConfigError on a bad table
    usage: Usage | None = None  # how help shows a command, when not "PREFIX name <arg>"
    doctor: Doctor | None = None  # `companion doctor`'s checks when the platform is on
    lag: LagGauge | None = None  # its latency gauge in /metrics
    monitored: bool = True  # /healthz waits for it to be connected and heard from
    description: str = ""

    @property
    def known_settings(self) -> tuple[str, ...]:
        """Every key its config table may have."""
        extra = (self.prefix_setting,) if self.prefix_setting not in (None, *self.settings) else ()
        return ("enabled", *self.settings, *(k for k in extra if k is not None))

    def prefix_in(self, section: Mapping[str, Any]) -> str:
        if self.prefix_setting is not None:
            value = section.get(self.prefix_setting, self.prefix)
            return value if isinstance(value, str) else self.prefix
        return self.prefix


BUILT_IN = ("console", "matrix", "discord")  # listed first, in this order
_registered: dict[str, Platform] = {}
_loaded = False


def register(platform: Platform) -> None:
    """Add (or replace) a platform without an entry point (tests)."""
    _load()
    _registered[platform.name] = platform


def unregister(name: str) -> None:
    _registered.pop(name, None)


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    found = sorted(
        entry_points(group=GROUP),
        key=lambda e: (BUILT_IN.index(e.name) if e.name in BUILT_IN else len(BUILT_IN), e.name),
    )
    for entry in found:
        try:
            platform = entry.load()
        except Exception:
            log.exception("the platform %r (%s) could not be loaded", entry.name, entry.value)
            continue
        if not isinstance(platform, Platform) or platform.name != entry.name:
            log.error("the entry point %r (%s) is not its Platform", entry.name, entry.value)
            continue
        _registered.setdefault(platform.name, platform)


def all_platforms() -> list[Platform]:
    """Every declared platform, built-in first, then the others by name, then registered."""
    _load()
    return list(_registered.values())


def get(name: str) -> Platform | None:
    return next((p for p in all_platforms() if p.name == name), None)


def names() -> list[str]:
    return [p.name for p in all_platforms()]


def load_settings(path: Path, platforms: Sequence[Platform] | None = None) -> Settings:
    """The settings of a config file, checked against every platform's table."""
    return _load_settings(path, all_platforms() if platforms is None else platforms)
