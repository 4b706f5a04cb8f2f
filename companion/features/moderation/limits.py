"""Who may suggest now: a member not blocked in this community, under the day's limit.

Members are known here only by a keyed hash, so anonymous questions count too.
"""

from __future__ import annotations

from datetime import timedelta

from companion.commands import UserError
from companion.events import Invocation
from companion.fmt import fmt
from companion.identity import MemberHasher
from companion.store import Store


class SuggestionLimits:
    def __init__(self, store: Store, hasher: MemberHasher, per_day: int) -> None:
        self.store = store
        self.hasher = hasher
        self.per_day = per_day

    async def admit(self, inv: Invocation) -> str:
        """The member's keyed hash, if they may suggest now (not blocked, under the limit)."""
        author_hash = self.hasher(inv.place.community_id, inv.actor.id)
        blocked, recent = await self.store.contributions.standing(
            inv.place.community_id, author_hash, inv.at - timedelta(days=1)
        )
        if blocked:
            raise UserError("A moderator has paused your suggestions in this community.")
        if recent >= self.per_day:
            raise UserError(
                fmt(
                    "You have made {} suggestions today, the most a day here. "
                    "Thank you; please try again tomorrow.",
                    recent,
                )
            )
        return author_hash
