"""Who moderates a guild: the rule slash commands use, and the dashboard's live check of it.

Moderating is community-wide, so it comes from the member's guild-level power: the owner,
their roles' permissions (Administrator, Manage Server, Manage Threads) or a configured role.
Never a channel's resolved permissions: a Manage Threads overwrite on one channel would make
a moderator.

The web dashboard asks on every request (:class:`companion.ports.ModeratorCheck`). The bot
has no members intent, so the member is fetched over REST (and the guild too, when it is on
another process's shard), and each verdict is kept for ``CACHE_FOR`` so a page load (or a
few) costs Discord one request per member.
"""

from __future__ import annotations

import asyncio
from collections.abc import Set
from datetime import datetime, timedelta

import aiohttp
import discord

from companion.ports import Clock

CACHE_FOR = timedelta(seconds=30)
ASK_TIMEOUT = 5.0  # seconds: discord.py retries a failing request; the page should not wait
UNKNOWN_MEMBER = 10007


def moderates(guild: discord.Guild, member: discord.Member, role_ids: Set[int]) -> bool:
    """The guild-level rule (see the module docstring)."""
    if guild.owner_id == member.id:
        return True
    perms = member.guild_permissions
    if perms.administrator or perms.manage_guild or perms.manage_threads:
        return True
    return any(member.get_role(r) for r in role_ids)


class ModeratorLookup:
    """Asks Discord whether a member moderates a guild now; remembers it for ``CACHE_FOR``."""

    def __init__(self, client: discord.Client, role_ids: Set[int], clock: Clock) -> None:
        self.client = client
        self.role_ids = role_ids
        self.clock = clock
        self._verdicts: dict[tuple[int, int], tuple[datetime, bool | None]] = {}

    async def check(self, community_id: str, member_id: str) -> bool | None:
        """True or False from the member as Discord has it; None when it cannot tell (a guild
        the bot is not in, Discord failing or slow)."""
        if not (community_id.isdigit() and member_id.isdigit()):
            return None
        key = (int(community_id), int(member_id))
        now = self.clock.now()
        cached = self._verdicts.get(key)
        if cached is not None and now < cached[0]:
            return cached[1]
        verdict = await self._ask(*key)
        now = self.clock.now()
        self._verdicts = {k: v for k, v in self._verdicts.items() if now < v[0]}
        self._verdicts[key] = (now + CACHE_FOR, verdict)
        return verdict

    async def _ask(self, guild_id: int, member_id: int) -> bool | None:
        try:
            async with asyncio.timeout(ASK_TIMEOUT):
                # A guild on another process's shard is not in this one's cache: the
                # dashboard may still be served here, so ask for the guild over REST too.
                guild = self.client.get_guild(guild_id) or await self.client.fetch_guild(guild_id)
                member = await guild.fetch_member(member_id)
        except discord.NotFound as error:
            return False if error.code == UNKNOWN_MEMBER else None  # left the guild: False
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError):
            return None  # Forbidden included: a guild the bot is not in
        return moderates(guild, member, self.role_ids)
