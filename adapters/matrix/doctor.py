"""`companion doctor`'s Matrix checks: the token, the account, and each joined room.

Read only: ``whoami``, the joined rooms and their state; nothing is sent, joined or left.
"""

from __future__ import annotations

import asyncio

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    JoinedRoomsResponse,
    RoomGetStateResponse,
    WhoamiResponse,
)

from companion.checklist import CORRECT_SETTING, Check, failed, passed
from companion.config import ConfigError, secret
from companion.platforms import DoctorContext as Context
from companion_adapters.matrix import crypto
from companion_adapters.matrix.rooms import RoomState
from companion_adapters.matrix.session import offers_password
from companion_adapters.matrix.settings import (
    PASSWORD_ENV,
    TOKEN_ENV,
    MatrixConfig,
    no_password_login,
    parse_session,
    session_key,
)

MESSAGE = "m.room.message"  # the event type of the bot's notices
NETWORK_ERRORS = (aiohttp.ClientError, OSError, asyncio.TimeoutError)


async def checks(context: Context) -> list[Check]:
    try:
        config = MatrixConfig.from_section(context.settings.section("matrix"))
    except ConfigError as error:
        return [failed("matrix settings", str(error), CORRECT_SETTING)]
    try:
        found = await _token(context, config)
    except ConfigError as error:  # a NAME_FILE that cannot be read
        return [failed("matrix token", str(error), "let Companion's user read that file")]
    by_password = isinstance(found, Check) or found[1] != TOKEN_ENV
    if isinstance(found, Check) and not secret(PASSWORD_ENV):
        return [found]  # neither secret set: nothing to ask the homeserver
    client = AsyncClient(
        config.homeserver,
        config.user_id,
        config=AsyncClientConfig(
            max_limit_exceeded=0, max_timeouts=0, request_timeout=10, store_sync_tokens=False
        ),
    )
    try:
        login = await _password_login(client, config) if by_password else []
        if isinstance(found, Check):
            return login or [found]
        token, source = found
        # No restore_login: with the e2e extra it would open a crypto store (needs a device).
        client.user_id, client.access_token = config.user_id, token
        return login + await _check(client, config, context, token_source=source)
    except NETWORK_ERRORS as error:
        return [
            failed(
                "matrix homeserver",
                f"cannot reach {config.homeserver}: {type(error).__name__}: {error}",
                "set [matrix] homeserver to the URL Element uses for this server, and let "
                "this machine reach it",
            )
        ]
    finally:
        await client.close()


async def _password_login(client: AsyncClient, config: MatrixConfig) -> list[Check]:
    """With a password and no token: a failing line if the homeserver offers no password
    login (a server behind the Matrix Authentication Service), where `run` would fail."""
    if await offers_password(client) is not False:
        return []
    return [
        failed(
            "matrix login",
            no_password_login(config.homeserver),
            f"set {TOKEN_ENV} to an access token of the bot's device (for a server with the "
            "Matrix Authentication Service: mas-cli manage issue-compatibility-token "
            "<bot's username> <device id>)",
        )
    ]


async def _token(context: Context, config: MatrixConfig) -> tuple[str, str] | Check:
    """The token the bot would use and where it is from: the environment, else the session
    a password login saved in the database."""
    token = secret(TOKEN_ENV)
    if token:
        return token, TOKEN_ENV
    if not secret(PASSWORD_ENV):
        return failed(
            "matrix token",
            f"neither {TOKEN_ENV} nor {PASSWORD_ENV} is set",
            f"set {TOKEN_ENV} (or {TOKEN_ENV}_FILE) to the bot's access token",
        )
    saved = ""
    if context.store is not None:
        _, saved = parse_session(await context.store.kv.get(session_key(config.user_id)))
    if saved:
        return saved, f"the session saved for {PASSWORD_ENV}"
    return failed(
        "matrix token",
        f"{PASSWORD_ENV} is set, but there is no saved session to check without logging in",
        f"set {TOKEN_ENV} to the bot's access token, or start `companion run` once so it "
        "logs in and keeps its session",
    )


