"""`companion doctor --config FILE`: what will go wrong before going live, as a checklist.

The core owns the model (:class:`Check`), the local checks (config, content, database, key
file) and the printing; each platform contributes its own checks (``Platform.doctor`` in
companion.platforms, which may use the platform's library), run only when the config
enables that platform. Nothing here changes anything: the database is
opened read only and never migrated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from companion import content as content_module
from companion import doctor_store as store_checks
from companion import platforms
from companion.checklist import EXAMPLE, Check, failed, passed
from companion.config import (
    ConfigError,
    Settings,
    read_config,
    schema,
    settings_from,
    unknown_settings,
)
from companion.content import Content
from companion.health import MetricsConfig
from companion.platforms import DoctorContext
from companion.schema import ContentError

__all__ = ["Check", "diagnose", "exit_code", "render"]


async def diagnose(path: Path) -> list[Check]:
    """Every check for the config file at ``path``, in the order they are printed."""
    try:
        data = read_config(path)
    except ConfigError as error:
        return [failed("config", str(error), f"correct {path} (see {EXAMPLE})")]
    checks = [passed("config", f"{path} parses")]
    tables = platforms.all_platforms()
    unknown = unknown_settings(data, tables)
    checks += [failed("setting", u.message, f"{u.fix} in {path}") for u in unknown]
    if not unknown:
        checks.append(passed("settings", "every setting is a known one"))
    try:
        # The unknown ones are reported above; the rest is checked as if they were not there.
        settings = settings_from(_known_only(data, tables), path, tables)
        MetricsConfig.from_settings(settings)  # checked when `companion run` starts it
    except ConfigError as error:
        return [*checks, failed("settings", str(error), f"correct it in {path}")]
    content, check = _content(settings)
    checks.append(check)
    found = await store_checks.database(settings)
    checks += found.checks
    checks.append(store_checks.key_file(settings, found.in_use))
    store = found.store
    registry = None
    app = None
    try:
        checked = [p for p in tables if p.name in settings.adapters and p.doctor is not None]
        if content is not None and checked:
            from companion.app import build

            app = await build(Settings(db_path=Path(":memory:")), content=content)
            registry = app.registry
        context = DoctorContext(settings, store, registry)
        for platform in checked:
            assert platform.doctor is not None
            checks += await platform.doctor(context)
    finally:
        if app is not None:
            await app.close()
        if store is not None:
            await store.close()
    return checks


def _known_only(data: dict[str, Any], tables: list[platforms.Platform]) -> dict[str, Any]:
    known = schema(tables)
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
