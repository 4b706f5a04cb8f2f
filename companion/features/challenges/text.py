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
            name = _source(content, kind, ref)
            if name is not None:  # a community's own term removed since its path was written
                names.append(name)
    return join(names, "; ")


def _source(content: Content, kind: str, ref: str) -> Md | None:
    if kind == "terms":
        term = content.terms.get(ref)
        return fmt("glossary: {}", italic(term.term)) if term else None
    if kind == "practices":
        practice = next((p for p in content.practices if p.id == ref), None)
        return fmt("practice: {}", practice.text.rstrip(".")) if practice else None
    if kind == "myths":
        myth = next((m for m in content.myths if m.id == ref), None)
        return fmt("myth {}", myth.number) if myth else None
    if kind == "resources":
        resource = content.resources.get(ref)
        return resource.citation if resource else None
    reflection = content.reflections.get(ref)
    return fmt("reflection question: {}", reflection.text) if reflection else None


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
            "{} shows this day again, {} checks it in later.",
            code(f"challenge day {day.number}"),
            code(f"challenge catchup {day.number}"),
        ),
    )


def review_line(content: Content, term_id: str) -> Md | None:
    term = content.terms.get(term_id)
    if term is None:
        return None
    return fmt(
        "What does {} mean to you? {} to check.",
        italic(term.term),
        code(f"define {term.term}"),
    )
