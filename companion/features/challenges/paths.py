"""Where a challenge's path comes from: the shipped paths (content/paths.toml) and a
community's own (imported with `content import` or on the dashboard's Challenge page), each
of those found only in its own community."""

from __future__ import annotations

import json

from companion.content import Content, LearningPath, own_terms, path_of, with_terms
from companion.store import Repositories


async def find_path(
    repos: Repositories, content: Content, community_id: str, path_id: str
) -> tuple[LearningPath, Content] | None:
    """The path and the content to show it with (a community's own path may name the
    community's own glossary terms), or None when there is no such path here."""
    shipped = content.paths.get(path_id)
    if shipped is not None:
        return shipped, content
    row = await repos.challenges.own_path(community_id, path_id)
    if row is None:
        return None
    path = own_path(row.path_id, row.title, row.summary, row.days)
    if not any(day.terms for day in path.days):
        return path, content
    terms = own_terms(await repos.contributions.terms(community_id))
    return path, with_terms(content, terms)


def own_path(path_id: str, title: str, summary: str, days: str) -> LearningPath:
    return path_of({"id": path_id, "title": title, "summary": summary, "day": json.loads(days)})


async def paths_here(
    repos: Repositories, content: Content, community_id: str
) -> list[tuple[LearningPath, bool]]:
    """Every path a challenge here can walk: (path, shipped?), the shipped ones first."""
    own = [
        own_path(r.path_id, r.title, r.summary, r.days)
        for r in await repos.challenges.own_paths(community_id)
    ]
    return [(p, True) for _, p in sorted(content.paths.items())] + [(p, False) for p in own]
