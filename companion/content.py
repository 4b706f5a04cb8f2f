"""The shipped texts: loaded from content/*.toml at start, validated, held in memory.

The bot refuses to start on invalid content; ``companion content check`` runs the same
validation without starting. See content/README.md for the file formats.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import re
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, cast

from companion.fmt import Md, italic, join
from companion.schema import (
    ContentError,
    Entries,
    Field,
    Problem,
    has_quotation,
    positive,
    question,
    read_lines,
    slug,
    url,
    validate_entries,
)

D = TypeVar("D")
RESOURCE_KINDS = ("book", "article", "talk", "podcast", "newsletter", "video", "website", "report")
FILES = (
    "tags.toml",
    "resources.toml",
    "glossary.toml",
    "reflections.toml",
    "prompts.toml",
    "myths.toml",
    "practices.toml",
    "plans.toml",
    "paths.toml",
)
# A challenge day is posted whole in one chat message; Discord holds 2,000 characters. The
# day's own texts and the names of its sources get this much; the frame around them (its
# heading, the labels, the check-in line) stays under the rest (a test renders every day).
DAY_BUDGET = 1650
PATH_PARTS = (
    "active-practice",
    "power-and-privilege",
    "equity-inclusion-justice",
    "accountability",
)
PATH_SOURCES = ("terms", "practices", "myths", "resources", "reflections")


class Resource(NamedTuple):
    id: str
    title: str
    creator: str
    kind: str
    tags: tuple[str, ...]
    year: int | None = None
    publisher: str | None = None
    url: str | None = None
    summary: str | None = None
    isbn: str | None = None
    # The id of a book this work quotes from beginning to end (a review listing its quotes):
    # shown with a note saying so, and held back wherever a book club is part way through.
    quotes_whole_book: str | None = None
    # A work that quotes or draws on one chapter of a book (its id): held back like every
    # entry tied to that chapter (see shown_at), and never a source of a challenge day.
    book: str | None = None
    chapter: int | None = None

    @property
    def citation(self) -> Md:
        """Author, *work*, year: the attribution shown with every quotation (the work in
        italics, every part escaped)."""
        bits: list[object] = [self.creator, italic(self.title)]
        if self.publisher:
            bits.append(self.publisher)
        if self.year:
            bits.append(str(self.year))
        return join(bits)


class Quote(NamedTuple):
    text: str
    source: str


class Term(NamedTuple):
    id: str
    term: str
    definition: str
    aliases: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()
    quote: Quote | None = None
    own_summary: bool = False  # the definition is our own summary; no one source defines it so


class Reflection(NamedTuple):
    id: str
    text: str
    tags: tuple[str, ...]
    source: str | None = None
    book: str | None = None  # with chapter: tied to that chapter of that book (see shown_at)
    chapter: int | None = None


class Prompt(NamedTuple):
    id: str
    title: str
    text: str
    tags: tuple[str, ...]
    source: str | None = None
    plan: str | None = None  # a book-club prompt, shown by a club on this plan at `chapter`
    book: str | None = None  # or a general prompt tied to `chapter` of this book
    chapter: int | None = None
    more_sources: tuple[str, ...] = ()  # further works the text relies on, cited after source


class Myth(NamedTuple):
    id: str
    number: int
    myth: str
    correction: str
    source: str


class Practice(NamedTuple):
    id: str
    kind: str  # "do" or "dont"
    text: str
    reason: str
    source: str | None = None
    book: str | None = None
    chapter: int | None = None


class Chapter(NamedTuple):
    number: int
    title: str | None = None


class Plan(NamedTuple):
    id: str
    title: str
    book: str | None
    pace_days: int
    chapters: int | None  # the verified total, when known
    min_chapters: int
    known: tuple[Chapter, ...] = ()


class PathDay(NamedTuple):
    """One day of a learning path: a short option, a deeper one, a question for the thread,
    and the shipped entries it draws on (glossary terms, practices, myths, resources,
    reflections), by id."""

    number: int
    title: str
    short: str
    deeper: str
    question: str
    part: str | None = None  # which part of Kim's definition the day belongs to
    terms: tuple[str, ...] = ()
    practices: tuple[str, ...] = ()
    myths: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    reflections: tuple[str, ...] = ()


class LearningPath(NamedTuple):
    id: str
    title: str
    summary: str
    days: tuple[PathDay, ...]

    def day(self, number: int) -> PathDay:
        return self.days[number - 1]


@dataclass(slots=True)
class Content:
    tags: dict[str, str]
    resources: dict[str, Resource]
    terms: dict[str, Term]
    reflections: dict[str, Reflection]
    prompts: dict[str, Prompt]
    myths: list[Myth]
    practices: list[Practice]
    plans: dict[str, Plan]
    paths: dict[str, LearningPath] = field(default_factory=dict)
    _names: dict[str, str] = field(default_factory=dict)
    _derived: dict[Callable[[Content], Any], Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for term in self.terms.values():
            for name in (term.id, term.term, *term.aliases):
                self._names.setdefault(normalize(name), term.id)

    def derived(self, make: Callable[[Content], D]) -> D:
        """make(self), computed once per version of the content (a feature's own index)."""
        try:
            return cast(D, self._derived[make])
        except KeyError:
            value = self._derived[make] = make(self)
            return value

    def replace_with(self, new: Content) -> None:
        """Become `new`, in place, in one step: every feature holds this one object.

        No await happens in here, so on the event loop a command sees either the old content
        or the new, never a mixture; what features derive from it is recomputed on next use.
        """
        for each in dataclasses.fields(self):
            setattr(self, each.name, getattr(new, each.name))
        self._derived = {}

    def find_term(self, query: str) -> Term | None:
        """Exact after normalizing, else one small typo away (plain Levenshtein ratio)."""
        key = normalize(query)
        if key in self._names:
            return self.terms[self._names[key]]
        from rapidfuzz import fuzz, process  # loaded on first fuzzy match: 3 MB RSS (issue 24)

        best = process.extractOne(key, list(self._names), scorer=fuzz.ratio, score_cutoff=85)
        return self.terms[self._names[best[0]]] if best else None

    def suggest_terms(self, query: str, limit: int = 3) -> list[Term]:
        from rapidfuzz import fuzz, process  # loaded on first fuzzy match: 3 MB RSS (issue 24)

        key = normalize(query)
        found = process.extract(
            key, list(self._names), scorer=fuzz.WRatio, limit=limit * 3, score_cutoff=55
        )
        terms: list[Term] = []
        for name, _, _ in found:
            term = self.terms[self._names[name]]
            if term not in terms:
                terms.append(term)
        return terms[:limit]


def shown_at(chapter: int | None, reached: int | None) -> bool:
    """Whether an entry tied to ``chapter`` may be shown where book clubs have read to ``reached``.

    ``reached`` is None where no book club is part way through a book: everything is shown.
    An entry tied to no chapter is always shown.
    """
    return chapter is None or reached is None or chapter <= reached


def work_shown_at(work: Resource, reached: int | None) -> bool:
    """Whether a work may be named, cited or linked where book clubs have read to ``reached``.

    The rule `resources` follows, for every place a work is shown: one that quotes a whole
    book waits while any club is part way through a book; one tied to a chapter waits until
    the club has reached it (see shown_at). Anything drawn from a work that waits, waits
    with it; where a term has other sources, only the work is left out of its list.
    """
    return reached is None or (work.quotes_whole_book is None and shown_at(work.chapter, reached))


_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)


