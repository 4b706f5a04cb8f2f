"""What members see of a book club: `bookclub` (the status), `bookclub schedule`, and the
spoiler-safe pair: `bookclub progress` (private; others see only a count, and only from five
on, as for challenges) and `bookclub prompts`, which shows prompts up to the chapter a member
has reached and none past it.
"""

from __future__ import annotations

from companion.commands import CommandSpec, Param, ParamType, UserError
from companion.events import Invocation, Kind, Reply
from companion.features.bookclub.clubs import club_here, local
from companion.features.bookclub.plans import Plans
from companion.fmt import bold, bullets, fmt, lines, shown_count
from companion.store import Store
from companion.store.schedules import iso


class Reading:
    def __init__(self, store: Store, plans: Plans) -> None:
        self.store = store
        self.plans = plans

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "bookclub",
                "This channel's book club: the book, this week's chapter, the next discussion",
                self.status,
                aliases=("bookclub status",),
                in_direct=False,
            ),
            CommandSpec(
                "bookclub progress",
                "Mark how far you have read (only you see it)",
                self.progress,
                params=(
                    Param(
                        "chapter",
                        "The last chapter you finished",
                        ParamType.INT,
                        min_value=0,
                        max_value=200,
                    ),
                ),
                private=True,
                in_direct=False,
            ),
            CommandSpec(
                "bookclub prompts",
                "Prompts for the chapters you have reached, no further",
                self.prompts,
                private=True,
                in_direct=False,
            ),
            CommandSpec(
                "bookclub schedule",
                "Every chapter with its discussion date",
                self.schedule,
                in_direct=False,
            ),
        ]

    async def status(self, inv: Invocation) -> Reply:
        club = await club_here(self.store, inv)
        sessions = await self.store.bookclubs.sessions(club.id)
        now = iso(inv.at)
        opened = [s for s in sessions if s.state == "planned" and s.opens_at <= now]
        upcoming = [s for s in sessions if s.state == "planned" and s.opens_at > now]
        plan = await self.plans.by_ref(club.community_id, club.plan_ref)
        parts: list[object] = [
            fmt("{} ({} chapters)", bold(fmt("Book club: {}", club.title)), club.chapters)
        ]
        current = opened[-1].chapter if opened else 1
        if opened:
            parts.append(
                fmt(
                    "This week: {} (discussion opened {})",
                    plan.chapter_label(current),
                    local(club, opened[-1].opens_at),
                )
            )
        if club.status == "paused":
            parts.append(fmt("The club is paused; a moderator can `bookclub resume` it."))
        elif upcoming:
            nxt = upcoming[0]
            parts.append(
                fmt(
                    "Next discussion: {}, {}",
                    plan.chapter_label(nxt.chapter),
                    local(club, nxt.opens_at),
                )
            )
        else:
            parts.append("Every chapter has been discussed.")
        done = await self.store.bookclubs.finished_count(club.id, current)
        parts.append(
            fmt("{} members have marked chapter {} done.", shown_count(done).capitalize(), current)
        )
        return Reply(lines(*parts))

    async def progress(self, inv: Invocation) -> Reply:
        club = await club_here(self.store, inv)
        chapter = inv.number("chapter")
        if chapter > club.chapters:
            raise UserError(fmt("This book has {} chapters.", club.chapters))
        await self.store.bookclubs.set_progress(club.id, inv.actor.id, chapter, inv.at)
        if chapter == 0:
            return Reply(
                "Noted: you have not started yet. Only you can see this.", kind=Kind.CONFIRMATION
            )
        return Reply(
            fmt(
                "Noted: you have read up to chapter {} of {}. "
                "Only you can see this; `bookclub prompts` shows prompts up to there.",
                chapter,
                club.chapters,
            ),
            kind=Kind.CONFIRMATION,
        )

    async def prompts(self, inv: Invocation) -> Reply:
        club = await club_here(self.store, inv)
        reached = await self.store.bookclubs.progress(club.id, inv.actor.id)
        if reached == 0:
            raise UserError(
                fmt(
                    "Tell me how far you have read first, with `bookclub progress "
                    "<chapter>`: I only show prompts for chapters you have reached."
                )
            )
        plan = await self.plans.by_ref(club.community_id, club.plan_ref)
        found = await self.plans.prompts(plan, 1, reached)
        if not found:
            return Reply(fmt("There are no prompts yet for chapters 1 to {}.", reached))
        return Reply(
            lines(
                fmt("**Prompts up to chapter {}** (nothing past where you are)", reached),
                bullets(fmt("{}: {}", plan.chapter_label(c), text) for c, text in found),
            ),
            kind=Kind.PROMPT,
        )

    async def schedule(self, inv: Invocation) -> Reply:
        club = await club_here(self.store, inv)
        plan = await self.plans.by_ref(club.community_id, club.plan_ref)
        note = {"planned": "", "skipped": " (skipped)", "cancelled": " (cancelled)"}
        items = [
            fmt(
                "{} · {}{}",
                plan.chapter_label(session.chapter),
                local(club, session.opens_at),
                note[session.state],
            )
            for session in await self.store.bookclubs.sessions(club.id)
        ]
        parts: list[object] = [fmt("{}: the discussions", bold(club.title)), bullets(items)]
        if club.status == "paused":
            parts.append("Paused: these dates move on by the length of the pause.")
        return Reply(lines(*parts), kind=Kind.LIST)
