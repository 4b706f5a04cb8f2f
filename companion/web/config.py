"""The `[web]` table of the config file: whether the dashboard runs, where, and for how long.

Kept free of aiohttp so the `dashboard` chat command can read it without the web server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from companion.config import ConfigError, Settings

LINK_LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class WebSettings:
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
        if not isinstance(bind, str) or not bind:
            raise ConfigError("[web] bind must be an address, e.g. 127.0.0.1.")
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
        for name, value in (
            ("session_hours", hours),
            ("unchecked_minutes", minutes),
            ("header_timeout", header_timeout),
            ("body_timeout", body_timeout),
        ):
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"[web] {name} must be a number above 0.")
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