def normalize(text: str) -> str:
    """Lowercase, hyphens and punctuation to spaces, single spaces."""
    text = text.lower().replace("-", " ").replace("_", " ")
    return " ".join(_PUNCT.sub("", text).split())


# --- schema -------------------------------------------------------------------------------

SCHEMAS: dict[str, tuple[str, tuple[Field, ...]]] = {
    "resources.toml": (
        "resource",
        (
            Field("id", str, True, check=slug),
            Field("title", str, True, max_len=200),
            Field("creator", str, True, max_len=200),
            Field("kind", str, True, choices=RESOURCE_KINDS),
            Field("tags", list, True, item_kind=str),
            Field("year", int, check=lambda y: None if 1800 <= y <= 2100 else "is not a year"),
            Field("publisher", str, max_len=120),
            Field("url", str, check=url),
            Field("summary", str, max_len=300),
            Field(
                "isbn",
                str,
                check=lambda v: (
                    None if re.fullmatch(r"\d{9}[\dX]|\d{13}", v) else "must be 10 or 13 digits"
                ),
            ),
            Field("quotes_whole_book", str),
            Field("book", str),
            Field("chapter", int, check=positive),
        ),
    ),
    "glossary.toml": (
        "term",
        (
            Field("id", str, True, check=slug),
            Field("term", str, True, max_len=60),
            Field("definition", str, True, max_len=600),
            Field("aliases", list, item_kind=str),
            Field("related", list, item_kind=str),
            Field("sources", list, item_kind=str),
            Field("parts", list, item_kind=str, max_len=400),
            Field("quote", dict),
            Field("own_summary", bool),
        ),
    ),
    "reflections.toml": (
        "reflection",
        (
            Field("id", str, True, check=slug),
            Field("text", str, True, max_len=280, check=question),
            Field("tags", list, True, item_kind=str),
            Field("source", str),
            Field("book", str),
            Field("chapter", int, check=positive),
        ),
    ),
    "prompts.toml": (
        "prompt",
        (
            Field("id", str, True, check=slug),
            Field("title", str, True, max_len=80),
            Field("text", str, True, max_len=600),
            Field("tags", list, True, item_kind=str),
            Field("source", str),
            Field("plan", str),
            Field("book", str),
            Field("chapter", int, check=positive),
            Field("more_sources", list, item_kind=str),
        ),
    ),
    "myths.toml": (
        "myth",
        (
            Field("id", str, True, check=slug),
            Field("number", int, True, check=positive),
            Field("myth", str, True, max_len=200),
            Field("correction", str, True, max_len=800),
            Field("source", str, True),
        ),
    ),
    "practices.toml": (
        "practice",
        (
            Field("id", str, True, check=slug),
            Field("kind", str, True, choices=("do", "dont")),
            Field("text", str, True, max_len=200),
            Field("reason", str, True, max_len=300),
            Field("source", str),
            Field("book", str),
            Field("chapter", int, check=positive),
        ),
    ),
    "plans.toml": (
        "plan",
        (
            Field("id", str, True, check=slug),
            Field("title", str, True, max_len=200),
            Field("book", str),
            Field("pace_days", int, check=positive),
            Field("chapters", int, check=positive),
            Field("min_chapters", int, check=positive),
            Field("chapter", list),
        ),
    ),
    "paths.toml": (
        "path",
        (
            Field("id", str, True, check=slug),
            Field("title", str, True, max_len=100),
            Field("summary", str, True, max_len=300),
            Field("day", list, True),
        ),
    ),
}
DAY_FIELDS = (
    Field("number", int, True, check=positive),
    Field("title", str, True, max_len=80),
    Field("part", str, choices=PATH_PARTS),
    Field("short", str, True, max_len=500),
    Field("deeper", str, True, max_len=700),
    Field("question", str, True, max_len=280, check=question),
    *(Field(name, list, item_kind=str) for name in PATH_SOURCES),
)


