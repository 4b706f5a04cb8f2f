"""Private messages to one member (a suggestion's outcome): kept, and delivered if possible.

Each notice is stored first, so nothing is lost; ports that can reach a member privately
(:class:`~companion.ports.PrivateMessages`: a DM, an ephemeral follow-up, the terminal)
deliver it and the notice is marked delivered. Members can always read theirs with ``mydata``.
"""

from __future__ import annotations

import logging

from companion.events import Place
from companion.ports import Clock, Ports, PrivateMessages, capability
from companion.store import Repositories, Store

log = logging.getLogger(__name__)


class Notices:
    def __init__(self, store: Store, ports: Ports, clock: Clock) -> None:
        self.store = store
        self.ports = ports
        self.clock = clock

    async def send(self, place: Place, member_id: str, text: str) -> bool:
        """Store the notice and try to deliver it now; True when it was delivered."""
        notice_id = await self.keep(self.store, place, member_id, text)
        return await self.deliver(notice_id, place, member_id, text)

    async def keep(self, repos: Repositories, place: Place, member_id: str, text: str) -> int:
        """Store a notice (pass a unit of work to make it part of one); deliver it after."""
        return await repos.members.add_notice(
            place.platform, place.community_id, member_id, text, self.clock.now()
        )

    async def deliver(self, notice_id: int, place: Place, member_id: str, text: str) -> bool:
        port = capability(self.ports.get(place.platform), PrivateMessages)
        if port is None:  # no private messages there: the notice waits in mydata
            return False
        try:
            text = self.ports.render(place.platform, text)
            await port.notify(place, member_id, text, key=f"notice-{notice_id}")
        except Exception:
            log.warning("could not deliver notice %d; it stays in mydata", notice_id, exc_info=True)
            return False
        await self.store.members.mark_delivered(notice_id, self.clock.now())
        return True
