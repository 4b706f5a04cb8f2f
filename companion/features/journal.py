"""A private journal: a member's answers to the day's reflection, shown only to them."""

from __future__ import annotations

from companion.commands import CommandSpec, Param, ParamType, UserError
from companion.content import Content
from companion.events import Invocation, Kind, Reply
from companion.features.communities import Communities
from companion.features.reflections import Reflections
from companion.fmt import code, fmt, lines
from companion.store import Store

MAX_ENTRY = 4000
PAGE = 5


class Journal:
    def __init__(
        self, store: Store, content: Content, communities: Communities, reflections: Reflections
    ) -> None:
        self.store = store
        self.content = content
        self.communities = communities
        self.reflections = reflections

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "reflect answer",
                "Keep your answer to today's reflection in your private journal",
                self.answer,
                params=(
                    Param("text", "Your answer", ParamType.TEXT, rest=True, max_length=MAX_ENTRY),
                ),
                private=True,
            ),
            CommandSpec(
                "journal",
                "Your own journal entries, newest first (only you see them)",
                self.journal,
                params=(
                    Param(
                        "page",
                        "Which page, from 1",
                        ParamType.INT,
                        required=False,
                        min_value=1,
                        max_value=10_000,
                    ),
                ),
                private=True,
            ),
        ]

    async def answer(self, inv: Invocation) -> Reply:
        text = str(inv.args["text"]).strip()
        community = inv.place.community_id
        day = inv.at.astimezone(self.communities.zone(community)).date()
        question = await self.reflections.for_day(community, day)
        await self.store.members.add_journal(
            community, inv.actor.id, day.isoformat(), question.id, text, inv.at
        )
        return Reply(
            fmt("Kept in your journal; only you can read it (`journal`)."),
            kind=Kind.CONFIRMATION,
        )

    async def journal(self, inv: Invocation) -> Reply:
        page = inv.number("page", 1)
        rows = await self.store.members.journal(inv.actor.id, PAGE, (page - 1) * PAGE)
        if not rows:
            if page > 1:
                raise UserError("There are no entries on that page.")
            return Reply(
                fmt(
                    "Your journal is empty. Answer today's question with "
                    "`reflect answer <your thoughts>`; only you will see it."
                )
            )
        parts = [fmt("**Your journal** (page {}; only you can see this)", page)]
        for row in rows:
            question = self.content.reflections.get(row.reflection_id)
            asked = fmt(" · {}", question.text) if question else ""
            parts.append(fmt("- **{}**{}\n  {}", row.day, asked, row.text))
        if len(rows) == PAGE:
            parts.append(fmt("Older: {}", code(f"journal {page + 1}")))
        return Reply(lines(*parts), kind=Kind.LIST)