def default_dir() -> Path:
    """The shipped content: the installed ``companion_content`` package (content/ in a checkout).

    The wheel installs content/ as that package, and an editable install maps it back to the
    checkout's content/, so both find the same files through the import system.
    """
    import companion_content

    return Path(companion_content.__file__).resolve().parent


def load(directory: Path | None = None) -> Content:
    """Read and validate every content file; raise ContentError listing every problem.

    Parsing and validating the TOML takes ~25 ms of CPU at every start, on the way to the
    first reply; unpickling the result takes ~1.5 ms (issue 24). So a validated load is kept
    in the user's cache directory, under a key made of the files' bytes and of the code that
    reads them: any change to either is parsed and validated again, never served stale.
    """
    directory = Path(directory) if directory else default_dir()
    if not directory.is_dir():
        raise ContentError([Problem(str(directory), None, None, None, "no such directory")])
    cached = _cache_file(directory)
    if cached is not None:
        try:
            with cached.open("rb") as file:
                content = pickle.load(file)  # our own file, in the user's own cache
            if isinstance(content, Content):
                return content
        except Exception:  # missing, unreadable, from another version: parse the files
            pass
    content = _parse(directory)
    if cached is not None:
        _keep(cached, content)
    return content


def cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("companion", appauthor=False))