async def _check(
    client: AsyncClient, config: MatrixConfig, context: Context, *, token_source: str
) -> list[Check]:
    who = await client.whoami()
    if not isinstance(who, WhoamiResponse):
        problem = f"{who.status_code}: {who.message}" if isinstance(who, ErrorResponse) else who
        return [
            failed(
                "matrix token",
                f"{config.homeserver} refused the access token in {token_source} ({problem})",
                f"set {TOKEN_ENV} to a current access token of {config.user_id} (Element "
                "signed in as the bot: Settings > Help & About > Access Token)",
            )
        ]
    result = [passed("matrix token", f"accepted by {config.homeserver}")]
    if who.user_id != config.user_id:
        result.append(
            failed(
                "matrix account",
                f"the token belongs to {who.user_id}, but [matrix] user_id is {config.user_id}",
                f'set [matrix] user_id = "{who.user_id}", or put the token of '
                f"{config.user_id} in {TOKEN_ENV}",
            )
        )
        return result
    result.append(passed("matrix account", config.user_id))
    encryption = _encryption(config, context, who.device_id)
    result.append(encryption)
    joined = await client.joined_rooms()
    if not isinstance(joined, JoinedRoomsResponse):
        return [*result, failed("matrix rooms", str(joined), "try again; see the homeserver log")]
    if not joined.rooms:
        result.append(passed("matrix rooms", f"none joined yet: invite {config.user_id}"))
    try:
        on = crypto.enabled(config)
    except ConfigError:  # on, without the extra: the line above says so
        on = False
    for room_id in joined.rooms:
        result += await _room(client, config, room_id, encryption_on=on)
    return result


def _encryption(config: MatrixConfig, context: Context, device_id: str | None) -> Check:
    """The crypto store: none yet, or the keys of the device the token belongs to."""
    status = crypto.crypto_status(context.settings, device_id)
    name = "matrix encryption"
    try:
        on = crypto.enabled(config)
    except ConfigError as error:
        return failed(name, str(error), f"{crypto.EXTRA}, or set [matrix] encryption = false")
    store = crypto.store_dir(config, context.settings.db_path)
    if not on or status.device_id_matches:
        return passed(name, status.detail)
    recorded = crypto.recorded_device(store, config.user_id)
    if recorded is None:
        return passed(name, status.detail)  # made at the first start
    if not status.present:
        return failed(
            name,
            status.detail,
            f"restore {store} from the backup you took with the database, or move it away to "
            "start a new device (members' clients will see a new, unknown device)",
        )
    return failed(
        name,
        status.detail,
        f"use an access token of device {recorded} (the bot's own), or move {store} away to "
        "start a new device",
    )


async def _room(
    client: AsyncClient, config: MatrixConfig, room_id: str, *, encryption_on: bool
) -> list[Check]:
    state = await client.room_get_state(room_id)
    if not isinstance(state, RoomGetStateResponse):
        return [failed(f"matrix room {room_id}", str(state), "see the homeserver log")]
    room = RoomState()
    room.apply_all(state.events)
    label = f"matrix room {room.name} ({room_id})" if room.name else f"matrix room {room_id}"
    power, needed = room.power(config.user_id), room.needed_to_send(MESSAGE)
    shown = "unlimited (a creator)" if power == float("inf") else f"{power:g}"
    levels = f"power level {shown}; sending needs {needed}"
    if power >= needed:
        send = passed(f"{label}: send", f"can send ({levels})")
    else:
        send = failed(
            f"{label}: send",
            f"cannot send ({levels})",
            f"in the room's settings (Roles & Permissions) give {config.user_id} power level "
            f"{needed}, or lower 'Send messages' to {power:g}",
        )
    if room.encrypted and not encryption_on:
        encryption = failed(
            f"{label}: encryption",
            f"end-to-end encrypted, but {crypto.OFF}: the bot declines and leaves the room",
            f"set [matrix] encryption = true ({crypto.EXTRA}), or use a room without "
            "encryption (it cannot be turned off in a room)",
        )
    elif room.encrypted:
        encryption = passed(f"{label}: encryption", "encrypted; the bot encrypts its replies")
    else:
        encryption = passed(f"{label}: encryption", "not encrypted")
    return [send, encryption]
