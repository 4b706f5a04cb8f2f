"""The two source articles (../shared/seeds/ beside the checkout), and what each one cites.

The seeds are not part of the repository; tests that read them skip where they are absent.
Set COMPANION_SEEDS to their directory to run those tests from anywhere.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Seed:
    file: str
    resource: str  # the seed's own id in resources.toml
    # Passages the seed quotes from another work: (that work's id, text just before the
    # passage, text just after it). A quote from inside one must name that work.
    cites: tuple[tuple[str, str, str], ...] = ()


SEEDS = (
    Seed(
        "allyship-and-accomplice-awaken.txt",
        "awaken-allyship-2019",
        (
            (
                "accomplices-not-allies",
                "Some highlights on being an accomplice:",
                "The Accomplice framework",
            ),
        ),
    ),
    Seed(
        "revisiting-allyship-newsletter.txt",
        "revisiting-allyship-2024",
        (
            ("the-wake-up", "from her excellent book", "Michelle MiJung Kim, The Wake Up\n"),
            ("the-wake-up", "asks this question in chapter 11:", "It’s a powerful reminder"),
        ),
    ),
)


def seeds_dir() -> Path | None:
    """COMPANION_SEEDS, else the first shared/seeds/ above this checkout (worktrees too)."""
    if os.environ.get("COMPANION_SEEDS"):
        return Path(os.environ["COMPANION_SEEDS"])
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "seeds").is_dir():
            return parent / "shared" / "seeds"
    return None


_MARKS = re.compile("[\"'\u2018\u2019\u201c\u201d]")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:?!])")


def flat(text: str) -> str:
    """Compare words, not typography: quote marks dropped, one space, no space before a comma.

    (The Awaken article has a stray space before a comma in its definition; the glossary
    quotes it without, and says so in a comment.)
    """
    text = _MARKS.sub("", text)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(text.split()))
