"""Encryption settings, the crypto store's status and what a decrypted event may change,
without a server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from nio import AsyncClientConfig, RoomMemberEvent, SyncResponse
from nio.crypto import OlmAccount, OutboundGroupSession

from companion.config import ConfigError, Settings
from companion_adapters.matrix import crypto
from companion_adapters.matrix.client import Client, sources
from companion_adapters.matrix.settings import MatrixConfig

ME = "@companion:example.org"
BASE = {"homeserver": "https://hs.example", "user_id": ME}


def settings(db: Path, **matrix: object) -> Settings:
    return Settings(db_path=db, adapters=("matrix",), sections={"matrix": {**BASE, **matrix}})


def test_encryption_settings_are_checked() -> None:
    config = MatrixConfig.from_section(BASE)
    assert config.encryption is None and config.unverified_devices == "send"
    assert config.encrypt_direct_rooms  # the direct rooms it opens: encrypted by default
    for bad, key in (
        ({"encrypt_direct_rooms": "yes"}, "encrypt_direct_rooms must be true or false"),
        ({"encryption": "yes"}, "encryption"),
        ({"unverified_devices": "trust"}, "unverified_devices"),
        ({"crypto_store_path": ""}, "crypto_store_path"),
    ):
        with pytest.raises(ConfigError, match=key):
            MatrixConfig.from_section({**BASE, **bad})


def test_without_the_extra_encryption_is_off_or_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(crypto, "available", lambda: False)
    assert crypto.enabled(MatrixConfig.from_section(BASE)) is False  # unset: off, no crash
    with pytest.raises(ConfigError, match=r"pip install 'companion\[e2e\]'"):
        crypto.enabled(MatrixConfig.from_section({**BASE, "encryption": True}))
    monkeypatch.setattr(crypto, "available", lambda: True)
    assert crypto.enabled(MatrixConfig.from_section(BASE)) is True
    assert crypto.enabled(MatrixConfig.from_section({**BASE, "encryption": False})) is False


def test_the_store_lives_beside_the_database_unless_configured(tmp_path: Path) -> None:
    db = tmp_path / "data" / "bot.db"
    assert crypto.store_dir(MatrixConfig.from_section(BASE), db) == tmp_path / "data/matrix-crypto"
    own = MatrixConfig.from_section({**BASE, "crypto_store_path": "keys"})
    assert crypto.store_dir(own, db) == tmp_path / "data/keys"
    absolute = MatrixConfig.from_section({**BASE, "crypto_store_path": str(tmp_path / "k")})
    assert crypto.store_dir(absolute, db) == tmp_path / "k"


def test_crypto_status_for_doctor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto, "available", lambda: True)
    db = tmp_path / "bot.db"
    present, matches, detail = crypto.crypto_status(settings(db))
    assert not present and not matches and "no crypto store yet" in detail

    store = tmp_path / "matrix-crypto"
    store.mkdir()
    (store / crypto.DEVICE_FILE).write_text(json.dumps({"user_id": ME, "device_id": "DEV1"}))
    present, _, detail = crypto.crypto_status(settings(db))
    assert not present and "holds no keys" in detail

    crypto.store_file(store, ME, "DEV1").write_bytes(b"")
    ok = crypto.crypto_status(settings(db))
    assert ok == (True, True, f"crypto store for device DEV1 in {store}")
    present, matches, detail = crypto.crypto_status(settings(db), "DEV2")
    assert present and not matches and "new, unknown device" in detail

    off = crypto.crypto_status(settings(db, encryption=False))
    assert off == (False, False, "encryption is off: set to false")
    monkeypatch.setattr(crypto, "available", lambda: False)
    assert "companion[e2e]" in crypto.crypto_status(settings(db)).detail
    bad = crypto.crypto_status(settings(db, unverified_devices="maybe"))
    assert not bad.present and "unverified_devices" in bad.detail


ROOM = "!circle:localhost"
ALICE, BOB, CAROL = "@alice:localhost", "@bob:localhost", "@carol:localhost"


def _state(kind: str, key: str, sender: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": kind,
        "state_key": key,
        "sender": sender,
        "content": content,
        "event_id": f"${kind}-{key}",
        "origin_server_ts": 1,
    }


def _sync(batch: str, state: list[dict[str, Any]], timeline: list[dict[str, Any]]) -> Any:
    room = {"state": {"events": state}, "timeline": {"events": timeline, "limited": False}}
    return SyncResponse.from_dict({"next_batch": batch, "rooms": {"join": {ROOM: room}}})


async def test_a_decrypted_event_never_changes_nios_room_but_the_homeservers_state_does(
    tmp_path: Path,
) -> None:
    """matrix-nio applies each timeline event to its view of the room (whom the room keys go
    to, the power levels); the bot's client keeps it from doing so with a decrypted one.
    This goes through nio's own sync handling with real Megolm ciphertext, so it fails if a
    new nio applies decrypted events another way (the hook the client overrides is
    private). On the homeserver's harness: test_matrix_e2e, the forged memberships."""
    client = Client(
        "http://127.0.0.1:9",
        ME,
        device_id="COMPANION",
        store_path=str(tmp_path),
        config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
    )
    client.restore_login(ME, "COMPANION", "token")
    assert client.olm is not None
    bob_keys, megolm = OlmAccount().identity_keys, OutboundGroupSession()
    megolm.shared = True  # Bob's client shared it with the bot's device (as below)
    client.olm.create_group_session(
        bob_keys["curve25519"], bob_keys["ed25519"], ROOM, megolm.id, megolm.session_key
    )

    def forged(n: int, kind: str, key: str, content: dict[str, Any]) -> dict[str, Any]:
        plain = {"type": kind, "state_key": key, "content": content, "room_id": ROOM}
        wire = {
            "algorithm": "m.megolm.v1.aes-sha2",
            "sender_key": bob_keys["curve25519"],
            "ciphertext": megolm.encrypt(json.dumps(plain)),
            "session_id": megolm.id,
            "device_id": "BOBDEVICE",
        }
        return {
            "type": "m.room.encrypted",
            "sender": BOB,
            "content": wire,
            "event_id": f"$forged{n}",
            "origin_server_ts": 2,
        }

    joined = {"membership": "join"}
    state = [
        _state("m.room.create", "", ALICE, {"room_version": "10"}),
        _state("m.room.encryption", "", ALICE, {"algorithm": "m.megolm.v1.aes-sha2"}),
        _state("m.room.power_levels", "", ALICE, {"users": {ALICE: 100}}),
        *(_state("m.room.member", who, who, joined) for who in (ALICE, BOB, ME)),
    ]
    timeline = [
        forged(1, "m.room.member", ALICE, {"membership": "leave"}),
        forged(2, "m.room.member", CAROL, joined),
        forged(3, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 100}}),
        forged(4, "m.room.name", "", {"name": "Bob's room now"}),
    ]
    response = _sync("s1", state, timeline)
    await client.receive_response(response)
    events = response.rooms.join[ROOM].timeline.events
    assert all(getattr(e, "decrypted", False) for e in events)  # still decrypted, for the bot
    assert isinstance(events[0], RoomMemberEvent) and events[0].membership == "leave"
    assert all("state_key" not in source for source in sources(events))

    room = client.rooms[ROOM]
    assert room.encrypted and set(room.users) == {ALICE, BOB, ME}  # whom the keys go to
    assert room.power_levels.get_user_level(BOB) == 0 and room.name is None

    # The homeserver's own state events in the timeline still change the room.
    leave = _state("m.room.member", ALICE, ALICE, {"membership": "leave"})
    await client.receive_response(_sync("s2", [], [leave]))
    assert set(room.users) == {BOB, ME}
    await client.close()
