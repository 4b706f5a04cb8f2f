"""The validated content is kept between starts (issue 24), and never served stale."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from companion import content as content_module
from companion.schema import ContentError

SHIPPED = content_module.default_dir()


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped content, and a cache directory of this test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    copy = tmp_path / "content"
    shutil.copytree(SHIPPED, copy)
    return copy


def cached(directory: Path) -> list[Path]:
    return sorted((content_module.cache_dir()).glob("content-*.pickle"))


def test_a_second_start_reads_the_kept_content_and_answers_the_same(files: Path) -> None:
    first = content_module.load(files)
    assert len(cached(files)) == 1
    again = content_module.load(files)
    assert again == first
    assert again.find_term("alyship") is again.terms["allyship"]  # typo forgiven, as before
    assert again.find_term("allyship").quote.source == "awaken-allyship-2019"


def test_an_edited_file_is_read_anew_never_the_kept_copy(files: Path) -> None:
    content_module.load(files)
    glossary = files / "glossary.toml"
    text = glossary.read_text(encoding="utf-8")
    edited = text.replace("A practice, not a title", "A PRACTICE, not a title", 1)
    assert edited != text and len(edited) == len(text)  # same size: only the bytes differ
    glossary.write_text(edited, encoding="utf-8")
    assert content_module.load(files).terms["allyship"].definition.startswith("A PRACTICE")
    assert len(cached(files)) == 1  # the copy of the old files is gone: the cache stays small
    glossary.write_text(text.replace('id = "allyship"', 'id = "Ally Ship"', 1), encoding="utf-8")
    with pytest.raises(ContentError):  # a broken edit is refused, not hidden by the cache
        content_module.load(files)


def test_a_damaged_cache_file_is_parsed_again(files: Path) -> None:
    content_module.load(files)
    (kept,) = cached(files)
    kept.write_bytes(b"not a pickle")
    assert content_module.load(files).terms["allyship"].term == "allyship"
    assert kept.read_bytes() != b"not a pickle"  # and kept again
