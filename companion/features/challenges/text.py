"""What a challenge day says, the same in its thread and when a member opens it again."""

from __future__ import annotations

from companion.content import PATH_SOURCES, Content, LearningPath, PathDay
from companion.fmt import Md, as_md, bold, code, fmt, italic, join, lines

PART_NAMES = {
    "active-practice": "An active practice",
    "power-and-privilege": "Power and privilege",
    "equity-inclusion-justice": "Equity, inclusion and justice",
    "accountability": "Accountability to marginalized people's needs",
}
REVIEW_AFTER = (3, 10)  # a term met on day N comes back on days N+3 and N+10


def inline(text: str) -> Md:
    """Shipped text with `commands` in backticks shown as code; everything else escaped."""
    pieces = text.split("`")
    if len(pieces) % 2 == 0:  # an unpaired backtick: show it as typed
        return as_md(text)
    out = as_md("")
    for index, piece in enumerate(pieces):
        out = out + (code(piece) if index % 2 else as_md(piece))
    return out


def title(path: LearningPath, day: PathDay) -> str:
    """The day's thread name: plain text, at most 100 characters."""
    return f"Day {day.number} of {len(path.days)}: {day.title}"[:100]


def sources(content: Content, day: PathDay) -> Md:
    names: list[object] = []
    for kind in PATH_SOURCES:
        for ref in getattr(day, kind):
            if kind == "terms":
                names.append(fmt("glossary: {}", italic(content.terms[ref].term)))
            elif kind == "practices":
                practice = next(p for p in content.practices if p.id == ref)
                names.append(fmt("practice: {}", practice.text.rstrip(".")))
            elif kind == "myths":
                myth = next(m for m in content.myths if m.id == ref)
                names.append(fmt("myth {}", myth.number))
            elif kind == "resources":
                names.append(content.resources[ref].citation)
            else:
                names.append(fmt("reflection question: {}", content.reflections[ref].text))
    return join(names, "; ")


def day_text(content: Content, path: LearningPath, day: PathDay) -> Md:
    """The whole day, as posted in its thread: both options, the question, the sources."""
    part = PART_NAMES.get(day.part or "")
    heading = fmt("**Day {} of {}: {}**", day.number, len(path.days), day.title)
    return lines(
        heading + (fmt(" · {}", italic(part)) if part else as_md("")),
        fmt("{} {}", bold("About 5 minutes:"), inline(day.short)),
        fmt("{} {}", bold("About 30 minutes:"), inline(day.deeper)),
        fmt("{} {}", bold("For this thread:"), day.question),
        fmt("{} {}", italic("Sources:"), sources(content, day)),
        fmt(
            "`challenge done [note]` checks in privately (the note goes to your journal); "
            "{} shows this day again.",
            code(f"challenge day {day.number}"),
        ),
    )


def review_line(content: Content, term_id: str) -> Md:
    term = content.terms[term_id]
    return fmt(
        "What does {} mean to you? {} to check.",
        italic(term.term),
        code(f"define {term.term}"),
    )
