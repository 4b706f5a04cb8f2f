"""Move a community's own entries (prompts, resources, glossary terms) to and from JSON,
and its own learning paths to and from TOML (the format of content/paths.toml).

``companion content export`` writes them; ``companion content import`` validates the whole
file first and then adds everything in one transaction, so an error changes nothing. A paths
file is validated as the shipped paths are, and each error names the file and its line.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from companion import links
from companion.commands import UserError, clean
from companion.content import PATH_SOURCES, Content, LearningPath, own_terms, parse_paths
from companion.features.challenges.paths import own_path
from companion.features.prompts import MAX_PROMPT, title_from
from companion.schema import ContentError
from companion.store import Store
from companion.store.exchange import Entries

FORMAT = "companion-community/1"
_TAG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class ExchangeError(Exception):
    """The file cannot be imported; the message says where and why."""


MAX_FILE = 8 * 1024 * 1024  # bytes `content import` reads: far above any real export


def decode(data: bytes, name: str) -> str:
    """A file's bytes as text, or ExchangeError: both formats are UTF-8 (a leading
    byte-order mark is dropped); anything else would import garbled text."""
    if not data.strip():
        raise ExchangeError(f"{name}: the file is empty")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        at = error.start
        raise ExchangeError(
            f"{name}: not UTF-8 text (byte {data[at]:#04x} at offset {at}); save it as UTF-8"
        ) from None


async def export_community(store: Store, community_id: str) -> str:
    prompts = await store.prompts.for_community(community_id)
    resources = await store.contributions.resources(community_id)
    terms = await store.contributions.terms_added(community_id)
    data = {
        "format": FORMAT,
        "community_id": community_id,
        "prompts": [
            {"title": p.title, "text": p.text, "tags": list(p.tags), "created_at": p.created_at}
            for p in prompts
        ],
        "resources": [
            {"url": r.url, "title": r.title, "tags": list(r.tags), "added_at": r.added_at}
            for r in reversed(resources)  # oldest first, as they were added
        ],
        "terms": [{"term": t, "definition": d, "added_at": at} for t, d, at in terms],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def parse(text: str) -> Entries:
    """Validate a whole export file; raise ExchangeError naming the entry and field."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as error:
        raise ExchangeError(f"not valid JSON: {error}") from None
    except ValueError:  # an integer of more digits than Python converts (4300)
        raise ExchangeError("not valid JSON: a number with too many digits") from None
    except RecursionError:  # the parser recurses once per level: [[[[...]]]]
        raise ExchangeError("nested too deeply to be an export") from None
    try:  # "\ud800" is valid JSON but no character: the database could not store it
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ExchangeError("not valid text: an escape for half a character (\\ud800)") from None
    except RecursionError:
        raise ExchangeError("nested too deeply to be an export") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ExchangeError(f'not a Companion export (expected "format": "{FORMAT}")')
    prompts = []
    for where, item in _items(data, "prompts"):
        body = _text(item, "text", where, 10, MAX_PROMPT)
        title = item.get("title") or title_from(body)
        if not isinstance(title, str) or len(title) > 100:
            raise ExchangeError(f'{where}, field "title": at most 100 characters')
        title = clean(title)
        prompts.append((title, body, _tags(item, where), _when(item, "created_at", where)))
    resources = []
    for where, item in _items(data, "resources"):
        url = _text(item, "url", where, 8, links.MAX_URL)
        try:
            key = links.normalize(url)
        except UserError as error:
            raise ExchangeError(f'{where}, field "url": {error}') from None
        title = _text(item, "title", where, 1, 200)
        resources.append((url, key, title, _tags(item, where), _when(item, "added_at", where)))
    terms = []
    for where, item in _items(data, "terms"):
        term = _text(item, "term", where, 1, 60)
        definition = _text(item, "definition", where, 15, 600)
        terms.append((term, definition, _when(item, "added_at", where)))
    return Entries(prompts, resources, terms)


def _items(data: dict[str, Any], name: str) -> list[tuple[str, dict[str, Any]]]:
    items = data.get(name, [])
    if not isinstance(items, list):
        raise ExchangeError(f'"{name}" must be a list')
    for index, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise ExchangeError(f"{name}[{index}] must be an object")
    return [(f"{name}[{index}]", item) for index, item in enumerate(items, 1)]


