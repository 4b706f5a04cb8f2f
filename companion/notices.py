"""Private messages to one member (a suggestion's outcome): kept, and delivered if possible.

Each notice is stored first, so nothing is lost; adapters that can reach a member privately
implement ``notify`` (a DM, an ephemeral follow-up, the terminal) and the notice is marked
delivered. Members can always read theirs with ``mydata``.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from companion.events import Place
from companion.ports import Clock, Ports
from companion.store import Repositories, Store

log = logging.getLogger(__name__)


@runtime_checkable
class PrivateChannel(Protocol):
    async def notify(self, place: Place, member_id: str, text: str, *, key: str) -> None: ...


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
        port = self.ports.get(place.platform)
        if not isinstance(port, PrivateChannel):
            return False
        try:
            await port.notify(place, member_id, text, key=f"notice-{notice_id}")
        except Exception:
            log.warning("could not deliver notice %d; it stays in mydata", notice_id, exc_info=True)
            return False
        await self.store.members.mark_delivered(notice_id, self.clock.now())
        return True
