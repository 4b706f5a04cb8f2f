"""End-to-end encryption for the Matrix adapter: matrix-nio's ``e2e`` extra (vodozemac).

matrix-nio does the cryptography (Olm sessions, Megolm room keys, decrypting the sync);
this module keeps what the bot adds around it: the crypto store's place beside the
database, one device across restarts (``device.json`` in the store records it), the keys
uploaded and queried after each sync, the policy for devices nobody verified, and a note,
once per (room, session), for a message the bot could not decrypt (none for one removed
before the bot saw it).

Importing this module does not need the extra; :func:`available` says whether it is there.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
from nio import AsyncClient, ErrorResponse, LocalProtocolError, MatrixRoom

from companion.config import ConfigError, Settings
from companion.ports import TransientFailure
from companion_adapters.matrix import outbound
from companion_adapters.matrix.settings import MatrixConfig

log = logging.getLogger("companion_adapters.matrix.crypto")

STORE_DIR = "matrix-crypto"
DEVICE_FILE = "device.json"
ENCRYPTED = "m.room.encrypted"
NOTE = "I could not read that message; please send it again."
FIRST_SYNC_PATIENCE = 30.0
MAX_NOTED = 10_000  # (room, session) pairs remembered; more than enough between restarts
EXTRA = "pip install 'companion[e2e]'"
OFF = f"encryption is off ([matrix] encryption = false, or the e2e extra is missing: {EXTRA})"


def available() -> bool:
    """Whether matrix-nio can encrypt here (its ``e2e`` extra, vodozemac, is installed)."""
    from nio.crypto import ENCRYPTION_ENABLED

    return bool(ENCRYPTION_ENABLED)


def enabled(config: MatrixConfig) -> bool:
    """``[matrix] encryption``: on when set, or by default when the extra is installed.
    Set to true without the extra, it stops the start with what to install."""
    if config.encryption is None:
        return available()
    if config.encryption and not available():
        raise ConfigError(
            "[matrix] encryption = true needs matrix-nio's end-to-end encryption support, "
            f"which is not installed: {EXTRA} (or set encryption = false)."
        )
    return config.encryption


def store_dir(config: MatrixConfig, db_path: Path) -> Path:
    """``[matrix] crypto_store_path`` (relative to the database's directory), else
    ``matrix-crypto`` beside the database: back it up with the database."""
    base = Path(".") if str(db_path) == ":memory:" else db_path.parent
    if config.crypto_store_path is None:
        return base / STORE_DIR
    path = Path(config.crypto_store_path).expanduser()
    return path if path.is_absolute() else base / path


def store_file(path: Path, user_id: str, device_id: str) -> Path:
    """The SQLite file matrix-nio keeps one device's keys in."""
    return path / f"{user_id}_{device_id}.db"


def recorded_device(path: Path, user_id: str) -> str | None:
    try:
        saved = json.loads((path / DEVICE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(saved, dict) and saved.get("user_id") == user_id:
        device = saved.get("device_id")
        return device if isinstance(device, str) and device else None
    return None


def note(room_id: str, event: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The plain note for a message the bot could not read, in reply to it, and its
    transaction id (one per room and session, so a resend after a restart is dropped)."""
    content = outbound.plain_notice(NOTE)
    content["m.relates_to"] = outbound.reply_to(str(event.get("event_id")))
    source = event.get("content")
    session = str(source.get("session_id") if isinstance(source, Mapping) else "")
    return content, outbound.txn_id("unreadable", room_id, session)


def redacted(event: Mapping[str, Any]) -> bool:
    """An encrypted event its sender (or a moderator) removed before the bot synced it:
    the homeserver serves it emptied. (One with no ciphertext at all counts too: there is
    nothing to decrypt, so nothing to ask to send again.)"""
    unsigned = event.get("unsigned")
    content = event.get("content")
    return (isinstance(unsigned, Mapping) and "redacted_because" in unsigned) or (
        isinstance(content, Mapping) and "ciphertext" not in content
    )


class CryptoStatus(NamedTuple):
    """What ``doctor`` reports: is there a crypto store, is it the device the bot uses."""

    present: bool
    device_id_matches: bool
    detail: str


def crypto_status(settings: Settings, device_id: str | None = None) -> CryptoStatus:
    """Check the crypto store of ``[matrix]`` without touching the network.

    ``device_id`` is the device the bot's access token belongs to (from ``whoami``), if
    the caller knows it; without it, the store is checked against the device it recorded.
    """
    try:
        config = MatrixConfig.from_section(settings.section("matrix"))
        on = enabled(config)
    except ConfigError as error:
        return CryptoStatus(False, False, str(error))
    path = store_dir(config, settings.db_path)
    if not on:
        why = "set to false" if config.encryption is False else f"not installed ({EXTRA})"
        return CryptoStatus(False, False, f"encryption is off: {why}")
    recorded = recorded_device(path, config.user_id)
    if recorded is None:
        return CryptoStatus(
            False, False, f"no crypto store yet in {path} (made at the first start)"
        )
    present = store_file(path, config.user_id, recorded).is_file()
    if not present:
        return CryptoStatus(
            False, False, f"{path} records device {recorded} but holds no keys for it"
        )
    if device_id is not None and device_id != recorded:
        return CryptoStatus(
            True,
            False,
            f"the crypto store in {path} is for device {recorded}, but the access token "
            f"is for device {device_id}: members' clients will see a new, unknown device",
        )
    return CryptoStatus(True, True, f"crypto store for device {recorded} in {path}")


class Crypto:
    """The encryption side of one bot account's client (``client.olm`` once logged in)."""

    def __init__(
        self, client: AsyncClient, config: MatrixConfig, path: Path, first_sync: asyncio.Event
    ) -> None:
        self.client = client
        self.policy = config.unverified_devices
        self.path = path
        self.noted: dict[tuple[str, str], None] = {}  # (room, session) answered, oldest first
        # matrix-nio has taken in a sync, so it knows the rooms: the sync loop's
        # (SyncLoop.synced), which it alone sets.
        self.synced = first_sync
        self._querying = asyncio.Lock()

    @staticmethod
    def prepare(path: Path) -> None:
        """Make the store's directory, readable by the bot's user only."""
        path.mkdir(parents=True, exist_ok=True, mode=0o700)

    async def start(self) -> None:
        """After the login: record the device (warn if it changed) and upload its keys."""
        user, device = self.client.user_id, self.client.device_id
        if self.client.olm is None:
            raise ConfigError(f"could not open the crypto store in {self.path}")
        before = recorded_device(self.path, user)
        if before is not None and before != device:
            log.warning(
                "the access token is for device %s, but the crypto store was made for %s: "
                "members' clients will see a new device, and messages encrypted for the old "
                "one cannot be read. Use a token of device %s to keep it.",
                device,
                before,
                before,
            )
        (self.path / DEVICE_FILE).write_text(
            json.dumps({"user_id": user, "device_id": device}), encoding="utf-8"
        )
        log.info("end-to-end encryption on: device %s, keys in %s", device, self.path)
        await self.keep_up()

    async def keep_up(self, *, learn_devices: bool = True) -> None:
        """Upload new one-time keys, send pending to-device messages and (unless told not
        to) learn the devices of members who joined or changed. Before a sync's events are
        handled the sync loop leaves the devices to :meth:`ready`, which learns them before
        a send to an encrypted room, and to :meth:`learn_devices` after the events, so a
        reply in a plain room never waits for a keys query. (A member whose devices did not
        change costs none: see ``sync.sync_filter`` for why members are not lazy-loaded.)"""
        try:
            if self.client.should_upload_keys:
                uploaded = await self.client.keys_upload()
                if isinstance(uploaded, ErrorResponse):
                    log.error(
                        "the homeserver refused this device's keys (%s): is device %s in use "
                        "by another client? Give the bot a device of its own.",
                        uploaded.message,
                        self.client.device_id,
                    )
            if learn_devices:
                await self._query_devices()
            if self.client.outgoing_to_device_messages:
                await self.client.send_to_device_messages()
        except (LocalProtocolError, aiohttp.ClientError, TimeoutError, OSError) as error:
            log.warning("keeping the encryption keys up to date failed (%s); next sync", error)

    async def learn_devices(self) -> None:
        """The devices of members who joined or changed (a keys query, when any did)."""
        try:
            await self._query_devices()
        except (LocalProtocolError, aiohttp.ClientError, TimeoutError, OSError) as error:
            log.warning("keeping the encryption keys up to date failed (%s); next sync", error)

    async def _query_devices(self) -> None:
        async with self._querying:  # sends at once (a reply, scheduled posts) query once
            if self.client.should_query_keys:
                await self.client.keys_query()

    async def ready(self, room_id: str) -> bool:
        """Before a send: wait until matrix-nio knows whether the room is encrypted (a
        scheduled post can come before the first sync); in an encrypted room, learn the
        devices of members who joined or changed; whether to send to devices nobody
        verified."""
        if not self.synced.is_set():
            try:
                await asyncio.wait_for(self.synced.wait(), FIRST_SYNC_PATIENCE)
            except TimeoutError:
                raise TransientFailure(
                    "the first sync with the homeserver has not finished"
                ) from None
        room = self.client.rooms.get(room_id)
        if room is not None and room.encrypted:  # its members' devices, as of this sync
            await self.learn_devices()
        self.before_send(room_id)
        return self.ignore_unverified

    @property
    def ignore_unverified(self) -> bool:
        return self.policy == "send"

    def before_send(self, room_id: str) -> None:
        """With "blacklist", devices nobody verified get no keys for this room."""
        if self.policy != "blacklist" or self.client.olm is None:
            return
        room = self.client.rooms.get(room_id)
        if room is None or not room.encrypted:
            return
        for devices in self.client.room_devices(room_id).values():
            for device in devices.values():
                if not device.verified and not device.blacklisted:
                    self.client.blacklist_device(device)

    def know_room(self, room_id: str, invited: str, *, encrypted: bool) -> None:
        """A direct room the bot just made, known to matrix-nio before its sync, with
        ``invited`` in it. Encrypted, the first message's keys then go to the invited
        member's devices too, so they read it once they accept (matrix-nio shares keys with
        the room's members, and would otherwise know only the bot)."""
        if room_id not in self.client.rooms:
            room = MatrixRoom(room_id, self.client.user_id, encrypted)
            room.add_member(invited, None, None, invited=True)
            self.client.rooms[room_id] = room
            if encrypted:
                self.client.encrypted_rooms.add(room_id)

    def unreadable(self, room_id: str, event: Mapping[str, Any]) -> bool:
        """An encrypted message matrix-nio could not decrypt: log why (never its text) and
        say whether to note it to the sender (once per room and Megolm session)."""
        sender = event.get("sender")
        content = event.get("content")
        if not isinstance(content, Mapping) or sender == self.client.user_id:
            return False
        if redacted(event):
            return False  # removed before the bot saw it (a reaction taken back): no note
        session = str(content.get("session_id") or "")
        sender_key = str(content.get("sender_key") or "")
        known = (
            self.client.olm is not None
            and self.client.olm.inbound_group_store.get(room_id, sender_key, session) is not None
        )
        why = (
            "the key was known but did not decrypt it"
            if known
            else "its sender's device did not share the room key with this device "
            "(withheld, not arrived yet, or sent before the bot joined)"
        )
        first = (room_id, session) not in self.noted
        log.warning(
            "could not decrypt %s from %s (device %s) in %s, session %s: %s%s",
            event.get("event_id"),
            sender,
            content.get("device_id"),
            room_id,
            session,
            why,
            "; telling the sender once" if first else "",
        )
        if not first:
            return False
        self.noted[(room_id, session)] = None
        while len(self.noted) > MAX_NOTED:
            del self.noted[next(iter(self.noted))]
        return True
