"""`audit`: who approved, rejected or blocked what, and when (newest first)."""

from __future__ import annotations

from companion.commands import CommandSpec
from companion.events import Invocation, Kind, Reply
from companion.fmt import bullets, fmt, lines
from companion.store import Store


class Audit:
    def __init__(self, store: Store) -> None:
        self.store = store

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "audit",
                "Who approved, rejected or blocked what, and when",
                self.audit,
                moderator_only=True,
                in_direct=False,
            ),
        ]

    async def audit(self, inv: Invocation) -> Reply:
        rows = await self.store.contributions.audit(inv.place.community_id)
        if not rows:
            return Reply("Nothing has been reviewed here yet.", kind=Kind.LIST)
        items = []
        for row in rows:
            who = row.actor_id or "a former member"
            why = fmt(": {}", row.detail) if row.detail else ""
            at = row.at[:16].replace("T", " ")
            items.append(fmt("{} {} {} {}{}", at, who, row.action, row.target, why))
        return Reply(
            lines(fmt("**Moderation log** (newest first)"), bullets(items)), kind=Kind.LIST
        )
