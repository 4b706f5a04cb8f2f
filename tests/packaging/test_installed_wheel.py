"""The installed package is the product: build it, install it in a fresh venv, run it elsewhere.

An editable install finds content/ and the migrations in the checkout, so it hides every
packaging defect. These tests build the sdist, build the wheel *from that sdist* (so both
must carry the shipped files), install the wheel into a new virtual environment and run
``companion`` from a directory outside the checkout, as a user would after ``pip install``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _run(*cmd: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _shipped() -> set[str]:
    """The tracked files an installed Companion needs: content, migrations, the dashboard's
    templates and static files."""
    tracked = _run(
        "git", "ls-files", "content", "companion/store/migrations", "companion/web", cwd=ROOT
    )
    suffixes = {".toml", ".sql", ".html", ".css", ".js"}
    return {Path(p).name for p in tracked.split() if Path(p).suffix in suffixes}


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sdist, wheel), the wheel built from the sdist."""
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: build with this venv's setuptools (the test extra pins the same floor as
    # [build-system]) instead of downloading a fresh build environment twice per run.
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT)
    return next(out.glob("companion-*.tar.gz")), next(out.glob("companion-*.whl"))


@pytest.fixture(scope="session")
def installed(built: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the wheel (and its dependencies) installed: its bin/ directory."""
    venv = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", venv)
    _run(venv / "bin" / "python", "-m", "pip", "install", "-q", built[1])
    return venv / "bin"


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment for running the installed command far from the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["HOME"] = str(tmp_path / "home")  # a user data directory of its own
    env["XDG_DATA_HOME"] = str(tmp_path / "home" / ".local" / "share")
    yield env


def test_the_sdist_and_the_wheel_carry_content_and_migrations(built: tuple[Path, Path]) -> None:
    sdist, wheel = built
    with tarfile.open(sdist) as tar:
        in_sdist = {Path(n).name for n in tar.getnames()}
    in_wheel = {Path(n).name for n in zipfile.ZipFile(wheel).namelist()}
    needed = _shipped()
    assert needed, "no content or migrations tracked?"
    assert needed <= in_sdist, f"sdist lacks {sorted(needed - in_sdist)}"
    assert needed <= in_wheel, f"wheel lacks {sorted(needed - in_wheel)}"


def test_the_wheel_carries_every_module_of_the_checkout(built: tuple[Path, Path]) -> None:
    """A package missing from pyproject's list is missing from the wheel: its import fails
    only for users, and only once that code runs (a lazily imported adapter, a feature)."""
    installed_as = {"companion/": "companion/", "adapters/": "companion_adapters/"}
    tracked = _run("git", "ls-files", "companion", "adapters", cwd=ROOT).split()
    modules = {
        installed_as[prefix] + path.removeprefix(prefix)
        for path in tracked
        if path.endswith(".py")
        for prefix in installed_as
        if path.startswith(prefix)
    }
    in_wheel = set(zipfile.ZipFile(built[1]).namelist())
    assert modules, "no modules tracked?"
    assert sorted(modules - in_wheel) == []


def test_the_installed_wheel_answers_outside_the_checkout(
    installed: Path, elsewhere: dict[str, str], tmp_path: Path
) -> None:
    work = tmp_path / "somewhere"
    work.mkdir()
    answer = _run(installed / "companion", "ask", "define allyship", cwd=work, env=elsewhere)
    assert "Allyship" in answer and "Kim" in answer, answer
    # It made its database in the user's data directory, not in the checkout or the cwd.
    assert list((tmp_path / "home").rglob("companion.db")), "no database in the data dir"
    assert not list(work.iterdir())


def test_the_installed_wheel_checks_its_own_content(
    installed: Path, elsewhere: dict[str, str], tmp_path: Path
) -> None:
    checked = _run(installed / "companion", "content", "check", cwd=tmp_path, env=elsewhere)
    assert checked.startswith("content OK in "), checked
    where = Path(checked.removeprefix("content OK in ").split(":")[0])
    assert ROOT not in where.parents, f"checked the checkout's content, not the installed: {where}"
    assert "site-packages" in where.parts


def test_the_installed_wheel_knows_its_version(
    installed: Path, elsewhere: dict[str, str], tmp_path: Path
) -> None:
    import tomllib

    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    shown = _run(installed / "companion", "--version", cwd=tmp_path, env=elsewhere)
    assert shown.strip() == f"companion {expected}"
