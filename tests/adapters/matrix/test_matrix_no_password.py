"""A homeserver without password login (as behind the Matrix Authentication Service, like
matrix.org since 2025): a second, real Synapse with ``password_config: {enabled: false}``.

The bot signs in with an access token and keeps that token's device (and its encryption
keys) across a restart; with only a password, `run` and `doctor` say that password login
is not offered here and what to set instead."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from companion.app import build
from companion.config import ConfigError
from companion.content import Content
from companion.doctor import diagnose, exit_code
from companion_adapters.matrix import crypto, run
from tests.matrix_server.encrypted import SecretPerson
from tests.matrix_server.people import (
    PASSWORD_ENV,
    TOKEN_ENV,
    fresh,
    matrix_settings,
    notice_from,
    replied,
)
from tests.matrix_server.synapse import SynapseServer

pytestmark = pytest.mark.matrix

NO_PASSWORD_LOGIN = "does not offer password login"


@pytest.fixture(scope="module")
def synapse() -> Iterator[SynapseServer]:
    """This module's own homeserver, with password login switched off (the fixtures of
    conftest.py, people and the bot, use it here)."""
    with SynapseServer(password_login=False) as server:
        yield server


@pytest.fixture
async def members(synapse: SynapseServer, tmp_path: Path) -> AsyncIterator[Any]:
    made: list[SecretPerson] = []

    def make(name: str) -> SecretPerson:
        made.append(SecretPerson(synapse, name, tmp_path / "members"))
        return made[-1]

    try:
        yield make
    finally:
        for person in made:
            await person.client.close()


@pytest.fixture
def only_a_password(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    def set_password(password: str) -> None:
        for name in (TOKEN_ENV, f"{TOKEN_ENV}_FILE", f"{PASSWORD_ENV}_FILE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(PASSWORD_ENV, password)

    return set_password


async def test_a_token_signs_the_bot_in_and_keeps_its_device_across_a_restart(
    synapse: SynapseServer, start_bot: Any, members: Any
) -> None:
    flows = synapse.request_json("GET", "/_matrix/client/v3/login")["flows"]
    assert "m.login.password" not in [f["type"] for f in flows]  # the server is as claimed
    user = fresh(synapse, "bot")  # the admin API's token and device, as an operator has them
    bot = await start_bot(user)
    assert bot.adapter.client.device_id == user.device_id
    alice = members("alice")
    room_id = await alice.room(bot.id)
    hello = await alice.wait_for(notice_from(bot.id, room_id, "Hello!"))
    assert hello["event_id"] in alice.decrypted
    first = await alice.say(room_id, "!define allyship")
    answer = await alice.reply_to(room_id, first, bot.id)
    assert answer["event_id"] in alice.decrypted and "allyship" in answer["content"]["body"].lower()
    await bot.stop()

    bot = await start_bot(user)  # the same token: the same device, the same keys
    assert bot.adapter.client.device_id == user.device_id
    status = crypto.crypto_status(bot.app.settings, user.device_id)
    assert status.present and status.device_id_matches, status.detail
    again = await alice.say(room_id, "!define equity")
    answer = await alice.reply_to(room_id, again, bot.id)
    assert answer["event_id"] in alice.decrypted and "equity" in answer["content"]["body"].lower()
    answers = [replied(e) for e in alice.sent_by(bot.id, room_id)]
    assert answers.count(first) == 1 and answers.count(again) == 1


async def test_a_password_alone_is_refused_with_one_clear_line(
    synapse: SynapseServer,
    shipped: Content,
    tmp_path: Path,
    only_a_password: Callable[[str], None],
) -> None:
    user = fresh(synapse, "bot")
    only_a_password(user.password)
    settings = matrix_settings(synapse, user, tmp_path / "bot.db")
    app = await build(settings, content=shipped)
    try:
        with pytest.raises(ConfigError) as raised:
            await run(app.gateway, settings)
    finally:
        await app.close()
    message = str(raised.value)
    assert NO_PASSWORD_LOGIN in message and "Matrix Authentication Service" in message
    assert f"Set {TOKEN_ENV} to an access token of the bot's own device" in message
    assert user.password not in message

    config = tmp_path / "companion.toml"
    config.write_text(
        f'[storage]\npath = "doctor.db"\n\n[matrix]\nhomeserver = "{synapse.base_url}"\n'
        f'user_id = "{user.user_id}"\n',
        encoding="utf-8",
    )
    checks = await diagnose(config)
    [login] = [c for c in checks if c.name.startswith("matrix")]
    assert login.name == "matrix login" and not login.ok
    assert NO_PASSWORD_LOGIN in login.detail
    assert login.fix.startswith(f"set {TOKEN_ENV} to an access token of the bot's device")
    assert "mas-cli manage issue-compatibility-token" in login.fix
    assert exit_code(checks) == 1
