"""The installed package is the product: build it, install it in a fresh venv, run it elsewhere.

An editable install finds content/ and the migrations in the checkout, so it hides every
packaging defect. These tests build the sdist, build the wheel *from that sdist* (so both
must carry the shipped files), install the wheel into a new virtual environment and run
``companion`` from a directory outside the checkout, as a user would after ``pip install``.
"""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT, run_ok

pytestmark = pytest.mark.slow


def _shipped() -> set[str]:
    """The tracked files an installed Companion needs: content, migrations, the dashboard's
    templates and static files."""
    tracked = run_ok(
        "git", "ls-files", "content", "companion/store/migrations", "companion/web", cwd=ROOT
    )
    suffixes = {".toml", ".sql", ".html", ".css", ".js"}
    return {Path(p).name for p in tracked.split() if Path(p).suffix in suffixes}


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
    tracked = run_ok("git", "ls-files", "companion", "adapters", cwd=ROOT).split()
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
    answer = run_ok(installed / "companion", "ask", "define allyship", cwd=work, env=elsewhere)
    assert "Allyship" in answer and "Kim" in answer, answer
    # It made its database in the user's data directory, not in the checkout or the cwd.
    assert list((tmp_path / "home").rglob("companion.db")), "no database in the data dir"
    assert not list(work.iterdir())


def test_the_installed_wheel_checks_its_own_content(
    installed: Path, elsewhere: dict[str, str], tmp_path: Path
) -> None:
    checked = run_ok(installed / "companion", "content", "check", cwd=tmp_path, env=elsewhere)
    assert checked.startswith("content OK in "), checked
    where = Path(checked.removeprefix("content OK in ").split(":")[0])
    assert ROOT not in where.parents, f"checked the checkout's content, not the installed: {where}"
    assert "site-packages" in where.parts


def test_the_installed_wheel_knows_its_version(
    installed: Path, elsewhere: dict[str, str], tmp_path: Path
) -> None:
    import tomllib

    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    shown = run_ok(installed / "companion", "--version", cwd=tmp_path, env=elsewhere)
    assert shown.strip() == f"companion {expected}"
