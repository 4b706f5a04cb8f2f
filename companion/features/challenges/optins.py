"""A member's two opt-ins, apart: `challenge remind on|off` (one private nudge on a day not
checked in) and `challenge review on|off` (the terms met on a day, asked again three and ten
days later). Until migration 0011 `remind` turned on both; members who had it keep both."""

from __future__ import annotations

from companion.commands import CommandSpec, Param
from companion.events import Invocation, Kind, Reply
from companion.features.challenges.here import challenge_here, member_here
from companion.fmt import code, fmt
from companion.store import Store
from companion.store.challenges import ChallengeRow


class ChallengeOptIns:
    def __init__(self, store: Store) -> None:
        self.store = store

    def commands(self) -> list[CommandSpec]:
        switch = (Param("switch", "on or off", choices=("on", "off")),)
        return [
            CommandSpec(
                "challenge remind",
                "A private reminder on a day you have not checked in",
                self.remind,
                params=switch,
                private=True,
                in_direct=False,
            ),
            CommandSpec(
                "challenge review",
                "Terms met on a day come back privately three and ten days later",
                self.review,
                params=switch,
                private=True,
                in_direct=False,
            ),
        ]

    async def _joined(self, inv: Invocation) -> ChallengeRow:
        challenge = await challenge_here(self.store, inv)
        await member_here(self.store, challenge, inv)
        return challenge

    async def remind(self, inv: Invocation) -> Reply:
        challenge = await self._joined(inv)
        on = inv.args["switch"] == "on"
        await self.store.challenges.set_remind(challenge.id, inv.actor.id, on)
        if on:
            text = fmt(
                "Reminders on: one private message on a day you have not checked in, never "
                "more. {} asks about the terms you met, three and ten days later.",
                code("challenge review on"),
            )
        else:
            text = fmt("Reminders off.")
        return Reply(text, kind=Kind.CONFIRMATION)

    async def review(self, inv: Invocation) -> Reply:
        challenge = await self._joined(inv)
        on = inv.args["switch"] == "on"
        await self.store.challenges.set_review(challenge.id, inv.actor.id, on)
        if on:
            text = fmt(
                "Review questions on: a glossary term you met on a day comes back privately "
                "three and ten days later, as a one-line question."
            )
        else:
            text = fmt("Review questions off.")
        return Reply(text, kind=Kind.CONFIRMATION)
