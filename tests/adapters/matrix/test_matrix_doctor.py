"""`companion doctor` against the real Synapse: the token, the account, each joined room."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from companion.app import build
from companion.config import Settings
from companion.doctor import Check, diagnose, exit_code
from companion_adapters.matrix.settings import session_key
from tests.matrix_server.people import PASSWORD_ENV, TOKEN_ENV, Person
from tests.matrix_server.synapse import SynapseServer

pytestmark = pytest.mark.matrix

README = Path(__file__).resolve().parents[3] / "README.md"
MUTED = {"events_default": 0, "events": {"m.room.message": 50}}
ENCRYPTED = [
    {
        "type": "m.room.encryption",
        "state_key": "",
        "content": {"algorithm": "m.megolm.v1.aes-sha2"},
    }
]


def config(tmp_path: Path, synapse: SynapseServer, user_id: str, *lines: str) -> Path:
    path = tmp_path / "companion.toml"
    path.write_text(
        f'[storage]\npath = "companion.db"\n\n[matrix]\nhomeserver = "{synapse.base_url}"\n'
        f'user_id = "{user_id}"\n' + "".join(f"{line}\n" for line in lines),
        encoding="utf-8",
    )
    return path


def line(checks: list[Check], name: str) -> Check:
    found = [c for c in checks if c.name == name]
    assert len(found) == 1, f"no one line {name!r} in {[c.name for c in checks]}"
    return found[0]


Doctor = Callable[..., Awaitable[list[Check]]]


@pytest.fixture
def doctor(synapse: SynapseServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Doctor:
    """``await doctor(bot, token, *config_lines)``: the checks for ``bot``'s account used
    with ``token``."""
    for name in (PASSWORD_ENV, f"{PASSWORD_ENV}_FILE", f"{TOKEN_ENV}_FILE"):
        monkeypatch.delenv(name, raising=False)

    async def run(bot: Person, token: str, *lines: str) -> list[Check]:
        monkeypatch.setenv(TOKEN_ENV, token)
        return await diagnose(config(tmp_path, synapse, bot.id, *lines))

    return run


async def test_each_joined_room_says_whether_the_bot_can_send_and_if_it_is_encrypted(
    people: Callable[[str], Person], doctor: Doctor, tmp_path: Path
) -> None:
    host, bot = people("host"), people("bot")
    rooms = {
        "open": await host.room(bot.id, name="open"),
        "muted": await host.room(bot.id, name="muted", power_level_override=MUTED),
        "secret": await host.room(bot.id, name="secret", initial_state=ENCRYPTED),
    }
    for room_id in rooms.values():
        await bot.join(room_id)

    checks = await doctor(bot, bot.user.access_token, "encryption = false")

    assert line(checks, "matrix token").ok and line(checks, "matrix account").ok
    assert line(checks, "matrix encryption").detail == "encryption is off: set to false"
    open_send = line(checks, f"matrix room open ({rooms['open']}): send")
    assert open_send.ok and "power level 0; sending needs 0" in open_send.detail
    assert line(checks, f"matrix room open ({rooms['open']}): encryption").ok
    muted = line(checks, f"matrix room muted ({rooms['muted']}): send")
    assert not muted.ok
    assert muted.detail == "cannot send (power level 0; sending needs 50)"
    assert f"give {bot.id} power level 50" in muted.fix
    secret = line(checks, f"matrix room secret ({rooms['secret']}): encryption")
    assert not secret.ok and "end-to-end encrypted, but encryption is off" in secret.detail
    assert secret.fix.startswith("set [matrix] encryption = true (pip install 'companion[e2e]')")
    assert line(checks, f"matrix room secret ({rooms['secret']}): send").ok
    assert {c.name for c in checks if not c.ok} == {muted.name, secret.name}
    assert exit_code(checks) == 1
    assert not (tmp_path / "companion.db").exists()  # doctor made nothing

    with_encryption = await doctor(bot, bot.user.access_token)  # on: the e2e extra is here
    assert line(with_encryption, f"matrix room secret ({rooms['secret']}): encryption").ok
    store = line(with_encryption, "matrix encryption")
    assert store.ok and store.detail.startswith("no crypto store yet")


async def test_a_refused_token_names_the_variable_to_set(
    people: Callable[[str], Person], doctor: Doctor
) -> None:
    bot = people("bot")

    checks = await doctor(bot, "syt_not_a_token", "moderator_levle = 50")

    [setting] = [c for c in checks if c.name == "setting"]  # reported once, the rest goes on
    assert (
        setting.detail
        == "[matrix] has no setting 'moderator_levle' (did you mean moderator_level?)."
    )
    assert setting.fix.startswith("rename it to moderator_level in ")

    token = line(checks, "matrix token")
    assert not token.ok and "M_UNKNOWN_TOKEN" in token.detail
    assert token.fix.startswith(f"set {TOKEN_ENV} to a current access token of {bot.id}")
    # A token of its own, as the README says: an Element session's would share its device.
    assert "Element:" not in token.fix and "Help & About" not in token.fix
    assert "never an Element session's" in token.fix
    assert "mas-cli manage issue-compatibility-token <bot's username> <device id>" in token.fix
    assert '/_matrix/client/v3/login with the password and a "device_id"' in token.fix
    readme = README.read_text(encoding="utf-8")
    assert "**Matrix without password login**" in readme  # the section the line points to
    assert "mas-cli manage issue-compatibility-token <bot's username> <device id>" in readme
    assert exit_code(checks) == 1


async def test_the_token_of_another_account_is_named(
    people: Callable[[str], Person], doctor: Doctor
) -> None:
    bot, someone = people("bot"), people("someone")

    checks = await doctor(bot, someone.user.access_token)

    assert line(checks, "matrix token").ok
    account = line(checks, "matrix account")
    assert not account.ok
    assert account.detail == f"the token belongs to {someone.id}, but [matrix] user_id is {bot.id}"
    assert account.fix.startswith(f'set [matrix] user_id = "{someone.id}"')
    assert exit_code(checks) == 1


async def test_a_healthy_bot_passes_every_line(
    people: Callable[[str], Person], doctor: Doctor
) -> None:
    host, bot = people("host"), people("bot")
    room_id = await host.room(bot.id, name="circle")
    await bot.join(room_id)

    checks = await doctor(bot, bot.user.access_token)

    assert [c for c in checks if not c.ok] == []
    assert exit_code(checks) == 0
    assert line(checks, f"matrix room circle ({room_id}): send").ok


async def test_a_password_login_is_checked_through_the_session_it_saved(
    people: Callable[[str], Person],
    synapse: SynapseServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot = people("bot")
    for name in (TOKEN_ENV, f"{TOKEN_ENV}_FILE", f"{PASSWORD_ENV}_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(PASSWORD_ENV, bot.user.password)
    path = config(tmp_path, synapse, bot.id)

    before = line(await diagnose(path), "matrix token")  # no session saved yet
    assert not before.ok
    assert before.fix.startswith(f"set {TOKEN_ENV} to the bot's access token, or start")

    app = await build(Settings(db_path=tmp_path / "companion.db"))
    session = {"device_id": bot.user.device_id, "access_token": bot.user.access_token}
    await app.store.kv.set(session_key(bot.id), json.dumps(session))  # as a login keeps it
    await app.close()
    checks = await diagnose(path)
    assert line(checks, "matrix token").ok and line(checks, "matrix account").ok


async def test_a_token_for_another_device_than_the_crypto_store_is_named(
    people: Callable[[str], Person], doctor: Doctor, tmp_path: Path
) -> None:
    bot = people("bot")
    store = tmp_path / "matrix-crypto"  # the default: beside the database
    store.mkdir()
    (store / "device.json").write_text(json.dumps({"user_id": bot.id, "device_id": "OLDDEVICE"}))
    (store / f"{bot.id}_OLDDEVICE.db").write_bytes(b"")

    checks = await doctor(bot, bot.user.access_token)

    encryption = line(checks, "matrix encryption")
    assert not encryption.ok
    assert f"is for device OLDDEVICE, but the access token is for device {bot.user.device_id}" in (
        encryption.detail
    )
    assert encryption.fix.startswith("use an access token of device OLDDEVICE (the bot's own)")
    assert exit_code(checks) == 1
