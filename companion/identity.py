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
    """The key in ``path``, made there (mode 600) if there is none yet.

    Several processes may start together on one new key file (a PostgreSQL fleet): the key
    is written whole to a file of this process's own, then linked into place, which fails
    for all but one; the others read the winner's. Nobody ever reads a half-written key.
    """
    if path is None:  # an in-memory database: a key for this run only
        return secrets.token_bytes(32)
    if path.exists():
        return read_key(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key.hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            return read_key(path)  # another process made it first
    finally:
        draft.unlink(missing_ok=True)
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
