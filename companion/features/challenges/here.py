"""The challenge running in this community, and the member's own place in it."""

from __future__ import annotations

from companion.commands import UserError
from companion.events import Invocation
from companion.fmt import fmt
from companion.store import Repositories
from companion.store.challenges import ChallengeMember, ChallengeRow


async def challenge_here(repos: Repositories, inv: Invocation) -> ChallengeRow:
    """This community's running challenge, or a UserError saying how to start one."""
    found = await repos.challenges.running(inv.place.platform, inv.place.community_id)
    if found is None:
        raise UserError(
            fmt(
                "No challenge runs here. Moderators can start one with "
                "`challenge start allyship-21 YYYY-MM-DD [HH:MM]`."
            )
        )
    return found


async def member_here(
    repos: Repositories, challenge: ChallengeRow, inv: Invocation
) -> ChallengeMember:
    """The member's own row in this challenge, or a UserError saying how to join."""
    member = await repos.challenges.member(challenge.id, inv.actor.id)
    if member is None:
        raise UserError(fmt("You have not joined this challenge; `challenge join` does."))
    return member
