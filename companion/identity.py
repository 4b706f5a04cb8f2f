"""A keyed hash of member ids, so limits and blocks work without storing who asked.

The key is made at first start and kept in a file beside the database (never in the
content files or the repository). Without the key a hash cannot be tied back to a member,
so moderators cannot recover who asked an anonymous question.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path


def load_or_create_key(path: Path | None) -> bytes:
    if path is None:  # an in-memory database: a key for this run only
        return secrets.token_bytes(32)
    if path.exists():
        return read_key(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
    return key


def read_key(path: Path) -> bytes:
    """The key in ``path``; ValueError if the file holds none (OSError if unreadable)."""
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (ValueError, UnicodeDecodeError):
        key = b""
    if len(key) < 32:
        raise ValueError(f"{path} holds no usable key")
    return key


class MemberHasher:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, community_id: str, member_id: str) -> str:
        message = f"{community_id}\0{member_id}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]
