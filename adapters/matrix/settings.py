"""The ``[matrix]`` table of the config file, checked once at start.

Secrets never come from here (``companion.config`` refuses them in the file): the access
token or password is read from the environment by the adapter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any, NamedTuple

from companion.config import ConfigError, check_section

# The keys of the [matrix] table (besides enabled), declared for the platform registry.
SETTINGS = (
    "homeserver",
    "user_id",
    "command_prefix",
    "moderator_level",
    "allowed_inviters",
    "max_command_age_minutes",
    "device_name",
    "encryption",
    "crypto_store_path",
    "unverified_devices",
    "encrypt_direct_rooms",
)
TOKEN_ENV = "COMPANION_MATRIX_ACCESS_TOKEN"
PASSWORD_ENV = "COMPANION_MATRIX_PASSWORD"

_USER_ID = re.compile(r"^@[^:\s]+:[^\s:]+(:\d{1,5})?$")
UNVERIFIED_POLICIES = ("send", "refuse", "blacklist")


PASSWORD_FLOW = "m.login.password"


def no_password_login(homeserver: str) -> str:
    """Why a password cannot sign the bot in here, and what to set instead."""
    return (
        f"The homeserver at {homeserver} does not offer password login (its /login lists "
        f"no {PASSWORD_FLOW}; it signs people in elsewhere, e.g. with the Matrix "
        f"Authentication Service), so {PASSWORD_ENV} cannot sign the bot in. Set {TOKEN_ENV} "
        "to an access token of the bot's own device instead (the README says how to get one)."
    )


def session_key(user_id: str) -> str:
    """The key-value entry where a password login keeps its device and token."""
    return f"matrix:session:{user_id}"


def parse_session(saved: str | None) -> tuple[str, str]:
    """(device id, access token) of a saved session; empty strings when there is none."""
    try:
        session = json.loads(saved or "")
        return str(session["device_id"]), str(session["access_token"])
    except (ValueError, KeyError, TypeError):
        return "", ""


def server_of(user_id: str) -> str:
    """The server part of a *user* id (room ids have none in room version 12)."""
    return user_id.split(":", 1)[1]


class MatrixConfig(NamedTuple):
    homeserver: str
    user_id: str
    command_prefix: str = "!"
    moderator_level: int = 50
    allowed_inviters: tuple[str, ...] = ()
    max_command_age: timedelta = timedelta(minutes=10)
    device_name: str = "Companion"
    encryption: bool | None = None  # None: on when matrix-nio[e2e] is installed
    crypto_store_path: str | None = None  # None: "matrix-crypto" beside the database
    unverified_devices: str = "send"
    encrypt_direct_rooms: bool = True  # the direct rooms the bot opens, when it encrypts

    def may_invite(self, user_id: str | None) -> bool:
        """Whether an invite from this user is accepted (glob patterns, case-sensitive)."""
        if not user_id:
            return False
        return any(fnmatchcase(user_id, pattern) for pattern in self.allowed_inviters)

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> MatrixConfig:
        """Check the raw ``[matrix]`` table; every problem is a ConfigError naming the key."""
        check_section("matrix", section, ("enabled", *SETTINGS))
        homeserver = section.get("homeserver")
        if not isinstance(homeserver, str) or not homeserver.startswith(("http://", "https://")):
            raise ConfigError(
                '[matrix] homeserver must be the URL of your homeserver, e.g. "https://matrix.org".'
            )
        user_id = section.get("user_id")
        if not isinstance(user_id, str) or not _USER_ID.match(user_id):
            raise ConfigError(
                '[matrix] user_id must be the bot\'s full Matrix id, e.g. "@companion:example.org".'
            )
        prefix = section.get("command_prefix", "!")
        if (
            not isinstance(prefix, str)
            or not 1 <= len(prefix) <= 5
            or any(ch.isspace() or ch == "`" or ch.isalnum() for ch in prefix)
        ):
            raise ConfigError(
                "[matrix] command_prefix must be 1-5 characters, no letters, digits, "
                'spaces or backticks (default "!").'
            )
        level = section.get("moderator_level", 50)
        if isinstance(level, bool) or not isinstance(level, int):
            raise ConfigError("[matrix] moderator_level must be a whole number (default 50).")
        inviters = section.get("allowed_inviters", [f"*:{server_of(user_id)}"])
        if not isinstance(inviters, list) or not all(isinstance(p, str) and p for p in inviters):
            raise ConfigError(
                "[matrix] allowed_inviters must be a list of user id patterns, "
                'e.g. ["*:example.org"].'
            )
        age = section.get("max_command_age_minutes", 10)
        if isinstance(age, bool) or not isinstance(age, int | float) or age < 0:
            raise ConfigError("[matrix] max_command_age_minutes must be a number, 0 or more.")
        device_name = section.get("device_name", "Companion")
        if not isinstance(device_name, str) or not device_name.strip():
            raise ConfigError("[matrix] device_name must be a non-empty string.")
        encryption = section.get("encryption")
        if encryption is not None and not isinstance(encryption, bool):
            raise ConfigError("[matrix] encryption must be true or false.")
        store = section.get("crypto_store_path")
        if store is not None and (not isinstance(store, str) or not store.strip()):
            raise ConfigError("[matrix] crypto_store_path must be a directory path.")
        policy = section.get("unverified_devices", "send")
        if policy not in UNVERIFIED_POLICIES:
            raise ConfigError(
                '[matrix] unverified_devices must be "send", "refuse" or "blacklist" '
                '(default "send").'
            )
        encrypt_direct = section.get("encrypt_direct_rooms", True)
        if not isinstance(encrypt_direct, bool):
            raise ConfigError("[matrix] encrypt_direct_rooms must be true or false.")
        return cls(
            homeserver=homeserver.rstrip("/"),
            user_id=user_id,
            command_prefix=prefix,
            moderator_level=level,
            allowed_inviters=tuple(inviters),
            max_command_age=timedelta(minutes=float(age)),
            device_name=device_name.strip(),
            encryption=encryption,
            crypto_store_path=store.strip() if store else None,
            unverified_devices=policy,
            encrypt_direct_rooms=encrypt_direct,
        )
