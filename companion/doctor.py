"""`companion doctor --config FILE`: what will go wrong before going live, as a checklist.

The core owns the model (:class:`Check`), the local checks (config, content, database, key
file) and the printing; each platform adapter contributes its own checks from its package
(``companion_adapters.<platform>.doctor``, which may use the platform's library), imported
only when the config enables that platform. Nothing here changes anything: the database is
opened read only and never migrated.
"""

from __future__ import annotations

import importlib
import os
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from companion import content as content_module
from companion.commands import Registry
from companion.config import (
    ConfigError,
    Settings,
    read_config,
    schema,
    settings_from,
    unknown_settings,
)
from companion.content import Content
from companion.identity import read_key
from companion.schema import ContentError
from companion.store import Store, maintenance
from companion.store.maintenance import MaintenanceError

EXAMPLE = "config.example.toml"
CORRECT_SETTING = f"correct it in the config file ({EXAMPLE} explains every setting)"
# The module of each platform's checks: `async def checks(context) -> list[Check]`.
PLATFORM_CHECKS = {
    "matrix": "companion_adapters.matrix.doctor",
    "discord": "companion_adapters.discord.doctor",
}


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


@dataclass(slots=True)
class Context:
    """What the platform checks may use."""

    settings: Settings
    store: Store | None  # read only; None when the database is missing, unreadable or behind
    registry: Registry | None  # the commands the bot serves; None when the content is invalid


PlatformChecks = Callable[[Context], Awaitable[list[Check]]]


async def diagnose(path: Path) -> list[Check]:
    """Every check for the config file at ``path``, in the order they are printed."""
    try:
        data = read_config(path)
    except ConfigError as error:
        return [failed("config", str(error), f"correct {path} (see {EXAMPLE})")]
    checks = [passed("config", f"{path} parses")]
    unknown = unknown_settings(data)
    checks += [failed("setting", u.message, f"{u.fix} in {path}") for u in unknown]
    if not unknown:
        checks.append(passed("settings", "every setting is a known one"))
    try:
        # The unknown ones are reported above; the rest is checked as if they were not there.
        settings = settings_from(_known_only(data), path)
    except ConfigError as error:
        return [*checks, failed("settings", str(error), f"correct it in {path}")]
    content, check = _content(settings)
    checks.append(check)
    store, db_checks = await _database(settings)
    checks += db_checks
    checks.append(_key_file(settings))
    registry = None
    app = None
    try:
        if content is not None and any(p in PLATFORM_CHECKS for p in settings.adapters):
            from companion.app import build

            app = await build(Settings(db_path=Path(":memory:")), content=content)
            registry = app.registry
        context = Context(settings, store, registry)
        for platform in settings.adapters:
            module = PLATFORM_CHECKS.get(platform)
            if module is not None:
                platform_checks: PlatformChecks = importlib.import_module(module).checks
                checks += await platform_checks(context)
    finally:
        if app is not None:
            await app.close()
        if store is not None:
            await store.close()
    return checks


def _known_only(data: dict[str, Any]) -> dict[str, Any]:
    known = schema()
    return {
        name: {key: value for key, value in section.items() if key in known[name]}
        for name, section in data.items()
        if name in known and isinstance(section, dict)
    }


def _content(settings: Settings) -> tuple[Content | None, Check]:
    where = settings.content_dir or "the shipped content"
    try:
        loaded = content_module.load(settings.content_dir)
    except ContentError as error:
        return None, failed(
            "content",
            str(error),
            f"correct the files and lines named above; `companion content check {where}` "
            "lists them again",
        )
    return loaded, passed("content", f"{where}: {len(loaded.terms)} terms, valid")


async def _database(settings: Settings) -> tuple[Store | None, list[Check]]:
    path = settings.db_path
    if str(path) == ":memory:":
        return None, [passed("database", "in memory: nothing is kept between runs")]
    if not path.exists():
        parent = _existing_parent(path)
        if not os.access(parent, os.W_OK | os.X_OK):
            return None, [
                failed(
                    "database",
                    f"{path} does not exist and {parent} is not writable, so it cannot be made",
                    "let the user that runs Companion write there, or set [storage] path",
                )
            ]
        return None, [passed("database", f"{path} does not exist yet: made at first start")]
    try:
        found = await maintenance.check(path)
    except MaintenanceError as error:
        return None, [
            failed(
                "database",
                str(error),
                "set [storage] path to Companion's database, or restore it from a backup",
            )
        ]
    checks = []
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        checks.append(
            failed(
                "database",
                f"{path} (or its directory, where SQLite keeps its journal) is read only",
                f"let the user that runs Companion write {path} and {path.parent}",
            )
        )
    if not found.integrity_ok:
        checks.append(
            failed(
                "database integrity",
                f"{path} fails SQLite's integrity check: {'; '.join(found.integrity[:3])}",
                "stop Companion and put back your latest backup of the database",
            )
        )
    version, latest = found.version, found.shipped
    if version < latest:
        fix = (
            "back the file up (`companion db backup`), then start `companion run` once: "
            f"it applies the migrations {version + 1}-{latest} at start"
        )
        detail = f"{path} is at migration {version}; this Companion needs {latest}"
        return None, [*checks, failed("database migration", detail, fix)]
    if version > latest:
        detail = f"{path} is at migration {version}, newer than this Companion ({latest})"
        fix = "install the Companion version that wrote it (or a newer one)"
        return None, [*checks, failed("database migration", detail, fix)]
    checks.append(passed("database", f"{path}: intact, at migration {version}"))
    return await Store.open_readonly(path), checks


def _key_file(settings: Settings) -> Check:
    path = settings.key_file
    if path is None:
        return passed("key file", "in memory, with the database")
    if not path.exists():
        if settings.db_path.exists():
            return failed(
                "key file",
                f"{path} is missing but the database exists: a new key would be made, and "
                "the anonymous-question limits and direct rooms kept under the old one lost",
                f"restore the key file from your backup to {path} (chmod 600), or set "
                "[storage] key_path to where it is",
            )
        return passed("key file", f"{path} does not exist yet: made at first start (mode 600)")
    try:
        read_key(path)
    except (OSError, ValueError) as error:
        return failed(
            "key file",
            f"cannot use {path}: {error}",
            "let the user that runs Companion read it, or restore it from your backup",
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return failed(
            "key file",
            f"{path} is mode {mode:o}: other users on this machine can read it",
            f"chmod 600 {path}",
        )
    return passed("key file", f"{path}: readable, mode {mode:o}")


def _existing_parent(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path("/")


def render(checks: list[Check]) -> str:
    """The checklist as text: one line per check, a failing one followed by its fix."""
    lines = []
    for check in checks:
        mark = "ok  " if check.ok else "FAIL"
        first, *more = check.detail.splitlines() or [""]
        lines.append(f"{mark}  {check.name}" + (f": {first}" if first else ""))
        lines += [f"      {text.strip()}" for text in more]
        if not check.ok:
            lines.append(f"      fix: {check.fix}")
    failures = sum(not c.ok for c in checks)
    if failures:
        lines.append(f"{failures} of {len(checks)} checks failed: fix them, then run doctor again.")
    else:
        lines.append(f"all {len(checks)} checks passed.")
    return "\n".join(lines)


def exit_code(checks: list[Check]) -> int:
    return 0 if all(c.ok for c in checks) else 1
