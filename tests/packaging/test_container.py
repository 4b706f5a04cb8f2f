"""The container image (Containerfile), built and run with nothing pulled from a registry.

``.ci/container build`` makes a Debian base with mmdebstrap from this machine's own apt
sources, imports it, and builds the image on it (README: Run in a container). The image then
runs with no network, as the README shows: ``--version``, ``ask``, two containers sharing the
/data volume, ``run`` without a config, and the health check with [metrics] on.
Select with ``-m container``; under CI a missing podman is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT

pytestmark = [pytest.mark.container, pytest.mark.slow]
CI_SCRIPT = ROOT / ".ci" / "container"


def _podman(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(CI_SCRIPT), "podman", *args], capture_output=True, text=True, timeout=timeout
    )
    if check:
        assert done.returncode == 0, f"podman {args} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def image() -> str:
    missing = [
        tool for tool in ("podman", "buildah", "runc", "mmdebstrap") if not shutil.which(tool)
    ]
    if missing:
        message = f"{', '.join(missing)} not installed: sh .ci/system-packages"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    built = subprocess.run(
        [str(CI_SCRIPT), "build"], capture_output=True, text=True, timeout=900, cwd=ROOT
    )
    assert built.returncode == 0, f"the image did not build:\n{built.stdout}\n{built.stderr}"
    return built.stdout.strip().splitlines()[-1]


@pytest.fixture
def volume() -> Iterator[str]:
    name = f"companion-test-{uuid.uuid4().hex[:12]}"
    _podman("volume", "create", name)
    try:
        yield name
    finally:
        _podman("volume", "rm", "--force", name, check=False)


def _run(image: str, *args: str, volume: str | None = None) -> subprocess.CompletedProcess[str]:
    """`podman run` as the README shows it, with no network and no health-check timer (this
    machine has no systemd to run one)."""
    mounts = ["--volume", f"{volume}:/data"] if volume else []
    return _podman(
        "run", "--rm", "--network", "none", "--no-healthcheck", *mounts, image, *args,
        check=False,
    )  # fmt: skip


def test_the_image_prints_its_version(image: str) -> None:
    import tomllib

    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    done = _run(image, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"companion {expected}"


def test_the_image_answers_offline_as_a_non_root_user(image: str) -> None:
    done = _run(image, "ask", "define allyship")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "Allyship" in done.stdout and "Kim" in done.stdout, done.stdout
    user = _podman("image", "inspect", "--format", "{{.Config.User}}", image).stdout.strip()
    assert user and user not in ("root", "0"), user


def test_a_reflection_outlives_its_container_on_the_data_volume(image: str, volume: str) -> None:
    wrote = _run(image, "ask", "reflect answer I listened before speaking", volume=volume)
    assert wrote.returncode == 0, wrote.stderr
    read = _run(image, "ask", "journal", volume=volume)
    assert read.returncode == 0, read.stderr
    assert "I listened before speaking" in read.stdout, read.stdout
    elsewhere = _run(image, "ask", "journal")  # a container without the volume: not there
    assert "I listened before speaking" not in elsewhere.stdout


def test_run_without_a_config_says_so(image: str) -> None:
    done = _run(image)  # the default command: run --config /config/companion.toml
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "No config file at /config/companion.toml" in done.stderr, done.stderr


def test_the_health_check_asks_healthz_when_metrics_are_on(
    image: str, volume: str, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "companion.toml").write_text('[console]\n[metrics]\nbind = "0.0.0.0"\n')
    (config / "off.toml").write_text("[console]\n")
    (config / "nobody.toml").write_text("[console]\n[metrics]\nport = 9\n")
    config.chmod(0o755)
    name = f"companion-test-{uuid.uuid4().hex[:12]}"
    shown = _podman("image", "inspect", "--format", "{{.Config.Healthcheck.Test}}", image)
    assert "healthcheck --config /config/companion.toml" in shown.stdout, shown.stdout
    # -i: the terminal adapter's input stays open, so `run` keeps serving.
    _podman(
        "run", "--detach", "--interactive", "--name", name, "--network", "none",
        "--no-healthcheck", "--volume", f"{volume}:/data",
        "--volume", f"{config}:/config:ro", image,
    )  # fmt: skip
    try:
        check = ["exec", name, "companion", "healthcheck", "--config"]
        deadline = time.monotonic() + 30
        while _podman(*check, "/config/companion.toml", check=False).returncode != 0:
            assert time.monotonic() < deadline, _podman("logs", name, check=False).stderr
            time.sleep(0.2)
        assert _podman(*check, "/config/off.toml", check=False).returncode == 0
        refused = _podman(*check, "/config/nobody.toml", check=False)
        assert refused.returncode == 1, (refused.stdout, refused.stderr)
        listing = _podman("exec", name, "ls", "/data/companion").stdout.split()
        assert {"companion.db", "companion.key", "companion.pid"} <= set(listing), listing
    finally:
        _podman("rm", "--force", "--time", "2", name, check=False)
