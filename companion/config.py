"""Settings from a TOML file; secrets only from environment variables (never the file).

The bottom layer: this module imports nothing of Companion. Each platform's own table is
declared with its platform (companion.platforms); wherever a config file is validated, the
caller passes those declarations in (:class:`Table`), so this module never imports the
registry.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from platformdirs import user_data_dir


class ConfigError(Exception):
    """The configuration is unusable; the message says what to change."""


# The core's sections of the config file and their settings; each platform's own table is
# declared with the platform (companion.platforms: Platform.settings). schema(tables) is
# both: the one declaration of what is known (config.example.toml documents each; the
# adapters validate the values of theirs).
SCHEMA: dict[str, tuple[str, ...]] = {
    "storage": ("path", "url", "key_path"),
    "content": ("dir",),
    "community": (
        "default_timezone",
        "suggestions_per_day",
        "commands_per_window",
        "window_seconds",
    ),
    "scheduler": ("grace_hours",),
    "metrics": ("enabled", "bind", "port", "stale_after_seconds", "header_timeout"),
    "web": (
        "enabled",
        "bind",
        "port",
        "public_url",
        "session_hours",
        "unchecked_minutes",
        "header_timeout",
        "body_timeout",
    ),
}


class Table(Protocol):
    """A platform's table of the config file, as the registry declares it
    (companion.platforms.Platform is one)."""

    @property
    def name(self) -> str: ...

    @property
    def known_settings(self) -> tuple[str, ...]: ...

    @property
    def check(self) -> Callable[[Mapping[str, Any]], object] | None: ...


def schema(tables: Sequence[Table]) -> dict[str, tuple[str, ...]]:
    """Every known section and its settings: the core's, then each platform's table."""
    return {**SCHEMA, **{t.name: t.known_settings for t in tables}}


SECRET_KEYS = ("token", "access_token", "password")


def default_db_path() -> Path:
    return Path(user_data_dir("companion", appauthor=False)) / "companion.db"


@dataclass(frozen=True, slots=True)
class Settings:
    db_path: Path = field(default_factory=default_db_path)
    content_dir: Path | None = None
    default_timezone: str = "UTC"
    grace_hours: float = 6.0
    suggestions_per_day: int = 5
    commands_per_window: int = 10  # per member and community (0: no flood limit)
    window_seconds: float = 30.0
    key_path: Path | None = None  # the anonymity key; default: beside the database
    adapters: tuple[str, ...] = ("console",)
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    database_url: str | None = None  # [storage] url = "postgresql://..."; None: db_path

    @property
    def store_target(self) -> str | Path:
        """What Store.open gets: the PostgreSQL url, or the SQLite file."""
        return self.database_url or self.db_path

    def section(self, name: str) -> dict[str, Any]:
        return self.sections.get(name, {})

    @property
    def key_file(self) -> Path | None:
        """Where the key for anonymous questions lives (None: in memory, for :memory: dbs)."""
        if self.key_path is not None:
            return self.key_path
        if str(self.db_path) == ":memory:":
            return None
        return self.db_path.with_name(self.db_path.stem + ".key")


def load_settings(path: Path, tables: Sequence[Table]) -> Settings:
    """The settings of a config file; a ConfigError for a setting it does not know.
    ``tables``: the platforms' tables (``companion.platforms.all_platforms()``)."""
    data = read_config(path)
    unknown = unknown_settings(data, tables)
    if unknown:
        raise ConfigError(f"{path}: " + " ".join(problem.message for problem in unknown))
    return settings_from(data, path, tables)


