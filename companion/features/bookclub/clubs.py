"""The club in this channel, and its times shown in the club's own zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from companion.commands import UserError
from companion.events import Invocation
from companion.fmt import fmt
from companion.recurrence import shown
from companion.store import Repositories
from companion.store.bookclubs import ClubRow


async def club_here(repos: Repositories, inv: Invocation) -> ClubRow:
    """This channel's club, or a UserError saying how to start one."""
    club = await repos.bookclubs.club_in_room(inv.place.platform, inv.place.room_id)
    if club is None:
        raise UserError(
            fmt(
                "There is no book club in this channel. Moderators can start one "
                "with `bookclub start the-wake-up YYYY-MM-DD`."
            )
        )
    return club


def local(club: ClubRow, at: str) -> str:
    return shown(at, ZoneInfo(club.timezone))
