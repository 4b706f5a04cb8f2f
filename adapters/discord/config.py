"""The ``[discord]`` section of the config file, checked at start (see config.example.toml).

The bot token is never in the file: it comes from ``COMPANION_DISCORD_TOKEN`` (or a file named
by ``COMPANION_DISCORD_TOKEN_FILE``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from companion.config import ConfigError, Settings, check_section, secret

TOKEN_VARIABLE = "COMPANION_DISCORD_TOKEN"


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    test_guild_id: int | None = None  # sync commands to this guild only (instant, for testing)
    moderator_role_ids: frozenset[int] = frozenset()
    api_base: str | None = None  # e.g. http://127.0.0.1:8080/api/v10 for a compatible server
    gateway_url: str | None = None  # e.g. ws://127.0.0.1:8080/gateway/

    @classmethod
    def from_settings(cls, settings: Settings) -> DiscordConfig:
        return cls.from_section(settings.section("discord"))

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> DiscordConfig:
        """Check the raw ``[discord]`` table; every problem is a ConfigError naming the key."""
        check_section("discord", dict(section))
        guild = section.get("test_guild_id")
        roles = section.get("moderator_role_ids", [])
        if not isinstance(roles, list):
            raise ConfigError("[discord] moderator_role_ids must be a list of role ids.")
        return cls(
            test_guild_id=None if guild is None else _snowflake("test_guild_id", guild),
            moderator_role_ids=frozenset(_snowflake("moderator_role_ids", r) for r in roles),
            api_base=_url("api_base", section.get("api_base"), ("http://", "https://")),
            gateway_url=_url("gateway_url", section.get("gateway_url"), ("ws://", "wss://")),
        )


def token() -> str:
    """The bot token from the environment; a ConfigError naming the variable if it is unset."""
    value = secret(TOKEN_VARIABLE)
    if not value:
        raise ConfigError(
            f"{TOKEN_VARIABLE} is not set: put the bot token from the Discord developer portal "
            f"(Bot > Token) in that environment variable, or in a file named by "
            f"{TOKEN_VARIABLE}_FILE."
        )
    return value


def _snowflake(key: str, value: object) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) <= 0:
        raise ConfigError(
            f"[discord] {key}: {value!r} is not a Discord id (a number; copy it with "
            "Developer Mode on, right-click > Copy ID)."
        )
    return int(text)


def _url(key: str, value: object, schemes: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(schemes):
        raise ConfigError(f"[discord] {key} must be a URL starting with {' or '.join(schemes)}.")
    return value.rstrip("/") if key == "api_base" else value
