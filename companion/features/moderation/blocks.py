"""`block` and `unblock`: stop, or let again, the author of a suggestion from suggesting.

Blocks name the author by the keyed hash the suggestion carries, so they work for anonymous
questions too, and no moderator learns who it was.
"""

from __future__ import annotations

from companion.commands import CommandSpec
from companion.events import Invocation, Kind, Reply
from companion.features.moderation.items import SUGGESTION_ID, find_item
from companion.fmt import fmt
from companion.store import Store


class Blocks:
    def __init__(self, store: Store) -> None:
        self.store = store

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "block",
                "Stop the author of a suggestion from suggesting more",
                self.block,
                params=(SUGGESTION_ID,),
                moderator_only=True,
                in_direct=False,
            ),
            CommandSpec(
                "unblock",
                "Let the author of a suggestion suggest again",
                self.unblock,
                params=(SUGGESTION_ID,),
                moderator_only=True,
                in_direct=False,
            ),
        ]

    async def block(self, inv: Invocation) -> Reply:
        return await self._set_block(inv, blocked=True)

    async def unblock(self, inv: Invocation) -> Reply:
        return await self._set_block(inv, blocked=False)

    async def _set_block(self, inv: Invocation, *, blocked: bool) -> Reply:
        item = await find_item(self.store, inv)
        changed = await self.store.contributions.set_block(
            inv.place.community_id,
            item.author_hash,
            inv.actor.id,
            blocked,
            f"author of #{item.id}",
            inv.at,
        )
        if blocked:
            return Reply(
                fmt("The author of #{} can no longer suggest here.", item.id)
                if changed
                else fmt("The author of #{} was already blocked.", item.id),
                kind=Kind.CONFIRMATION,
            )
        return Reply(
            fmt("The author of #{} can suggest again.", item.id)
            if changed
            else fmt("The author of #{} was not blocked.", item.id),
            kind=Kind.CONFIRMATION,
        )
