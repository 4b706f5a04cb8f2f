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
from companion.store import Store

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
        now = self.clock.now()
        notice_id = await self.store.members.add_notice(
            place.platform, place.community_id, member_id, text, now
        )
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
