"""Encryption settings and the crypto store's status, without a server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from companion.config import ConfigError, Settings
from companion_adapters.matrix import crypto
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