def read_config(path: Path) -> dict[str, Any]:
    """The parsed TOML of a config file; secrets in it are refused."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"No config file at {path}.") from None
    except OSError as error:  # a directory, a file this user may not read
        raise ConfigError(f"Cannot read the config file {path}: {error.strerror}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a config file (not UTF-8 text).") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    for secret_key in SECRET_KEYS:
        for name, section in data.items():
            if isinstance(section, dict) and secret_key in section:
                raise ConfigError(
                    f"[{name}] {secret_key} must not be in the config file; "
                    "set it in the environment instead (see config.example.toml)."
                )
    return data


class UnknownSetting(NamedTuple):
    """A section or setting the schema does not know: what it is and what to do instead."""

    message: str  # "[matrix] has no setting 'homesever' (did you mean homeserver?)."
    fix: str  # "rename it to homeserver"


def unknown_settings(data: dict[str, Any], tables: Sequence[Table]) -> list[UnknownSetting]:
    """Each section or setting of parsed config the schema does not know, with the closest."""
    problems = []
    known_sections = schema(tables)
    for name, value in data.items():
        if not isinstance(value, dict):
            owners = [s for s, keys in known_sections.items() if name in keys]
            if owners:
                hint, fix = f"it belongs under [{owners[0]}]", f"move it under [{owners[0]}]"
            else:
                hint, fix = _closest(name, list(known_sections), section=True)
            problems.append(UnknownSetting(f"{name} is not a section ({hint}).", fix))
        elif name not in known_sections:
            hint, fix = _closest(name, list(known_sections), section=True)
            problems.append(UnknownSetting(f"[{name}] is not a section ({hint}).", fix))
        else:
            problems.extend(unknown_keys(name, value, known_sections))
    return problems


def unknown_keys(
    section_name: str, section: Mapping[str, Any], known_sections: Mapping[str, tuple[str, ...]]
) -> list[UnknownSetting]:
    """Each key of ``[section_name]`` the schema (``known_sections``) does not know."""
    known = known_sections[section_name]
    problems = []
    for key in section:
        if key in known:
            continue
        elsewhere = [s for s, keys in known_sections.items() if key in keys and s != section_name]
        if elsewhere:
            hint, fix = f"it belongs under [{elsewhere[0]}]", f"move it under [{elsewhere[0]}]"
        else:
            hint, fix = _closest(key, known)
        message = f"[{section_name}] has no setting {key!r} ({hint})."
        problems.append(UnknownSetting(message, fix))
    return problems


def check_section(section_name: str, section: Mapping[str, Any], known: Sequence[str]) -> None:
    """Refuse a section with a key not in ``known`` (for adapters' own checks)."""
    problems = unknown_keys(section_name, section, {section_name: tuple(known)})
    if problems:
        raise ConfigError(" ".join(p.message for p in problems))


def _closest(word: str, choices: Sequence[str], *, section: bool = False) -> tuple[str, str]:
    """(hint, fix): the closest known name, else the list of them."""
    from rapidfuzz import fuzz, process  # loaded on first fuzzy match: 3 MB RSS (issue 24)

    def shown(name: str) -> str:
        return f"[{name}]" if section else name

    found = process.extractOne(word, choices, scorer=fuzz.ratio, score_cutoff=60)
    if found is not None:
        return f"did you mean {shown(found[0])}?", f"rename it to {shown(found[0])}"
    return "known: " + ", ".join(shown(c) for c in choices), "remove it, or rename it to one known"


def settings_from(data: dict[str, Any], path: Path, tables: Sequence[Table]) -> Settings:
    """Settings from parsed config (paths relative to the file at ``path``); ``tables``
    are the platforms' (each checks its own table when it is turned on)."""
    base = path.resolve().parent
    storage = _table(data, "storage")
    community = _table(data, "community")
    scheduler = _table(data, "scheduler")
    content = _table(data, "content")
    known = list(tables)
    adapters = tuple(
        p.name for p in known if p.name in data and _table(data, p.name).get("enabled", True)
    )
    if not adapters:
        shown = ", ".join(f"[{p.name}]" for p in known)
        raise ConfigError(f"{path} names no adapter: add one of these tables: {shown}.")
    for platform in known:
        if platform.name in adapters and platform.check is not None:
            platform.check(_table(data, platform.name))
    for name, section in data.items():
        if isinstance(section, dict) and not isinstance(section.get("enabled", True), bool):
            raise ConfigError(f"[{name}] enabled must be true or false.")
    db = storage.get("path", str(default_db_path()))
    if not isinstance(db, str) or not db.strip() or "\0" in db:
        raise ConfigError('[storage] path must name the database file, e.g. "companion.db".')
    url = storage.get("url")
    database_url: str | None = None
    if url is not None:
        if not isinstance(url, str):
            raise ConfigError('[storage] url must be a string like "postgresql://user@host/db".')
        if url.startswith("sqlite:///"):
            db = url.removeprefix("sqlite://")
        elif url.startswith(("postgresql://", "postgres://")):
            if re.match(r"^[a-z]+://[^/@]*:[^/@]*@", url) or re.search(
                r"[?&]password=", url, re.IGNORECASE
            ):
                raise ConfigError(
                    "[storage] url must not carry a password; set COMPANION_DATABASE_PASSWORD "
                    "(or COMPANION_DATABASE_PASSWORD_FILE) instead."
                )
            database_url = url
        else:
            raise ConfigError(
                '[storage] url must start with "postgresql://" or "sqlite:///" '
                "(a SQLite file can also be given as [storage] path)."
            )
    content_dir = content.get("dir")
    grace = scheduler.get("grace_hours", 6)
    per_day = community.get("suggestions_per_day", 5)
    if not isinstance(per_day, int) or isinstance(per_day, bool) or per_day < 0:
        raise ConfigError("[community] suggestions_per_day must be a whole number, 0 or more.")
    per_window = community.get("commands_per_window", 10)
    if not isinstance(per_window, int) or isinstance(per_window, bool) or per_window < 0:
        raise ConfigError("[community] commands_per_window must be a whole number, 0 or more.")
    window = community.get("window_seconds", 30)
    if not amount(window, at_most=86400) or window <= 0:
        raise ConfigError(
            "[community] window_seconds must be a number of seconds above 0, at most 86400."
        )
    zone = community.get("default_timezone", "UTC")
    if not _zone_exists(zone):
        raise ConfigError(
            f"[community] default_timezone must be a time zone name such as "
            f"Europe/Berlin, not {zone!r}."
        )
    key_path = storage.get("key_path")
    if key_path is not None and (not isinstance(key_path, str) or not key_path.strip()):
        raise ConfigError('[storage] key_path must name the key file, e.g. "companion.key".')
    if not amount(grace, at_most=24 * 366) or grace < 0:
        raise ConfigError("[scheduler] grace_hours must be a number of hours, 0 to 8784.")
    db_path = _resolve(base, db)
    if db != ":memory:" and (not db_path.name or db_path.is_dir()):
        raise ConfigError(f"[storage] path must name a file, not the directory {db_path}.")
    if "web" in data:
        WebSettings.from_table(_table(data, "web"))  # a mistake there stops the start too
    return Settings(
        db_path=db_path,
        content_dir=_resolve(base, str(content_dir)) if content_dir else None,
        default_timezone=zone,
        grace_hours=float(grace),
        suggestions_per_day=per_day,
        commands_per_window=per_window,
        window_seconds=float(window),
        key_path=_resolve(base, str(key_path)) if key_path else None,
        adapters=adapters,
        sections={k: v for k, v in data.items() if isinstance(v, dict)},
        database_url=database_url,
    )


def amount(value: object, *, at_most: float) -> bool:
    """A number from the config file (not a boolean, not nan or inf) no larger than
    ``at_most``: a duration far past that overflows the datetime arithmetic it feeds."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value <= at_most
    )


def listen_address(table: str, value: object) -> str:
    """``value`` if it is an IP address a server of ``[table]`` can listen on; else a
    ConfigError. A name (``999.1.1.1``, ``localhost:80``) is refused here, in what both
    `companion run` and `companion doctor` read, not only when the server fails to start."""
    import ipaddress  # only for a config with a [web] or [metrics] table

    try:
        ipaddress.ip_address(value if isinstance(value, str) else "")  # 5 is not 0.0.0.5
    except ValueError:
        raise ConfigError(
            f"[{table}] bind must be an IP address such as 127.0.0.1, not {value!r}."
        ) from None
    return str(value)


def _zone_exists(name: object) -> bool:
    if not isinstance(name, str) or not name.strip() or "\0" in name:
        return False
    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        # The bot forgives case ("europe/berlin"), as the `timezone` command does.
        from zoneinfo import available_timezones

        return name.strip().lower() in {zone.lower() for zone in available_timezones()}
    return True


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table.")
    return value


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() or value == ":memory:" else base / path


def secret(name: str) -> str | None:
    """A secret from the environment, or from the file named by NAME_FILE (outside the repo)."""
    value = os.environ.get(name)
    if value:
        return value.strip()
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip() or None
        except OSError as error:
            raise ConfigError(
                f"{name}_FILE points at {file_name}, which I cannot read: {error}"
            ) from None
    return None


# --- the [web] table: whether the dashboard runs, where, and for how long -------------------
# Here, not in companion.web, so the `dashboard` chat command reads it without the web server.

LINK_LIFETIME = timedelta(minutes=10)


class WebSettings(NamedTuple):
    enabled: bool = False
    bind: str = "127.0.0.1"  # a reverse proxy in front gives the public address
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    session_hours: float = 8.0  # where the platform is asked about moderators on each request
    unchecked_minutes: float = 15.0  # where it cannot be asked: a short session instead
    header_timeout: float = 10.0  # seconds to send a request's head, or the connection closes
    body_timeout: float = 30.0  # seconds to send a form's body (at most 1 MiB)

    @property
    def secure(self) -> bool:
        """Cookies carry Secure when the dashboard is reached over https."""
        return self.public_url.startswith("https://")

    def link(self, token: str) -> str:
        return f"{self.public_url.rstrip('/')}/login?token={token}"

    @classmethod
    def from_settings(cls, settings: Settings) -> WebSettings:
        return cls.from_table(settings.section("web"))

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> WebSettings:
        enabled = table.get("enabled", bool(table))
        bind = table.get("bind", "127.0.0.1")
        port = table.get("port", 8080)
        if not isinstance(enabled, bool):
            raise ConfigError("[web] enabled must be true or false.")
        bind = listen_address("web", bind)
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigError("[web] port must be a port number, 0 to 65535.")
        public_url = table.get("public_url", f"http://{bind}:{port}")
        parts = urlsplit(str(public_url))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError("[web] public_url must be an http:// or https:// address.")
        hours = table.get("session_hours", 8)
        minutes = table.get("unchecked_minutes", 15)
        header_timeout = table.get("header_timeout", 10)
        body_timeout = table.get("body_timeout", 30)
        for name, value, at_most in (
            ("session_hours", hours, 24 * 366),
            ("unchecked_minutes", minutes, 60 * 24 * 366),
            ("header_timeout", header_timeout, 3600),
            ("body_timeout", body_timeout, 3600),
        ):
            if not amount(value, at_most=at_most) or value <= 0:
                raise ConfigError(f"[web] {name} must be a number above 0, at most {at_most}.")
        return cls(
            enabled=enabled,
            bind=bind,
            port=port,
            public_url=str(public_url),
            session_hours=float(hours),
            unchecked_minutes=float(minutes),
            header_timeout=float(header_timeout),
            body_timeout=float(body_timeout),
        )
