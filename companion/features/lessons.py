"""`myth` and `practice`: the common misunderstandings and the dos and don'ts."""

from __future__ import annotations

import random

from companion.commands import CommandSpec, Param, ParamType, UserError
from companion.content import Content, Myth, Practice, shown_at, work_shown_at
from companion.events import Invocation, Kind, Reply
from companion.fmt import Md, fmt, lines
from companion.store import Store


class Lessons:
    def __init__(self, content: Content, rng: random.Random, store: Store) -> None:
        self.content = content
        self.rng = rng
        self.store = store

    def commands(self) -> list[CommandSpec]:
        count = len(self.content.myths)
        return [
            CommandSpec(
                "myth",
                "A common myth about allyship, with its correction",
                self.myth,
                params=(
                    Param(
                        "number",
                        f"Which myth, 1 to {count}",
                        ParamType.INT,
                        required=False,
                        min_value=1,
                        max_value=max(count, 1),
                    ),
                ),
                examples=("myth", "myth 3"),
            ),
            CommandSpec(
                "practice",
                "A do or a don't of allyship, with the reason",
                self.practice,
                params=(Param("kind", "do or dont", required=False, choices=("do", "dont")),),
                examples=("practice", "practice dont"),
            ),
        ]

    async def myth(self, inv: Invocation) -> Reply:
        number = inv.args.get("number")
        if number is None:
            myth = self.rng.choice(self.content.myths)
        else:
            found = next((m for m in self.content.myths if m.number == number), None)
            if found is None:
                raise UserError(fmt("There is no myth {}.", number))
            myth = found
        return Reply(self.render_myth(myth), kind=Kind.LESSON)

    def render_myth(self, myth: Myth) -> Md:
        source = self.content.resources[myth.source]
        total = len(self.content.myths)
        return lines(
            fmt("**Myth {} of {}:** “{}”", myth.number, total, myth.myth),
            myth.correction,
            fmt("— adapted from {}", source.citation),
        )

    async def practice(self, inv: Invocation) -> Reply:
        kind = inv.args.get("kind")
        reached = None
        if not inv.place.is_direct:
            reached = await self.store.bookclubs.reached(inv.place.community_id, inv.at)
        pool = [
            p
            for p in self.content.practices
            if (kind is None or p.kind == kind)
            and shown_at(p.chapter, reached)
            # adapted from a work that waits for a chapter: it waits too (never unattributed)
            and (p.source is None or work_shown_at(self.content.resources[p.source], reached))
        ]
        if not pool:
            raise UserError("There is nothing of that kind in the practices yet.")
        return Reply(self.render_practice(self.rng.choice(pool)), kind=Kind.LESSON)

    def render_practice(self, practice: Practice) -> Md:
        label = "Do" if practice.kind == "do" else "Don't"
        parts = [fmt("**{}:** {}", label, practice.text), fmt("Why: {}", practice.reason)]
        if practice.source:
            source = self.content.resources[practice.source]
            parts.append(fmt("— adapted from {}", source.citation))
        return lines(*parts)