def _text(item: dict[str, Any], field: str, where: str, shortest: int, longest: int) -> str:
    value = item.get(field)
    if isinstance(value, str):
        # As typed text is: no control character, NUL or lone surrogate (a JSON "\ud800"
        # decodes to one, and neither store can keep it).
        value = clean(value)
    if not isinstance(value, str) or not shortest <= len(value.strip()) <= longest:
        raise ExchangeError(f'{where}, field "{field}": {shortest} to {longest} characters')
    return value.strip()


def _tags(item: dict[str, Any], where: str) -> tuple[str, ...]:
    tags = item.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and _TAG.match(t) for t in tags):
        raise ExchangeError(f'{where}, field "tags": lowercase words joined by hyphens')
    return tuple(tags)


def _when(item: dict[str, Any], field: str, where: str) -> str:
    value = item.get(field, "")
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ExchangeError(f'{where}, field "{field}": an ISO date and time') from None
    return str(value)


async def import_community(store: Store, community_id: str, text: str) -> int:
    entries = parse(text)
    await store.exchange.add_all(community_id, entries)
    return len(entries.prompts) + len(entries.resources) + len(entries.terms)


# --- a community's own learning paths (TOML) ------------------------------------------------

MAX_PROBLEMS = 5  # shown of a paths file's problems; the first few are enough to fix


def is_paths_file(text: str) -> bool:
    """A paths file is TOML, which cannot start with "{" as every JSON export does."""
    return not text.lstrip("\ufeff \t\r\n").startswith("{")


async def import_paths(
    store: Store, content: Content, community_id: str, text: str, file: str, now: datetime
) -> list[str]:
    """Validate a whole paths file against the shipped content and the community's own
    glossary terms, then add (or replace) its paths in one transaction; their ids.

    A path a challenge here walks is not replaced: its days would change under it."""
    terms = own_terms(await store.contributions.terms(community_id))
    try:
        paths = parse_paths(text, file, content, terms)
    except ContentError as error:
        shown = "; ".join(str(p) for p in error.problems[:MAX_PROBLEMS])
        more = len(error.problems) - MAX_PROBLEMS
        raise ExchangeError(shown + (f"; and {more} more" if more > 0 else "")) from None
    ids = [p.id for p in paths]  # unique: parse_paths refuses a duplicate id
    walked = await store.challenges.paths_walked(community_id) & set(ids)
    if walked:
        raise ExchangeError(
            f'{file}: a challenge here walks "{sorted(walked)[0]}"; end it before replacing it'
        )
    rows = [(p.id, p.title, p.summary, json.dumps(_days(p), ensure_ascii=False)) for p in paths]
    await store.challenges.put_paths(community_id, rows, now)
    return ids


def _days(path: LearningPath) -> list[dict[str, Any]]:
    days = []
    for day in path.days:
        fields: dict[str, Any] = {
            "number": day.number,
            "title": day.title,
            "part": day.part,
            "short": day.short,
            "deeper": day.deeper,
            "question": day.question,
        }
        fields.update({kind: list(getattr(day, kind)) for kind in PATH_SOURCES})
        days.append({k: v for k, v in fields.items() if v not in (None, [])})
    return days


async def export_paths(store: Store, community_id: str) -> str:
    """The community's own paths as a paths file `content import` takes back."""
    out = [
        "# A community's own learning paths, for `challenge start`: the format of",
        "# content/paths.toml. `companion content import` and the dashboard take it back.",
    ]
    for row in await store.challenges.own_paths(community_id):
        path = own_path(row.path_id, row.title, row.summary, row.days)
        out += ["", "[[path]]"]
        out += [f"{k} = {_toml(getattr(path, k))}" for k in ("id", "title", "summary")]
        for day in _days(path):
            out += ["", "[[path.day]]"]
            out += [f"{key} = {_toml(value)}" for key, value in day.items()]
    return "\n".join(out) + "\n"


def _toml(value: object) -> str:
    """A TOML value: a JSON string is a TOML basic string (the same escapes), an int is an
    int, and a list of strings is an array. DEL, which JSON leaves as it is, is escaped."""
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
