"""The challenge running in this community, and its times in its own zone."""

from __future__ import annotations

from companion.commands import UserError
from companion.events import Invocation
from companion.fmt import fmt
from companion.store import Repositories
from companion.store.challenges import ChallengeRow


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
