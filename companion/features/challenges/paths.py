"""Where a challenge's path comes from: the shipped paths (content/paths.toml) and a
community's own (imported with `content import` or on the dashboard's Challenge page), each
of those found only in its own community."""

from __future__ import annotations

import json

from companion.commands import CommandSpec
from companion.content import Content, LearningPath, own_terms, path_of, with_terms
from companion.events import Invocation, Kind, Reply
from companion.fmt import as_md, bullets, code, fmt, italic, lines
from companion.store import Repositories, Store


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


class PathList:
    """`challenge paths`: the paths a challenge here can walk."""

    def __init__(self, store: Store, content: Content) -> None:
        self.store = store
        self.content = content

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "challenge paths",
                "The paths a challenge here can walk: shipped ones and this community's own",
                self.paths,
                in_direct=False,
            )
        ]

    async def paths(self, inv: Invocation) -> Reply:
        here = await paths_here(self.store, self.content, inv.place.community_id)
        items = [
            fmt(
                "{} {}, {} days{}",
                code(path.id),
                italic(path.title),
                len(path.days),
                as_md("") if shipped else fmt(" (this community's own)"),
            )
            for path, shipped in here
        ]
        return Reply(
            lines(
                fmt("**Learning paths here**"),
                bullets(items, empty="none"),
                fmt(
                    "Moderators: {} starts one. A community's own paths come in with "
                    "`content import` or on the dashboard's Challenge page.",
                    code("challenge start <path> YYYY-MM-DD [HH:MM]"),
                ),
            ),
            kind=Kind.LIST,
        )
