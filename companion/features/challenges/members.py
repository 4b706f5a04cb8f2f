"""What members do: `challenge` (what runs here), `join`, `leave`, `today`, `day <n>`,
`done [note]`, `catchup <n> [note]` and `progress` (their opt-ins are in optins.py). A
member sees only their own progress; everyone else sees counts, and only from five on (how
many joined, how many checked in on a day), so nobody can be singled out."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from companion.commands import CommandSpec, Handler, Param, ParamType, UserError
from companion.content import Content, LearningPath
from companion.events import Invocation, Kind, Reply
from companion.features.challenges.here import challenge_here, member_here
from companion.features.challenges.paths import find_path
from companion.features.challenges.text import day_text
from companion.fmt import MIN_COUNT, Md, as_md, code, fmt, italic, join, lines, shown_count
from companion.recurrence import shown
from companion.store import Store
from companion.store.challenges import ChallengeRow

MAX_NOTE = 4000
NOTE = Param(  # a check-in's note, today's or a missed day's
    "note",
    "A note for your journal",
    ParamType.TEXT,
    required=False,
    rest=True,
    max_length=MAX_NOTE,
)


class ChallengeWalk:
    def __init__(self, store: Store, content: Content) -> None:
        self.store = store
        self.content = content

    def commands(self) -> list[CommandSpec]:
        def spec(name: str, about: str, handler: Handler, **more: Any) -> CommandSpec:
            return CommandSpec(name, about, handler, in_direct=False, **more)

        return [
            spec("challenge", "The learning path running here, and which day it is", self.status),
            spec("challenge join", "Walk the path with the community", self.join, private=True),
            spec("challenge leave", "Stop walking the path", self.leave, private=True),
            spec(
                "challenge today",
                "Today's day, both options and its question",
                self.today,
                private=True,
            ),
            spec(
                "challenge day",
                "Open a day already reached, to catch up",
                self.day,
                params=(Param("n", "Which day", ParamType.INT, min_value=1, max_value=366),),
                private=True,
                examples=("challenge day 3",),
            ),
            spec(
                "challenge done",
                "Check in for today, privately; a note goes to your journal",
                self.done,
                params=(NOTE,),
                private=True,
                examples=("challenge done", "challenge done I asked before assuming"),
            ),
            spec(
                "challenge catchup",
                "Check in a day you missed, already open (never a later one)",
                self.catchup,
                params=(
                    Param("n", "Which day", ParamType.INT, min_value=1, max_value=366),
                    NOTE,
                ),
                private=True,
                examples=("challenge catchup 3", "challenge catchup 3 I listened first"),
            ),
            spec(
                "challenge progress",
                "Your days done and missed (only you see it)",
                self.progress,
                private=True,
            ),
        ]

    async def _here(self, inv: Invocation) -> tuple[ChallengeRow, LearningPath, int]:
        challenge, path, _, reached = await self._here_with_content(inv)
        return challenge, path, reached

    async def _here_with_content(
        self, inv: Invocation
    ) -> tuple[ChallengeRow, LearningPath, Content, int]:
        challenge = await challenge_here(self.store, inv)
        found = await find_path(self.store, self.content, challenge.community_id, challenge.path_id)
        if found is None:
            raise UserError("This challenge's path is no longer here; a moderator can end it.")
        reached = await self.store.challenges.reached(challenge, inv.at)
        return challenge, found[0], found[1], reached

    async def _next_opening(self, challenge: ChallengeRow, day: int) -> str | None:
        slot = await self.store.challenges.slot_at(challenge.id, "day", day)
        if slot is None or challenge.status == "paused":
            return None
        return shown(slot.at, _zone(challenge))

    async def status(self, inv: Invocation) -> Reply:
        challenge, path, reached = await self._here(inv)
        joined, counts = await self.store.challenges.counts(challenge.id)
        if reached == 0:
            opens = await self._next_opening(challenge, 1)
            where: Md = fmt("it starts {}", opens) if opens else fmt("it has not started yet")
        else:
            where = fmt("day {} of {}", reached, len(path.days))
        if challenge.status == "paused":
            where = where + fmt(", paused")
        shown = [fmt("day {}: {}", d, counts[d]) for d in sorted(counts) if counts[d] >= MIN_COUNT]
        upcoming = await self._next_opening(challenge, reached + 1)
        people = shown_count(joined).capitalize()
        parts: list[object] = [fmt("{}: {}. {} joined.", italic(path.title), where, people)]
        if upcoming and reached:
            parts.append(fmt("Next day opens {}.", upcoming))
        if shown:
            parts.append(fmt("Check-ins: {}.", join(shown, "; ")))
        parts.append(
            fmt(
                "Counts show from five, so nobody can be singled out. "
                "`challenge join` to walk along; `challenge today` shows today's day."
            )
        )
        return Reply(lines(*parts))

    async def join(self, inv: Invocation) -> Reply:
        challenge, path, reached = await self._here(inv)
        if not await self.store.challenges.join(
            challenge.id, inv.actor.id, max(reached, 1), inv.at
        ):
            return Reply("You are already walking this path.")
        catch_up = (
            fmt(
                " Days 1 to {} are open to catch up: {} shows one, {} checks it in.",
                reached - 1,
                code("challenge day 1"),
                code("challenge catchup 1"),
            )
            if reached > 1
            else as_md("")
        )
        return Reply(
            fmt(
                "Welcome to {}. {} shows today's day; {} checks in, privately.{} "
                "{} sends a private reminder on a day you have not checked in; {} brings "
                "the terms you meet back three and ten days later.",
                italic(path.title),
                code("challenge today"),
                code("challenge done"),
                catch_up,
                code("challenge remind on"),
                code("challenge review on"),
            ),
            kind=Kind.CONFIRMATION,
        )

    async def leave(self, inv: Invocation) -> Reply:
        challenge, _, _ = await self._here(inv)
        if not await self.store.challenges.leave(challenge.id, inv.actor.id):
            return Reply("You had not joined this challenge.")
        return Reply(
            fmt("You have left the challenge; your check-ins stay in `mydata` until `forget me`."),
            kind=Kind.CONFIRMATION,
        )

    async def today(self, inv: Invocation) -> Reply:
        challenge, path, content, reached = await self._here_with_content(inv)
        if reached == 0:
            opens = await self._next_opening(challenge, 1)
            if opens is None:  # paused before day 1
                return Reply(fmt("The path has not started yet, and is paused."))
            return Reply(fmt("The path has not started yet; day 1 opens {}.", opens))
        return Reply(day_text(content, path, path.day(reached)), kind=Kind.DISCUSSION)

    async def _reached(
        self, challenge: ChallengeRow, path: LearningPath, reached: int, number: int
    ) -> None:
        """A UserError unless day ``number`` has opened (never a later one)."""
        if number > len(path.days):
            raise UserError(fmt("This path has {} days.", len(path.days)))
        if number > reached:
            opens = await self._next_opening(challenge, number)
            later = fmt(" It opens {}.", opens) if opens else as_md("")
            raise UserError(fmt("Day {} has not opened yet.{}", number, later))

    async def day(self, inv: Invocation) -> Reply:
        challenge, path, content, reached = await self._here_with_content(inv)
        number = inv.number("n")
        await self._reached(challenge, path, reached, number)
        return Reply(day_text(content, path, path.day(number)), kind=Kind.DISCUSSION)

    async def done(self, inv: Invocation) -> Reply:
        challenge, path, reached = await self._here(inv)
        await member_here(self.store, challenge, inv)
        if reached == 0:
            raise UserError("Day 1 has not opened yet.")
        return await self._check_in(inv, challenge, path, reached)

    async def catchup(self, inv: Invocation) -> Reply:
        """`challenge done` for a day already open: a missed day, checked in late."""
        challenge, path, reached = await self._here(inv)
        await member_here(self.store, challenge, inv)
        number = inv.number("n")
        await self._reached(challenge, path, reached, number)
        return await self._check_in(inv, challenge, path, number)

    async def _check_in(
        self, inv: Invocation, challenge: ChallengeRow, path: LearningPath, number: int
    ) -> Reply:
        new = await self.store.challenges.check_in(challenge.id, inv.actor.id, number, inv.at)
        note = inv.text("note").strip()
        if note:
            day = inv.at.astimezone(_zone(challenge)).date().isoformat()
            await self.store.members.add_journal(
                challenge.community_id,
                inv.actor.id,
                day,
                f"challenge:{path.id}:{number}",
                note,
                inv.at,
            )
        kept = fmt(" Your note is in your journal (`journal`).") if note else as_md("")
        if new:
            text = fmt("Checked in for day {}, privately.{}", number, kept)
        else:
            text = fmt("You had already checked in for day {}.{}", number, kept)
        return Reply(text, kind=Kind.CONFIRMATION)

    async def progress(self, inv: Invocation) -> Reply:
        challenge, path, reached = await self._here(inv)
        member = await member_here(self.store, challenge, inv)
        checked = set(await self.store.challenges.checked(challenge.id, inv.actor.id))
        missed = [d for d in range(member.joined_day, reached) if d not in checked]
        parts: list[object] = [
            fmt("**Your walk on {}** (only you see this)", path.title),
            fmt(
                "You joined on day {}; the path is at day {} of {}.",
                member.joined_day,
                reached,
                len(path.days),
            ),
            fmt(
                "Checked in: {}.", join(str(d) for d in sorted(checked)) if checked else "none yet"
            ),
        ]
        if missed:
            parts.append(
                fmt(
                    "Open to catch up: days {}; {} shows one, {} checks it in.",
                    join(str(d) for d in missed),
                    code(f"challenge day {missed[0]}"),
                    code(f"challenge catchup {missed[0]}"),
                )
            )
        parts.append(
            fmt(
                "Private reminders are {} (`challenge remind on|off`); review questions are "
                "{} (`challenge review on|off`).",
                "on" if member.remind else "off",
                "on" if member.review else "off",
            )
        )
        return Reply(lines(*parts), kind=Kind.LIST)


def _zone(challenge: ChallengeRow) -> ZoneInfo:
    return ZoneInfo(challenge.timezone)
