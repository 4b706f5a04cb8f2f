"""Run a real Synapse homeserver on loopback for tests.

The server listens on 127.0.0.1 only, keeps its SQLite database, signing key, config and
logs in a temporary directory, and has every rate limit raised so tests never wait on
429 responses. Users are registered through the shared-secret admin API, which returns
an access token directly (no ``/login`` round trip).

Typical use::

    with SynapseServer() as server:
        alice = server.register("alice")
        # AsyncClient(server.base_url, alice.user_id).restore_login(...)
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

SERVER_NAME = "localhost"
HOST = "127.0.0.1"

_RATE = {"per_second": 10000, "burst_count": 100000}

# Every rc_* setting Synapse 1.163 reads (synapse/config/ratelimiting.py), raised.
# rc_federation is left out: it has a different shape and federation is off.
_RATE_LIMITS: dict[str, Any] = {
    "rc_message": _RATE,
    "rc_registration": _RATE,
    "rc_registration_token_validity": _RATE,
    "rc_login": {"address": _RATE, "account": _RATE, "failed_attempts": _RATE},
    "rc_admin_redaction": _RATE,
    "rc_joins": {"local": _RATE, "remote": _RATE},
    "rc_joins_per_room": _RATE,
    "rc_key_requests": _RATE,
    "rc_3pid_validation": _RATE,
    "rc_invites": {"per_room": _RATE, "per_user": _RATE, "per_issuer": _RATE},
    "rc_third_party_invite": _RATE,
    "rc_media_create": _RATE,
    "rc_presence": {"per_user": _RATE},
    "rc_delayed_event_mgmt": _RATE,
    "rc_room_creation": _RATE,
    "rc_reports": _RATE,
    "rc_user_directory": _RATE,
    "rc_profile": _RATE,
}

# Never send loopback requests through a proxy taken from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class SynapseError(RuntimeError):
    """Synapse failed to start, died, or answered a request with an error."""


@dataclass(frozen=True)
class RegisteredUser:
    """A user created on the test server, ready for ``AsyncClient.restore_login``."""

    user_id: str
    access_token: str
    device_id: str
    password: str

    @property
    def localpart(self) -> str:
        return self.user_id[1:].split(":", 1)[0]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class SynapseServer:
    """A Synapse homeserver in a subprocess, bound to 127.0.0.1 on a free port.

    ``start()`` creates the data directory and config on first use; ``restart()`` keeps
    the port and the data (users, tokens, rooms survive); ``stop()`` ends the process and,
    unless ``keep_data`` is set, removes the data directory.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        startup_timeout: float = 30.0,
        keep_data: bool = False,
        password_login: bool = True,
    ) -> None:
        self._requested_port = port
        # False: a server that signs people in elsewhere (the Matrix Authentication Service,
        # as matrix.org does): /login offers no m.login.password. The shared-secret admin
        # registration still works, and gives tokens.
        self._password_login = password_login
        self._port: int | None = None
        self._startup_timeout = startup_timeout
        self._keep_data = keep_data
        self._data_dir: Path | None = None
        self._shared_secret = secrets.token_hex(32)
        self._proc: subprocess.Popen[bytes] | None = None
        self._stdout: Any = None
        self._peak_rss_kib: int | None = None
        self.start_seconds: float | None = None
        """Wall time of the last start (spawn until /versions answered)."""

    # -- properties -----------------------------------------------------------------

    @property
    def server_name(self) -> str:
        return SERVER_NAME

    @property
    def port(self) -> int:
        if self._port is None:
            raise SynapseError("SynapseServer has not been started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def data_dir(self) -> Path:
        if self._data_dir is None:
            raise SynapseError("SynapseServer has not been started")
        return self._data_dir

    @property
    def log_path(self) -> Path:
        """Synapse's own log (WARNING and above)."""
        return self.data_dir / "homeserver.log"

    @property
    def output_path(self) -> Path:
        """The subprocess's stdout and stderr."""
        return self.data_dir / "synapse.out"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{SERVER_NAME}"

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> SynapseServer:
        """Start the server and block until it answers ``/_matrix/client/versions``."""
        if self.running:
            raise SynapseError("SynapseServer is already running")
        if self._data_dir is None:
            self._data_dir = Path(tempfile.mkdtemp(prefix="companion-synapse-"))
            self._port = self._requested_port or _free_port()
            self._write_config()
            atexit.register(self._atexit)
        try:
            self._spawn()
        except BaseException:
            self._terminate()
            raise
        return self

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 5 s) and remove the data."""
        try:
            self._terminate()
        finally:
            if self._data_dir is not None and not self._keep_data:
                shutil.rmtree(self._data_dir, ignore_errors=True)
                self._data_dir = None
                self._port = None
            atexit.unregister(self._atexit)

    def restart(self) -> None:
        """Stop and start again on the same port with the same data directory."""
        self._terminate()
        self._spawn()

    async def arestart(self) -> None:
        """``restart()`` in a worker thread, so the event loop (and a bot on it) keeps running."""
        await asyncio.to_thread(self.restart)

    def __enter__(self) -> SynapseServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def peak_rss_kib(self) -> int | None:
        """Peak resident memory (VmHWM) of the running process, or of the last one."""
        self._sample_rss()
        return self._peak_rss_kib

    # -- users and requests ---------------------------------------------------------

    def register(
        self,
        localpart: str,
        password: str | None = None,
        admin: bool = False,
        displayname: str | None = None,
    ) -> RegisteredUser:
        """Create a user with the shared-secret admin API and return its access token."""
        password = password if password is not None else secrets.token_urlsafe(16)
        nonce = str(self.request_json("GET", "/_synapse/admin/v1/register")["nonce"])
        mac = hmac.new(self._shared_secret.encode(), digestmod=hashlib.sha1)
        for part in (nonce, localpart, password):
            mac.update(part.encode("utf-8"))
            mac.update(b"\x00")
        mac.update(b"admin" if admin else b"notadmin")
        body: dict[str, Any] = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        if displayname is not None:
            body["displayname"] = displayname
        reply = self.request_json("POST", "/_synapse/admin/v1/register", body)
        return RegisteredUser(
            user_id=str(reply["user_id"]),
            access_token=str(reply["access_token"]),
            device_id=str(reply["device_id"]),
            password=password,
        )

    def request_json(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        access_token: str | None = None,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Send one JSON request to the server; raise ``SynapseError`` on HTTP errors."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if access_token is not None:
            request.add_header("Authorization", f"Bearer {access_token}")
        try:
            with _OPENER.open(request, timeout=timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", errors="replace")
            raise SynapseError(f"{method} {path} -> {err.code}: {detail}") from err
        result = json.loads(payload) if payload else {}
        if not isinstance(result, dict):
            raise SynapseError(f"{method} {path} returned non-object JSON: {result!r}")
        return result

    # -- internals ------------------------------------------------------------------

    def _write_config(self) -> None:
        from signedjson.key import generate_signing_key, write_signing_keys

        data = self.data_dir
        key_path = data / "signing.key"
        with key_path.open("w") as key_file:
            write_signing_keys(key_file, [generate_signing_key("a_test")])

        log_config = {
            "version": 1,
            "formatters": {
                "precise": {"format": "%(asctime)s %(name)s %(lineno)d %(levelname)s %(message)s"}
            },
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "formatter": "precise",
                    "filename": str(self.log_path),
                    "encoding": "utf8",
                }
            },
            "root": {"level": "WARNING", "handlers": ["file"]},
            "disable_existing_loggers": False,
        }
        log_config_path = data / "log.config.yaml"
        log_config_path.write_text(json.dumps(log_config, indent=2))

        config: dict[str, Any] = {
            "server_name": SERVER_NAME,
            "public_baseurl": f"http://{HOST}:{self.port}/",
            "pid_file": str(data / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": [HOST],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {
                "name": "sqlite3",
                "args": {"database": str(data / "homeserver.db")},
            },
            "log_config": str(log_config_path),
            "media_store_path": str(data / "media_store"),
            "signing_key_path": str(key_path),
            "registration_shared_secret": self._shared_secret,
            "enable_registration": False,
            "report_stats": False,
            "enable_metrics": False,
            "enable_media_repo": False,
            "url_preview_enabled": False,
            "presence": {"enabled": False},
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "bcrypt_rounds": 4,
            **_RATE_LIMITS,
        }
        if not self._password_login:
            config["password_config"] = {"enabled": False}
        # JSON is valid YAML, and needs no YAML library here.
        (data / "homeserver.yaml").write_text(json.dumps(config, indent=2))

    def _spawn(self) -> None:
        config_path = self.data_dir / "homeserver.yaml"
        self._peak_rss_kib = None
        self._stdout = self.output_path.open("ab")
        started = time.monotonic()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", "-c", str(config_path)],
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=subprocess.STDOUT,
        )
        deadline = started + self._startup_timeout
        url = f"{self.base_url}/_matrix/client/versions"
        while True:
            code = self._proc.poll()
            if code is not None:
                raise SynapseError(
                    f"Synapse exited with code {code} during startup\n{self._logs()}"
                )
            try:
                with _OPENER.open(url, timeout=1.0) as response:
                    if response.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise SynapseError(
                    f"Synapse did not answer {url} within {self._startup_timeout:.0f} s\n"
                    f"{self._logs()}"
                )
            time.sleep(0.05)
        self.start_seconds = time.monotonic() - started

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        try:
            if proc is not None and proc.poll() is None:
                self._sample_rss(proc.pid)
                try:
                    os.kill(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
                except ProcessLookupError:
                    pass
        finally:
            if self._stdout is not None:
                self._stdout.close()
                self._stdout = None

    def _sample_rss(self, pid: int | None = None) -> None:
        pid = pid if pid is not None else self.pid
        if pid is None:
            return
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                self._peak_rss_kib = int(line.split()[1])
                return

    def _logs(self) -> str:
        return (
            f"--- {self.output_path} ---\n{_tail(self.output_path)}\n"
            f"--- {self.log_path} ---\n{_tail(self.log_path)}"
        )

    def _atexit(self) -> None:
        # Last resort if a test run is interrupted before its fixture tears down.
        self._terminate()
