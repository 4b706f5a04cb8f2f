"""The platform registry: every surface Companion serves, declared once, in one place.

Each adapter package declares a :class:`Platform` (``companion_adapters.NAME.platform``):
its name (which is ``Place.platform`` and the config table ``[NAME]``), the prefix users type
before a command and how ``help`` shows a command there, how its config table is checked,
and how it starts. Config loading, ``companion run`` and ``help`` read this registry; none
of them lists adapters. The built-in declarations are loaded lazily by their module path,
so nothing here imports discord or nio; a new adapter (or a test's fake one) is added with
:func:`register`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from companion.commands import CommandSpec, Registry

if TYPE_CHECKING:
    from companion.app import App
    from companion.config import Settings

BUILT_IN = (
    "companion_adapters.console.platform:PLATFORM",
    "companion_adapters.matrix.platform:PLATFORM",
    "companion_adapters.discord.platform:PLATFORM",
)

Serve = Callable[["App", "Settings"], Coroutine[Any, Any, None]]
Usage = Callable[[CommandSpec, Registry], str]


@dataclass(frozen=True, slots=True)
class Platform:
    name: str  # Place.platform, and the config table [name] that turns it on
    prefix: str  # what users type before a command: "!" for "!define", "" for none
    # Start the surface and serve until cancelled (or, like the terminal, until its input
    # ends): register its ChatPort with app.ports once connected, detach it when stopping.
    serve: Serve
    settings: tuple[str, ...] = ()  # the keys its config table may have (besides enabled)
    prefix_setting: str | None = None  # a key of the table that changes the prefix
    check: Callable[[Mapping[str, Any]], object] | None = None  # ConfigError on a bad table
    usage: Usage | None = None  # how help shows a command, when not "PREFIX name <arg>"
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


_registered: dict[str, Platform] = {}
_loaded = False


def register(platform: Platform) -> None:
    """Add (or replace) a platform: the one step a new adapter takes."""
    _load_built_in()
    _registered[platform.name] = platform


def unregister(name: str) -> None:
    _registered.pop(name, None)


def _load_built_in() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for ref in BUILT_IN:
            module_name, _, attribute = ref.partition(":")
            platform = getattr(importlib.import_module(module_name), attribute)
            _registered.setdefault(platform.name, platform)


def all_platforms() -> list[Platform]:
    """Every declared platform, built-in first, then in the order registered."""
    _load_built_in()
    return list(_registered.values())


def get(name: str) -> Platform | None:
    return next((p for p in all_platforms() if p.name == name), None)


def names() -> list[str]:
    return [p.name for p in all_platforms()]
