"""The built sdist and wheel, and fresh virtual environments with the wheel installed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_ok(*cmd: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sdist, wheel), the wheel built from the sdist."""
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: build with this venv's setuptools (the test extra pins the same floor as
    # [build-system]) instead of downloading a fresh build environment twice per run.
    run_ok(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT)
    return next(out.glob("companion-*.tar.gz")), next(out.glob("companion-*.whl"))


@pytest.fixture(scope="session")
def installed(built: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the wheel (and its dependencies) installed: its bin/ directory."""
    venv = tmp_path_factory.mktemp("venv")
    run_ok(sys.executable, "-m", "venv", venv)
    run_ok(venv / "bin" / "python", "-m", "pip", "install", "-q", built[1])
    return venv / "bin"


@pytest.fixture(scope="session")
def installed_with_extras(
    built: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A fresh venv with the wheel and its postgresql and matrix extras (not e2e): bin/."""
    venv = tmp_path_factory.mktemp("venv-extras")
    run_ok(sys.executable, "-m", "venv", venv)
    run_ok(venv / "bin" / "python", "-m", "pip", "install", "-q", f"{built[1]}[postgresql,matrix]")
    return venv / "bin"


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment for running the installed command far from the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["HOME"] = str(tmp_path / "home")  # a user data directory of its own
    env["XDG_DATA_HOME"] = str(tmp_path / "home" / ".local" / "share")
    yield env
