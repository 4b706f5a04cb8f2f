"""Logging the bot account in, and in again when the homeserver forgets it.

Owns: the access token (or password) from the environment, checked with whoami before any
sync; a password login's device and token, kept in the store so a restart reuses the
device; the patience at start-up (an unreachable homeserver is waited for a while, then a
clear ConfigError); the encryption store opened around the login.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nio import AsyncClient, ErrorResponse, LoginInfoResponse, LoginResponse, WhoamiResponse

from companion.config import ConfigError, secret
from companion.gateway import Gateway
from companion_adapters.matrix.client import (
    BACKOFF_FIRST,
    NETWORK_ERRORS,
    Client,
    http_status,
    is_rate_limited,
)
from companion_adapters.matrix.crypto import Crypto
from companion_adapters.matrix.settings import (
    PASSWORD_ENV,
    PASSWORD_FLOW,
    TOKEN_ENV,
    MatrixConfig,
    no_password_login,
    parse_session,
    session_key,
)

log = logging.getLogger("companion_adapters.matrix")

T = TypeVar("T")

STARTUP_PATIENCE = 30.0  # how long an unreachable homeserver is waited for at start


class _Retry(Exception):
    """A start-up request the homeserver could not answer right now."""


async def offers_password(client: AsyncClient) -> bool | None:
    """Whether the homeserver's /login lists password login; None: it did not say."""
    flows = await client.login_info()
    return PASSWORD_FLOW in flows.flows if isinstance(flows, LoginInfoResponse) else None


def _passing(response: ErrorResponse) -> bool:
    """A refusal that may pass: the homeserver is failing (5xx) or rate limiting."""
    return (http_status(response) or 0) >= 500 or is_rate_limited(response)


class Session:
    """The login of one bot account on its client."""

    def __init__(
        self, gateway: Gateway, config: MatrixConfig, client: Client, crypto: Crypto | None
    ) -> None:
        self.gateway = gateway
        self.config = config
        self.client = client
        self.crypto = crypto
        self.me = config.user_id
        self._password: str | None = None
        self._key = session_key(self.me)

    async def login(self) -> None:
        """Use the access token (or password) from the environment; fail early and clearly."""
        if self.crypto is not None:
            self.crypto.prepare(self.crypto.path)
        token = secret(TOKEN_ENV)
        password = None if token else secret(PASSWORD_ENV)
        if not token and not password:
            raise ConfigError(
                f"The Matrix adapter needs the bot's access token: set {TOKEN_ENV} "
                f"(or {PASSWORD_ENV} to log in with a password once) in the environment."
            )
        if token:
            who = await self._whoami(token)
            if isinstance(who, ErrorResponse):
                raise ConfigError(
                    f"The homeserver at {self.config.homeserver} refused the access token in "
                    f"{TOKEN_ENV} ({who.status_code}: {who.message}). "
                    f"Set {TOKEN_ENV} to a valid token for {self.me}."
                )
            self.client.restore_login(self.me, who.device_id or "", token)
        else:
            assert password is not None
            self._password = password
            await self._password_login(password)
        if self.crypto is not None:
            await self.crypto.start()

    async def log_in_again(self) -> None:
        """The homeserver no longer accepts the access token: fatal with a token (say so),
        a new login with a password."""
        if self._password is None:
            raise ConfigError(
                f"The homeserver no longer accepts the access token in {TOKEN_ENV}; "
                "set a new one and start again."
            )
        await self.gateway.kv.set(self._key, "")
        await self._password_login(self._password)

    async def _whoami(self, token: str) -> WhoamiResponse | ErrorResponse:
        self.client.user_id, self.client.access_token = self.me, token  # the store waits

        async def ask() -> WhoamiResponse | ErrorResponse:
            response = await self.client.whoami()
            if isinstance(response, ErrorResponse):
                if _passing(response):
                    raise _Retry(str(response))
                return response
            if response.user_id != self.me:
                raise ConfigError(
                    f"The access token in {TOKEN_ENV} belongs to {response.user_id}, "
                    f"but [matrix] user_id is {self.me}."
                )
            return response

        return await self._patiently(ask)

    async def _password_login(self, password: str) -> None:
        saved = await self.gateway.kv.get(self._key)
        if saved:
            device, token = parse_session(saved)
            if token:
                who = await self._whoami(token)
                if isinstance(who, WhoamiResponse):
                    self.client.restore_login(self.me, device, token)
                    return
                log.info("the saved session was refused (%s); logging in again", who.status_code)
            self.client.access_token = ""
            self.client.device_id = device  # log in again on the same device

        async def login() -> LoginResponse | ErrorResponse:
            response = await self.client.login(password, device_name=self.config.device_name)
            if isinstance(response, ErrorResponse) and _passing(response):
                raise _Retry(str(response))
            return response

        response = await self._patiently(login)
        if not isinstance(response, LoginResponse):
            # Refused (M_UNKNOWN "Password login has been disabled", M_FORBIDDEN): a wrong
            # password, or a server with no password login at all (MAS); its flows tell.
            try:
                offered = await offers_password(self.client)
            except NETWORK_ERRORS:
                offered = None  # the refusal below says enough
            if offered is False:
                raise ConfigError(no_password_login(self.config.homeserver))
            raise ConfigError(
                f"The homeserver at {self.config.homeserver} refused the password in "
                f"{PASSWORD_ENV} for {self.me} ({response.status_code}: {response.message})."
            )
        self.client.restore_login(self.me, response.device_id, response.access_token)
        await self.gateway.kv.set(
            self._key,
            json.dumps({"device_id": response.device_id, "access_token": response.access_token}),
        )

    async def _patiently(self, call: Callable[[], Awaitable[T]]) -> T:
        """Retry a start-up request while the homeserver is unreachable, then give up."""
        deadline = time.monotonic() + STARTUP_PATIENCE
        delay = BACKOFF_FIRST
        while True:
            try:
                return await call()
            except (*NETWORK_ERRORS, _Retry) as error:
                if time.monotonic() + delay > deadline:
                    raise ConfigError(
                        f"Cannot reach the Matrix homeserver at {self.config.homeserver} "
                        f"({type(error).__name__}: {error}); check [matrix] homeserver."
                    ) from None
                log.warning("homeserver not answering (%s); trying again in %.1f s", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
