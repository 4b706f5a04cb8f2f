"""The ``[discord]`` section of the config file, checked at start (see config.example.toml).

The bot token is never in the file: it comes from ``COMPANION_DISCORD_TOKEN`` (or a file named
by ``COMPANION_DISCORD_TOKEN_FILE``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from companion.config import ConfigError, Settings, check_section, secret
from companion.ports import Shards

TOKEN_VARIABLE = "COMPANION_DISCORD_TOKEN"
# The keys of the [discord] table (besides enabled), declared for the platform registry.
SETTINGS = (
    "test_guild_id",
    "moderator_role_ids",
    "api_base",
    "gateway_url",
    "shard_count",
    "shard_ids",
    "forum_tags",
)


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    test_guild_id: int | None = None  # sync commands to this guild only (instant, for testing)
    moderator_role_ids: frozenset[int] = frozenset()
    api_base: str | None = None  # e.g. http://127.0.0.1:8080/api/v10 for a compatible server
    gateway_url: str | None = None  # e.g. ws://127.0.0.1:8080/gateway/
    # Sharding (discord.py's AutoShardedClient): the bot's guilds split into shard_count
    # shards, of which this process runs shard_ids (all of them when not given).
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    # The tag a scheduled forum post gets, by forum channel id (forums may require one).
    forum_tags: Mapping[int, str] = field(default_factory=dict)

    @property
    def serving_shards(self) -> Shards | None:
        """What this process serves of the bot's guilds; None: all of them, unsharded."""
        if self.shard_count is None:
            return None
        ids = self.shard_ids if self.shard_ids is not None else range(self.shard_count)
        return Shards(self.shard_count, frozenset(ids))

    @classmethod
    def from_settings(cls, settings: Settings) -> DiscordConfig:
        return cls.from_section(settings.section("discord"))

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> DiscordConfig:
        """Check the raw ``[discord]`` table; every problem is a ConfigError naming the key."""
        check_section("discord", section, ("enabled", *SETTINGS))
        guild = section.get("test_guild_id")
        roles = section.get("moderator_role_ids", [])
        if not isinstance(roles, list):
            raise ConfigError("[discord] moderator_role_ids must be a list of role ids.")
        shard_count, shard_ids = _shards(section.get("shard_count"), section.get("shard_ids"))
        return cls(
            test_guild_id=None if guild is None else _snowflake("test_guild_id", guild),
            moderator_role_ids=frozenset(_snowflake("moderator_role_ids", r) for r in roles),
            api_base=_url("api_base", section.get("api_base"), ("http://", "https://")),
            gateway_url=_url("gateway_url", section.get("gateway_url"), ("ws://", "wss://")),
            shard_count=shard_count,
            shard_ids=shard_ids,
            forum_tags=_forum_tags(section.get("forum_tags", {})),
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
    if isinstance(value, bool) or not text.isdecimal() or not 0 < int(text) < 2**64:
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


def _shards(count: object, ids: object) -> tuple[int | None, tuple[int, ...] | None]:
    """shard_count (a positive whole number) and shard_ids (distinct, each below the count)."""
    if count is None:
        if ids is not None:
            raise ConfigError(
                "[discord] shard_ids needs shard_count: how many shards the bot's guilds are "
                "split into, the same in every process (e.g. shard_count = 2)."
            )
        return None, None
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(
            f"[discord] shard_count must be a whole number of 1 or more, not {count!r}."
        )
    if ids is None:
        return count, None
    if (
        not isinstance(ids, list)
        or not ids
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    ):
        raise ConfigError(
            f"[discord] shard_ids must be a list of shard numbers, e.g. [0, 1], not {ids!r}."
        )
    outside = sorted({i for i in ids if not 0 <= i < count})
    if outside:
        raise ConfigError(
            f"[discord] shard_ids {outside} are outside 0..{count - 1}: shards are numbered "
            f"from 0 to shard_count - 1."
        )
    if len(set(ids)) != len(ids):
        raise ConfigError("[discord] shard_ids lists a shard twice.")
    return count, tuple(sorted(ids))


def _forum_tags(value: object) -> dict[int, str]:
    """forum_tags: a table of forum channel id -> the name of one of its tags."""
    example = '(e.g. forum_tags = { "123456789012345678" = "Discussion" })'
    if not isinstance(value, dict):
        raise ConfigError(
            f"[discord] forum_tags must be a table of channel id = tag name {example}."
        )
    tags: dict[int, str] = {}
    for channel, name in value.items():
        channel_id = _snowflake("forum_tags", channel)
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 20:
            raise ConfigError(
                f"[discord] forum_tags: the tag for channel {channel_id} must be a tag's name, "
                f"1-20 characters as Discord allows, not {name!r} {example}."
            )
        tags[channel_id] = name.strip()
    return tags
