"""Run a real PostgreSQL server (Debian's ``postgresql`` package) on loopback for tests.

The cluster lives in a temporary directory, listens on 127.0.0.1 on a free port (its Unix
socket in the same directory, never /var/run), trusts local connections, and is stopped by
pid in ``stop()``. As root, initdb and the server run as the ``postgres`` user, as they
refuse to run as root.

    with PostgresServer() as server:
        url = server.create_database("t1")   # postgresql://postgres@127.0.0.1:PORT/t1
"""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

HOST = "127.0.0.1"
PASSWORD_USER = "companion_pw"


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_bindir() -> Path | None:
    """Debian's versioned directory (newest first), or initdb on PATH."""
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = sorted(
            (p for p in root.iterdir() if (p / "bin" / "initdb").exists()),
            key=lambda p: int(p.name) if p.name.isdigit() else 0,
            reverse=True,
        )
        if versions:
            return versions[0] / "bin"
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    def __init__(self) -> None:
        bindir = find_bindir()
        if bindir is None:
            raise PostgresMissing(
                "PostgreSQL server binaries not found: apt-get install postgresql "
                "(the README's test section says why)"
            )
        self.bindir = bindir
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="companion-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_postgres = os.geteuid() == 0
        self._started = False
        self._counter = itertools.count(1)
        self._shared = False

    # --- lifecycle ------------------------------------------------------------------------

    def _run(
        self, *argv: str, check: bool = True, as_server: bool = True
    ) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self._as_postgres and as_server:
            command = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(command)]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=60)

    def start(self) -> None:
        if self._as_postgres:
            os.chmod(self.root, 0o755)  # mkdtemp is 0700 and root's: let postgres reach in
            self.data.mkdir(mode=0o700)
            shutil.chown(self.data, "postgres", "postgres")
            self.log.touch()
            shutil.chown(self.log, "postgres", "postgres")
        done = self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
            "--no-sync", check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip()}")
        # Everyone is trusted on loopback, except PASSWORD_USER, who must give a password:
        # that is how a test proves the store sends COMPANION_DATABASE_PASSWORD.
        hba = self.data / "pg_hba.conf"
        hba.write_text(f"host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        self.boot()

    def boot(self) -> None:
        """Start the server on the existing cluster (again after stop_server)."""
        options = (
            f"-p {self.port} -k {self.data} -c listen_addresses={HOST} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        done = self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start",
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {done.stderr}\n{self.log_tail()}")
        self._started = True

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server (its cluster stays); ``boot()`` starts it again."""
        if not self._started:
            return
        done = self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)
        if done.returncode != 0:
            self._kill()
        self._started = False

    def _kill(self) -> None:
        pid_file = self.data / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, signal.SIGQUIT)
            time.sleep(0.5)
        except (OSError, ValueError, IndexError):
            pass

    def stop(self) -> None:
        try:
            self.stop_server("immediate")  # throwaway data: no shutdown checkpoint
        finally:
            if not os.environ.get("COMPANION_KEEP_PG"):
                shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    # --- databases ------------------------------------------------------------------------

    def url(self, name: str = "postgres") -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/{name}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = self._run(
            "psql", "-h", HOST, "-p", str(self.port), "-U", "postgres", "-d", database,
            "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql, check=False, as_server=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def create_database(self, name: str, template: str = "template0") -> str:
        self.psql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def fresh_database(self) -> str:
        """The url of a new, empty schema in the shared test database: as good as an empty
        database to the store (everything it makes goes there), and ten times faster."""
        if not self._shared:
            self.create_database("companion_tests")
            self._shared = True
        name = f"t{next(self._counter)}"
        self.psql(f"CREATE SCHEMA {name}", "companion_tests")
        return f"{self.url('companion_tests')}?search_path={name}"
