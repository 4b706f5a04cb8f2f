"""Move a community's own entries (its prompts) to and from a JSON file.

``companion content export`` writes them; ``companion content import`` validates the whole
file first and then adds everything in one transaction, so an error changes nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from companion.features.prompts import MAX_PROMPT, title_from
from companion.store import Store

FORMAT = "companion-community/1"
_TAG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class ExchangeError(Exception):
    """The file cannot be imported; the message says where and why."""


@dataclass(frozen=True, slots=True)
class ImportedPrompt:
    title: str
    text: str
    tags: tuple[str, ...]
    created_at: str


async def export_community(store: Store, community_id: str) -> str:
    prompts = await store.prompts.for_community(community_id)
    data = {
        "format": FORMAT,
        "community_id": community_id,
        "prompts": [
            {"title": p.title, "text": p.text, "tags": list(p.tags), "created_at": p.created_at}
            for p in prompts
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def parse(text: str) -> list[ImportedPrompt]:
    """Validate a whole export file; raise ExchangeError naming the entry and field."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as error:
        raise ExchangeError(f"not valid JSON: {error}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ExchangeError(f'not a Companion export (expected "format": "{FORMAT}")')
    prompts = data.get("prompts", [])
    if not isinstance(prompts, list):
        raise ExchangeError('"prompts" must be a list')
    parsed = []
    for index, item in enumerate(prompts, 1):
        where = f"prompts[{index}]"
        if not isinstance(item, dict):
            raise ExchangeError(f"{where} must be an object")
        body = item.get("text")
        if not isinstance(body, str) or not 10 <= len(body.strip()) <= MAX_PROMPT:
            raise ExchangeError(f'{where}, field "text": 10 to {MAX_PROMPT} characters of text')
        tags = item.get("tags", [])
        if not isinstance(tags, list) or not all(
            isinstance(t, str) and _TAG.match(t) for t in tags
        ):
            raise ExchangeError(f'{where}, field "tags": lowercase words joined by hyphens')
        created = item.get("created_at", "")
        try:
            datetime.fromisoformat(created)
        except (TypeError, ValueError):
            raise ExchangeError(f'{where}, field "created_at": an ISO date and time') from None
        title: object = item.get("title") or title_from(body.strip())
        if not isinstance(title, str) or len(title) > 100:
            raise ExchangeError(f'{where}, field "title": at most 100 characters')
        parsed.append(ImportedPrompt(title, body.strip(), tuple(tags), created))
    return parsed


async def import_community(store: Store, community_id: str, text: str) -> int:
    prompts = parse(text)
    rows = [(p.title, p.text, p.tags, None, p.created_at) for p in prompts]
    return await store.prompts.add_many(community_id, rows)
