"""Move a community's own entries (prompts, resources, glossary terms) to and from JSON.

``companion content export`` writes them; ``companion content import`` validates the whole
file first and then adds everything in one transaction, so an error changes nothing.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from companion import links
from companion.commands import UserError
from companion.features.prompts import MAX_PROMPT, title_from
from companion.store import Store
from companion.store.exchange import Entries

FORMAT = "companion-community/1"
_TAG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class ExchangeError(Exception):
    """The file cannot be imported; the message says where and why."""


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
    except RecursionError:  # the parser recurses once per level: [[[[...]]]]
        raise ExchangeError("nested too deeply to be an export") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ExchangeError(f'not a Companion export (expected "format": "{FORMAT}")')
    prompts = []
    for where, item in _items(data, "prompts"):
        body = _text(item, "text", where, 10, MAX_PROMPT)
        title = item.get("title") or title_from(body)
        if not isinstance(title, str) or len(title) > 100:
            raise ExchangeError(f'{where}, field "title": at most 100 characters')
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