def _cache_file(directory: Path) -> Path | None:
    """Where the validated content of these exact files would be kept (None: a file is
    missing or unreadable, so the parse will say what is wrong)."""
    key = hashlib.blake2b(digest_size=20)
    key.update(f"{sys.version}\n{pickle.HIGHEST_PROTOCOL}\n".encode())
    try:
        # the code that parses and validates (this module, companion.schema) and companion.fmt
        for module in (__file__, sys.modules[ContentError.__module__].__file__):
            key.update(Path(module or "").read_bytes())
        key.update(Path(sys.modules[Md.__module__].__file__ or "").read_bytes())
        for name in FILES:
            data = (directory / name).read_bytes()
            key.update(f"{name}\0{len(data)}\0".encode())
            key.update(data)
    except OSError:
        return None
    return cache_dir() / f"content-{key.hexdigest()}.pickle"


def _keep(path: Path, content: Content) -> None:
    """Write the cache file atomically; a cache that cannot be written is only slower."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_bytes(pickle.dumps(content, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(partial, path)
        for older in path.parent.glob("content-*.pickle"):  # one kept: the cache never grows
            if older != path:
                older.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError):
        pass


def _parse(directory: Path) -> Content:
    raw: dict[str, dict[str, Any]] = {}
    lines: dict[str, list[str]] = {}
    problems: list[Problem] = []
    for name in FILES:
        path = directory / name
        if not path.exists():
            problems.append(Problem(name, None, None, None, "file is missing"))
            continue
        try:
            lines[name] = read_lines(path)
            raw[name] = tomllib.loads("\n".join(lines[name]))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            line = _toml_error_line(str(error))
            problems.append(Problem(name, line, None, None, f"not valid TOML: {error}"))
        except OSError as error:  # a directory by that name, a file this user may not read
            problems.append(Problem(name, None, None, None, f"cannot be read: {error.strerror}"))
    if problems:
        raise ContentError(problems)
    return _build(raw, lines)


def _toml_error_line(message: str) -> int | None:
    found = re.search(r"line (\d+)", message)
    return int(found.group(1)) if found else None


def _build(raw: dict[str, dict[str, Any]], lines: dict[str, list[str]]) -> Content:
    problems: list[Problem] = []
    tags_table = raw["tags.toml"].get("tags")
    if not isinstance(tags_table, dict) or not tags_table:
        problems.append(Problem("tags.toml", None, None, "tags", "needs a [tags] table"))
        tags_table = {}
    for tag, description in tags_table.items():
        if slug(tag) or not isinstance(description, str):
            msg = "each tag is a slug with a one-line description"
            problems.append(Problem("tags.toml", _line_of(lines["tags.toml"], tag), None, tag, msg))
    entries: dict[str, Entries] = {}
    for name, (table, fields) in SCHEMAS.items():
        items = raw[name].get(table, [])
        extra = set(raw[name]) - {table}
        if extra:
            problems.append(Problem(name, None, None, None, f"unexpected tables: {sorted(extra)}"))
        if not isinstance(items, list):
            problems.append(Problem(name, None, None, None, f"use [[{table}]] for each entry"))
            items = []
        entries[name] = Entries(name, table, items, lines[name])
        problems.extend(validate_entries(entries[name], fields))
    if any(not isinstance(i, dict) for e in entries.values() for i in e.items):
        raise ContentError(problems)
    problems.extend(_cross_check(entries, set(tags_table)))
    days = _day_entries(entries["paths.toml"])
    problems.extend(validate_entries(days, DAY_FIELDS))
    if problems:
        raise ContentError(problems)
    problems.extend(_check_paths(_known_entries(entries), days))
    if problems:
        raise ContentError(problems)
    return _assemble(entries, tags_table)


MAX_OWN_DAYS = 100  # a community's own path: at most this many days (each is two schedules)


def parse_paths(
    text: str, file: str, content: Content, own_terms: dict[str, Term]
) -> list[LearningPath]:
    """A community's own paths file, in the format of paths.toml, validated the same way:
    every problem names ``file`` and its line. Sources resolve against the shipped content
    and ``own_terms`` (the community's glossary additions, by :func:`term_slug`)."""
    lines = text.split("\n")  # as TOML counts lines (splitlines also breaks at U+2028)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = _toml_error_line(str(error))
        raise ContentError([Problem(file, line, None, None, f"not valid TOML: {error}")]) from None
    except ValueError:  # an integer of more digits than Python converts (4300)
        msg = "not valid TOML: a number with too many digits"
        raise ContentError([Problem(file, None, None, None, msg)]) from None
    except RecursionError:  # the parser recurses once per level: [[[[...]]]]
        raise ContentError([Problem(file, None, None, None, "nested too deeply")]) from None
    table, fields = SCHEMAS["paths.toml"]
    items = raw.get(table)
    problems: list[Problem] = []
    extra = set(raw) - {table}
    if extra:
        problems.append(Problem(file, None, None, None, f"unexpected tables: {sorted(extra)}"))
    if not isinstance(items, list) or not items:
        problems.append(Problem(file, None, None, None, f"use [[{table}]] for each path"))
        raise ContentError(problems)
    entries = Entries(file, table, items, lines)
    problems.extend(validate_entries(entries, fields))
    if any(not isinstance(i, dict) for i in items):
        raise ContentError(problems)
    for index, item in enumerate(items):
        if isinstance(item.get("id"), str) and item["id"] in content.paths:
            msg = "a shipped path has this id; choose another"
            problems.append(entries.problem(index, "id", msg))
        found = item.get("day")
        if isinstance(found, list) and not 1 <= len(found) <= MAX_OWN_DAYS:
            msg = f"from 1 to {MAX_OWN_DAYS} days"
            problems.append(entries.problem(index, "day", msg))
    days = _day_entries(entries)
    problems.extend(validate_entries(days, DAY_FIELDS))
    if problems:
        raise ContentError(problems)
    problems.extend(_check_paths(_known_content(content, own_terms), days))
    if problems:
        raise ContentError(problems)
    return [path_of(p) for p in items]


def term_slug(term: str) -> str:
    """How a path names a community's own glossary term: "Calling in" -> "calling-in"."""
    return "-".join(re.findall(r"[a-z0-9]+", term.lower()))[:40]


def own_terms(added: list[tuple[str, str]]) -> dict[str, Term]:
    """A community's glossary additions (term, definition) as terms a path can name."""
    return {term_slug(t): Term(term_slug(t), t, d) for t, d in added if term_slug(t)}


def with_terms(content: Content, terms: dict[str, Term]) -> Content:
    """The content plus a community's own terms (shipped ids win), to show its own path."""
    if not terms:
        return content
    merged = {**terms, **content.terms}
    return dataclasses.replace(content, terms=merged, _names={}, _derived={})


def path_of(p: dict[str, Any]) -> LearningPath:
    """A validated [[path]] table as a LearningPath."""
    days = tuple(
        PathDay(**{**d, **{k: tuple(d.get(k, ())) for k in PATH_SOURCES}}) for d in p["day"]
    )
    return LearningPath(p["id"], p["title"], p["summary"], days)


class _DayEntries(Entries):
    """Every path's days, in file order, so each lines up with its ``[[path.day]]`` header."""

    def __init__(self, paths: Entries, owners: list[str], days: list[dict[str, Any]]) -> None:
        super().__init__(paths.file, "path.day", days, paths.text_lines)
        self.owners = owners

    def label(self, index: int) -> str:
        number = self.items[index].get("number") if isinstance(self.items[index], dict) else None
        return f'path "{self.owners[index]}" day {number if isinstance(number, int) else "?"}'


def _day_entries(paths: Entries) -> _DayEntries:
    owners: list[str] = []
    days: list[dict[str, Any]] = []
    for item in paths.items:
        found = item.get("day") if isinstance(item, dict) else None
        for day in found if isinstance(found, list) else []:
            owners.append(str(item.get("id")))
            days.append(day)
    return _DayEntries(paths, owners, days)


Known = dict[str, dict[str, dict[str, Any]]]  # kind -> id -> the entry's fields


def _known_entries(entries: dict[str, Entries]) -> Known:
    return {
        "terms": {t["id"]: t for t in entries["glossary.toml"].items},
        "practices": {p["id"]: p for p in entries["practices.toml"].items},
        "myths": {m["id"]: m for m in entries["myths.toml"].items},
        "resources": {r["id"]: r for r in entries["resources.toml"].items},
        "reflections": {r["id"]: r for r in entries["reflections.toml"].items},
    }


def _known_content(content: Content, own: dict[str, Term]) -> Known:
    def fields(entry: Any) -> dict[str, Any]:  # as its file has it: a quote is a table
        return {
            k: v._asdict() if isinstance(v, Quote) else v
            for k, v in entry._asdict().items()
            if v is not None
        }

    return {
        "terms": {i: fields(t) for i, t in {**own, **content.terms}.items()},
        "practices": {p.id: fields(p) for p in content.practices},
        "myths": {m.id: fields(m) for m in content.myths},
        "resources": {i: fields(r) for i, r in content.resources.items()},
        "reflections": {i: fields(r) for i, r in content.reflections.items()},
    }


def _check_paths(known: Known, days: _DayEntries) -> list[Problem]:
    """Days 1..N in order, sources that resolve (and are tied to no chapter, nor quote a whole
    book: a day is shown to every member), quotations attributed, and a day that fits one
    chat message."""
    problems: list[Problem] = []
    expected: dict[str, int] = {}
    for i, day in enumerate(days.items):
        owner = days.owners[i]
        expected[owner] = expected.get(owner, 0) + 1
        if day.get("number") != expected[owner]:
            msg = f"days are numbered 1, 2, 3 ... in order: this one should be {expected[owner]}"
            problems.append(days.problem(i, "number", msg))
        size = sum(len(day.get(k, "")) for k in ("title", "short", "deeper", "question"))
        if not any(day.get(kind) for kind in PATH_SOURCES):
            msg = "name the sources the day draws on (terms, practices, myths, resources, ...)"
            problems.append(days.problem(i, "resources", msg))
        for kind in PATH_SOURCES:
            for ref in day.get(kind, []):
                entry = known[kind].get(ref)
                if entry is None:
                    hint = did_you_mean(ref, list(known[kind]))
                    problems.append(days.problem(i, kind, f'unknown id "{ref}"{hint}'))
                    continue
                if "chapter" in entry or "quotes_whole_book" in entry:
                    msg = f'"{ref}" is tied to a chapter of a book; a day is shown to everyone'
                    problems.append(days.problem(i, kind, msg))
                size += len(source_name(kind, entry))
        for name in ("short", "deeper", "question"):
            if has_quotation(day.get(name, "")) and not day.get("resources"):
                msg = "contains a quotation: its source comes first in resources"
                problems.append(days.problem(i, name, msg))
        if size > DAY_BUDGET:
            msg = f"the day is {size} characters with its sources' names; at most {DAY_BUDGET}"
            problems.append(days.problem(i, "short", msg))
    return problems


def source_name(kind: str, entry: dict[str, Any]) -> str:
    """How a day names one of its sources (plain text; the feature adds the markup)."""
    if kind == "terms":
        return f"glossary: {entry['term']}"
    if kind == "practices":
        return f"practice: {entry['text']}"
    if kind == "myths":
        return f"myth {entry['number']}"
    if kind == "reflections":
        return f"reflection question: {entry['text']}"
    year = f", {entry['year']}" if entry.get("year") else ""
    return f"{entry['creator']}, {entry['title']}{year}"


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _line_of(text_lines: list[str], key: str) -> int | None:
    for number, line in enumerate(text_lines, 1):
        if line.strip().startswith(key):
            return number
    return None


def _cross_check(entries: dict[str, Entries], tags: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    # Only text is an id: a list or a table where one belongs (`id = []`, reported as "must
    # be text") cannot be a key here, and must not end the check in a TypeError.
    resource_ids = {_text(r.get("id")) for r in entries["resources.toml"].items}
    term_ids = {_text(t.get("id")) for t in entries["glossary.toml"].items}
    plans = {_text(p.get("id")): p for p in entries["plans.toml"].items}

    def refs(e: Entries, i: int, name: str, known: set[Any], what: str) -> None:
        value = e.items[i].get(name)
        for ref in value if isinstance(value, list) else [value] if value else []:
            if isinstance(ref, str) and ref not in known:
                hint = did_you_mean(ref, [k for k in known if isinstance(k, str)])
                problems.append(e.problem(i, name, f'unknown {what} "{ref}"{hint}'))

    for e in entries.values():
        for i, item in enumerate(e.items):
            if isinstance(item.get("tags"), list):
                refs(e, i, "tags", tags, "tag (add it to tags.toml)")
            if "source" in item:
                refs(e, i, "source", resource_ids, "resource")
            for text_field in ("text", "myth"):
                value = item.get(text_field)
                if isinstance(value, str) and has_quotation(value) and "source" not in item:
                    msg = "contains a quotation, so it needs a source (a resource id)"
                    problems.append(e.problem(i, text_field, msg))
    glossary = entries["glossary.toml"]
    for i, item in enumerate(glossary.items):
        refs(glossary, i, "related", term_ids - {_text(item.get("id"))}, "term")
        refs(glossary, i, "sources", resource_ids, "resource")
        quote = item.get("quote")
        if isinstance(quote, dict):
            if set(quote) != {"text", "source"} or not all(
                isinstance(v, str) and v.strip() for v in quote.values()
            ):
                msg = "a quote is { text = ..., source = resource id }, both required"
                problems.append(glossary.problem(i, "quote", msg))
            elif quote["source"] not in resource_ids:
                problems.append(glossary.problem(i, "quote", f'unknown source "{quote["source"]}"'))
    for i, item in enumerate(glossary.items):
        if not item.get("sources") and item.get("own_summary") is not True:
            msg = "cite the sources the definition draws on, or mark it own_summary = true"
            problems.append(glossary.problem(i, "sources", msg))
    books = {_text(r.get("id")) for r in entries["resources.toml"].items if r.get("kind") == "book"}
    resources = entries["resources.toml"]
    for i, item in enumerate(resources.items):
        book = item.get("quotes_whole_book")
        if isinstance(book, str) and (book not in books or book == item.get("id")):
            msg = f'"{book}" is not another resource of kind book'
            problems.append(resources.problem(i, "quotes_whole_book", msg))
    waits = {  # works held back mid-book, and with them what is drawn from them
        r.get("id") for r in resources.items if "chapter" in r or "quotes_whole_book" in r
    }
    for name in ("reflections.toml", "prompts.toml", "practices.toml", "resources.toml"):
        problems.extend(_chapter_tags(entries[name], books, plans, waits))
    myths = entries["myths.toml"]
    for i, item in enumerate(myths.items):  # `myth N` is asked by number, whatever was read
        if item.get("source") in waits:
            msg = f'"{item["source"]}" waits for a chapter of a book; a myth is shown to everyone'
            problems.append(myths.problem(i, "source", msg))
    prompts = entries["prompts.toml"]
    for i, item in enumerate(prompts.items):
        refs(prompts, i, "more_sources", resource_ids, "resource")
        if "more_sources" in item and "source" not in item:
            msg = "further sources come after a source: give `source` first"
            problems.append(prompts.problem(i, "more_sources", msg))
        plan = plans.get(_text(item.get("plan", "")))
        if "plan" in item and plan is None:
            refs(prompts, i, "plan", set(plans), "plan")
        elif plan is not None and isinstance(item.get("chapter"), int):
            last = plan.get("chapters") if isinstance(plan.get("chapters"), int) else 10_000
            if item["chapter"] > last:
                problems.append(prompts.problem(i, "chapter", f"the plan has {last} chapters"))
    plan_entries = entries["plans.toml"]
    for i, item in enumerate(plan_entries.items):
        refs(plan_entries, i, "book", resource_ids, "resource")
        numbers = []
        chapters = item.get("chapter", [])
        for chapter in chapters if isinstance(chapters, list) else []:
            if not isinstance(chapter, dict) or not isinstance(chapter.get("number"), int):
                problems.append(plan_entries.problem(i, "chapter", "each needs a number"))
                continue
            if set(chapter) - {"number", "title"}:
                msg = "a chapter has only number and title"
                problems.append(plan_entries.problem(i, "chapter", msg))
            numbers.append(chapter["number"])
        if len(numbers) != len(set(numbers)):
            problems.append(plan_entries.problem(i, "chapter", "a chapter number is repeated"))
    return problems


def _chapter_tags(
    e: Entries, books: set[Any], plans: dict[Any, Any], waits: set[Any]
) -> list[Problem]:
    """`book` and `chapter` go together (a prompt's `plan` stands in for its book)."""
    problems: list[Problem] = []
    for i, item in enumerate(e.items):
        book, plan = item.get("book"), item.get("plan")
        if book is not None and plan is not None:
            problems.append(e.problem(i, "book", "give a plan or a book, not both"))
        elif "chapter" in item and book is None and plan is None:
            what = "a plan (book club) or a book" if e.table == "prompt" else "a book"
            problems.append(e.problem(i, "chapter", f"a chapter needs {what}"))
        elif book is not None and "chapter" not in item:
            problems.append(e.problem(i, "book", "a book needs the chapter the entry is tied to"))
        elif isinstance(book, str) and book not in books:
            problems.append(e.problem(i, "book", f'"{book}" is not a book in resources.toml'))
        elif isinstance(book, str) and isinstance(item.get("chapter"), int):
            for plan_item in plans.values():
                last = plan_item.get("chapters")
                if plan_item.get("book") == book and isinstance(last, int):
                    if item["chapter"] > last:
                        msg = f"the book has {last} chapters"
                        problems.append(e.problem(i, "chapter", msg))
    if e.table in ("reflection", "practice") and e.items:
        free = [  # shown to a club at chapter 0: no chapter, nor a source that waits
            item for item in e.items if "chapter" not in item and item.get("source") not in waits
        ]
        kinds = {_text(item.get("kind")) for item in e.items} if e.table == "practice" else {None}
        for kind in sorted(kinds, key=str):
            if not any(item.get("kind") == kind for item in free):
                what = f"{e.table} ({kind})" if kind else e.table
                msg = (
                    f"at least one {what} must be tied to no chapter (nor cite a work tied to"
                    " one), for clubs just starting"
                )
                problems.append(Problem(e.file, None, None, "chapter", msg))
    return problems


def _assemble(entries: dict[str, Entries], tags: dict[str, str]) -> Content:
    def items(name: str) -> list[dict[str, Any]]:
        return entries[name].items

    def tup(item: dict[str, Any], key: str) -> tuple[str, ...]:
        return tuple(item.get(key, ()))

    resources = {
        r["id"]: Resource(**{**r, "tags": tup(r, "tags")}) for r in items("resources.toml")
    }
    terms = {
        t["id"]: Term(
            id=t["id"],
            term=t["term"],
            definition=t["definition"],
            aliases=tup(t, "aliases"),
            related=tup(t, "related"),
            sources=tup(t, "sources"),
            parts=tup(t, "parts"),
            quote=Quote(**t["quote"]) if "quote" in t else None,
            own_summary=t.get("own_summary", False),
        )
        for t in items("glossary.toml")
    }
    reflections = {
        r["id"]: Reflection(**{**r, "tags": tup(r, "tags")}) for r in items("reflections.toml")
    }
    prompts = {
        p["id"]: Prompt(**{**p, "tags": tup(p, "tags"), "more_sources": tup(p, "more_sources")})
        for p in items("prompts.toml")
    }
    myths = sorted((Myth(**m) for m in items("myths.toml")), key=lambda m: m.number)
    practices = [Practice(**p) for p in items("practices.toml")]
    plans = {}
    for p in items("plans.toml"):
        known = tuple(sorted((Chapter(**c) for c in p.get("chapter", [])), key=lambda c: c.number))
        highest = max((c.number for c in known), default=1)
        plans[p["id"]] = Plan(
            id=p["id"],
            title=p["title"],
            book=p.get("book"),
            pace_days=p.get("pace_days", 7),
            chapters=p.get("chapters"),
            min_chapters=p.get("min_chapters", p.get("chapters", highest)),
            known=known,
        )
    paths = {p["id"]: path_of(p) for p in items("paths.toml")}
    return Content(tags, resources, terms, reflections, prompts, myths, practices, plans, paths)


def did_you_mean(ref: str, choices: list[str]) -> str:
    """' (did you mean "x"?)' for the closest of ``choices``, or nothing."""
    from rapidfuzz import fuzz, process  # loaded on a miss: 3 MB RSS (issue 24)

    close = process.extractOne(ref, choices, scorer=fuzz.ratio, score_cutoff=70)
    return f' (did you mean "{close[0]}"?)' if close else ""
