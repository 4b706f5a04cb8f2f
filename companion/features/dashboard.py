"""`dashboard`: a moderator asks for a one-time link that opens the web dashboard.

The link's token is random, lives ten minutes, works once, and is stored only as its
sha256; it is bound to the member, the platform and the community it was asked in.
"""

from __future__ import annotations

import hashlib
import secrets

from companion.commands import CommandSpec, UserError, clean
from companion.config import LINK_LIFETIME, WebSettings
from companion.events import Invocation, Reply
from companion.fmt import fmt, link
from companion.ports import Clock
from companion.store import Store
from companion.store.web import LoginRow


def token_hash(token: str) -> str:
    """What the database keeps of a link token or a session cookie."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Dashboard:
    def __init__(self, store: Store, clock: Clock, web: WebSettings) -> None:
        self.store = store
        self.clock = clock
        self.web = web

    def commands(self) -> list[CommandSpec]:
        return [
            CommandSpec(
                "dashboard",
                "A one-time link to the web dashboard (only you see it)",
                self.link,
                moderator_only=True,
                private=True,
                in_direct=False,
            )
        ]

    async def link(self, inv: Invocation) -> Reply:
        if not self.web.enabled:
            raise UserError(
                "The web dashboard is not switched on here. The operator can turn it on "
                "with a `[web]` table in the config file."
            )
        # Hex, not urlsafe base64: a "__" in the link would be read as Markdown on Discord.
        token = secrets.token_hex(32)
        login = LoginRow(
            inv.place.platform,
            inv.actor.id,
            clean(inv.actor.display_name)[:100],  # a NUL, a lone surrogate: not storable
            inv.place.community_id,
            inv.place.room_id,
        )
        now = self.clock.now()
        await self.store.web.add_login(token_hash(token), login, now, now + LINK_LIFETIME)
        minutes = int(LINK_LIFETIME.total_seconds() // 60)
        return Reply(
            fmt(
                "{} for this community. The link works once, for you only, within {} "
                "minutes; do not share it.",
                link("Open the dashboard", self.web.link(token)),
                minutes,
            ),
            private=True,
        )
