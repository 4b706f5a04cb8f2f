"""deploy/companion.service: systemd accepts it, it is hardened, and it matches Companion.

`systemd-analyze` ships in Debian's systemd package, which .ci/run installs: in CI a missing
tool is a failure, elsewhere the systemd checks are skipped (the others still run).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from companion.cli import _parser
from companion_adapters.discord.config import TOKEN_VARIABLE
from companion_adapters.matrix.settings import TOKEN_ENV

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "companion.service"
INSTALLED = "/opt/companion/bin/companion"  # where the unit expects the installed command


def _settings() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def _analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing in CI: .ci/run installs the systemd package")
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    return tool


def _unit_with_this_command(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's installed `companion`: verify
    checks that the binary exists, and /opt/companion is a server's path, not this machine's."""
    here = Path(sys.executable).with_name("companion")
    assert here.exists(), "the test venv has the companion console script"
    copy = tmp_path / "companion.service"
    copy.write_text(UNIT.read_text(encoding="utf-8").replace(INSTALLED, str(here)), "utf-8")
    return copy


def test_systemd_verifies_the_unit(tmp_path: Path) -> None:
    tool = _analyze()
    unit = _unit_with_this_command(tmp_path)
    done = subprocess.run(
        [tool, "verify", str(unit)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
    # The shipped file itself: the only complaint allowed is the server path missing here.
    shipped = subprocess.run(
        [tool, "verify", str(UNIT)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    problems = [line for line in shipped.stderr.splitlines() if line.strip()]
    assert (
        problems
        == [f"companion.service: Command {INSTALLED} is not executable: No such file or directory"]
        or problems == []
    ), problems


def test_systemd_rates_the_unit_well_hardened(tmp_path: Path) -> None:
    tool = _analyze()
    unit = _unit_with_this_command(tmp_path)
    done = subprocess.run(
        [tool, "security", "--offline=yes", "--threshold=20", str(unit)],  # exposure <= 2.0
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert "Overall exposure level for companion.service" in done.stdout


def test_unit_is_hardened_and_passes_secrets_as_credentials() -> None:
    settings = _settings()
    for key, value in {
        "DynamicUser": "yes",
        "StateDirectory": "companion",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "ExecReload": "/bin/kill -HUP $MAINPID",
    }.items():
        assert settings.get(key) == [value], key
    assert settings["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
    credentials = dict(v.split(":", 1) for v in settings["LoadCredential"])
    environment = dict(v.split("=", 1) for v in settings["Environment"])
    # The NAME_FILE variables Companion reads, each pointing at a loaded credential.
    for variable in (TOKEN_VARIABLE, TOKEN_ENV):
        path = environment[f"{variable}_FILE"]
        assert path.startswith("%d/") and path.removeprefix("%d/") in credentials
    assert not any("TOKEN=" in v or "PASSWORD=" in v for v in settings["Environment"])


def test_unit_command_line_is_one_companion_accepts() -> None:
    (command,) = _settings()["ExecStart"]
    argv = shlex.split(command)
    assert argv[0] == INSTALLED
    args = _parser().parse_args(argv[1:])
    assert args.func.__name__ == "_run" and str(args.config) == "/etc/companion/companion.toml"
