"""Reading plans for book clubs: the shipped ones (content/plans.toml) and a community's own."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from companion.commands import CommandSpec, Param, ParamType, UserError
from companion.content import Content
from companion.events import Invocation, Kind, Reply
from companion.fmt import code, fmt, italic, join
from companion.store import Store

MAX_CHAPTERS = 200


@dataclass(frozen=True, slots=True)
class PlanView:
    ref: str  # "s:<slug>" shipped, "c:<id>" the community's own
    name: str  # what members type
    title: str
    chapters: int | None  # the verified total, when known
    min_chapters: int
    pace_days: int = 7
    titles: dict[int, str] = field(default_factory=dict)

    def chapter_label(self, number: int) -> str:
        title = self.titles.get(number)
        return f"chapter {number}: {title}" if title else f"chapter {number}"


def slugify(title: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", title.lower()))[:40].strip("-") or "plan"


class Plans:
    def __init__(self, store: Store, content: Content) -> None:
        self.store = store
        self.content = content

    @property
    def shipped(self) -> dict[str, PlanView]:
        return self.content.derived(_shipped)

    async def all_for(self, community_id: str) -> list[PlanView]:
        own = [
            PlanView(f"c:{row.id}", row.slug, row.title, row.chapters, row.chapters)
            for row in await self.store.bookclubs.plans(community_id)
        ]
        return [*self.shipped.values(), *own]

    async def find(self, community_id: str, name: str) -> PlanView:
        wanted = name.strip().lower()
        plans = await self.all_for(community_id)
        for plan in plans:
            if plan.name == wanted:
                return plan
        names = join(code(p.name) for p in plans)
        raise UserError(
            fmt("There is no reading plan {}. Plans here: {}.", code(wanted[:40]), names)
        )

    async def by_ref(self, community_id: str, ref: str) -> PlanView:
        for plan in await self.all_for(community_id):
            if plan.ref == ref:
                return plan
        raise UserError("This club's reading plan no longer exists.")

    async def prompts(self, plan: PlanView, first: int, last: int) -> list[tuple[int, str]]:
        """(chapter, prompt text) for chapters first..last, shipped and the community's."""
        if plan.ref.startswith("s:"):
            found = [
                (p.chapter, p.text)
                for p in self.content.prompts.values()
                if p.plan == plan.name and p.chapter is not None and first <= p.chapter <= last
            ]
            return sorted(found, key=lambda item: item[0])
        rows = await self.store.bookclubs.plan_prompts(int(plan.ref[2:]), last)
        return [(chapter, text) for chapter, text in rows if chapter >= first]

    async def complete(self, inv: Invocation, partial: str) -> Sequence[str]:
        names = [p.name for p in await self.all_for(inv.place.community_id)]
        return [n for n in names if n.startswith(partial.lower())][:25]

    # --- `bookclub plan create|prompt` ---------------------------------------------------

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "bookclub plan",
                "Make a reading plan for another book, or add a prompt to one of its chapters",
                self.plan,
                params=(
                    Param("action", "create or prompt", choices=("create", "prompt")),
                    Param(
                        "details",
                        'create: "TITLE" CHAPTERS; prompt: PLAN CHAPTER TEXT',
                        ParamType.TEXT,
                        rest=True,
                        max_length=800,
                    ),
                ),
                moderator_only=True,
                in_direct=False,
                examples=(
                    'bookclub plan create "So You Want to Talk About Race" 17',
                    "bookclub plan prompt so-you-want-to-talk-about-race 1 What surprised you?",
                ),
            )
        ]

    async def plan(self, inv: Invocation) -> Reply:
        details = str(inv.args["details"]).strip()
        if inv.args["action"] == "create":
            return await self._create(inv, details)
        return await self._add_prompt(inv, details)

    async def _create(self, inv: Invocation, details: str) -> Reply:
        match = re.fullmatch(r'["\u201c](.+?)["\u201d]\s+(\d+)|(.+?)\s+(\d+)', details)
        if not match:
            raise UserError(
                fmt(
                    "Write the title, then the number of chapters: "
                    '`bookclub plan create "Title" 12`.'
                )
            )
        title = (match.group(1) or match.group(3)).strip()
        chapters = int(match.group(2) or match.group(4))
        if not 1 <= chapters <= MAX_CHAPTERS:
            raise UserError(fmt("A plan has 1 to {} chapters.", MAX_CHAPTERS))
        if len(title) > 150:
            raise UserError("A title can be at most 150 characters.")
        slug = slugify(title)
        if slug in self.shipped:
            raise UserError(
                fmt("{} is a shipped plan already; start a club on it instead.", code(slug))
            )
        created = await self.store.bookclubs.add_plan(
            inv.place.community_id, slug, title, chapters, inv.actor.id, inv.at
        )
        if created is None:
            raise UserError(fmt("This community already has a plan called {}.", code(slug)))
        return Reply(
            fmt(
                "Created the reading plan {}: {}, {} chapters. Add chapter prompts with {}.",
                code(slug),
                italic(title),
                chapters,
                code(f"bookclub plan prompt {slug} <chapter> <text>"),
            ),
            kind=Kind.CONFIRMATION,
        )

    async def _add_prompt(self, inv: Invocation, details: str) -> Reply:
        parts = details.split(maxsplit=2)
        if len(parts) < 3 or not parts[1].isdecimal():
            raise UserError(
                fmt(
                    "Write the plan, the chapter and the prompt: `bookclub plan prompt "
                    "my-book 3 What did this chapter ask of you?`"
                )
            )
        plan = await self.find(inv.place.community_id, parts[0])
        if plan.ref.startswith("s:"):
            raise UserError("Shipped plans get their prompts from the content files (content/).")
        chapter, text = int(parts[1]), parts[2].strip()
        if not 1 <= chapter <= (plan.chapters or 0):
            raise UserError(fmt("{} has chapters 1 to {}.", code(plan.name), plan.chapters))
        if not 10 <= len(text) <= 600:
            raise UserError("A prompt is 10 to 600 characters.")
        await self.store.bookclubs.add_plan_prompt(int(plan.ref[2:]), chapter, text, inv.at)
        return Reply(
            fmt("Added a prompt to chapter {} of {}.", chapter, code(plan.name)),
            kind=Kind.CONFIRMATION,
        )


def _shipped(content: Content) -> dict[str, PlanView]:
    return {
        plan.id: PlanView(
            ref=f"s:{plan.id}",
            name=plan.id,
            title=content.resources[plan.book].title if plan.book else plan.title,
            chapters=plan.chapters,
            min_chapters=plan.min_chapters,
            pace_days=plan.pace_days,
            titles={c.number: c.title for c in plan.known if c.title},
        )
        for plan in content.plans.values()
    }
