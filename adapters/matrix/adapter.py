"""The Matrix adapter: one bot account on matrix-nio, built from the parts it names.

:class:`MatrixAdapter` wires the parts (the package docstring says what each owns) and is
the ChatPort the core posts through: post, open_thread, notify (PrivateMessages),
is_moderator (the dashboard's check) and shared_communities (anonymous questions).
What is kept between runs lives in the bot's own key-value space (``gateway.kv``): the sync
token, the direct rooms (for whom one is being opened, and which one a member opened is
being joined), and (with a password login) the device and its token. Nothing kept there
names a member: a direct room is filed under a keyed hash of the member's id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from companion.events import Actor, Kind, MessageRef, Place
from companion.fmt import bold, fmt
from companion.gateway import Gateway
from companion.ports import Community, TransientFailure
from companion_adapters.matrix import crypto, inbound, native, outbound
from companion_adapters.matrix.client import new_client
from companion_adapters.matrix.direct import DirectRooms
from companion_adapters.matrix.membership import Membership
from companion_adapters.matrix.replies import Replies
from companion_adapters.matrix.rooms import RoomState
from companion_adapters.matrix.sending import Sender
from companion_adapters.matrix.session import Session
from companion_adapters.matrix.settings import MatrixConfig
from companion_adapters.matrix.sync import SYNC_TIMEOUT_MS, SyncLoop
from companion_adapters.matrix.timeline import Timeline

log = logging.getLogger("companion_adapters.matrix")


class MatrixAdapter:
    """One bot account: call :meth:`login`, then :meth:`sync_forever`; it is the ChatPort."""

    def __init__(
        self,
        gateway: Gateway,
        config: MatrixConfig,
        *,
        wall_clock: Callable[[], float] | None = None,
        sync_timeout_ms: int = SYNC_TIMEOUT_MS,
    ) -> None:
        self.gateway = gateway
        self.config = config
        store = (
            crypto.store_dir(config, gateway.settings.db_path) if crypto.enabled(config) else None
        )
        self.client = new_client(config, store)
        # The first sync has loaded the rooms: the sync loop's alone to set; the sender and
        # the crypto ask it.
        synced = asyncio.Event()
        self.crypto = crypto.Crypto(self.client, config, store, synced) if store else None
        self.me = config.user_id
        self.rooms: dict[str, RoomState] = {}  # as last synced; the Timeline keeps it
        self.sender = Sender(self.client, self.rooms, self.crypto, synced)
        self.session = Session(gateway, config, self.client, self.crypto)
        self.direct = DirectRooms(
            gateway,
            self.me,
            self.client,
            self.sender,
            self.crypto,
            rooms=self.rooms,
            encrypt=config.encrypt_direct_rooms,
        )
        self.membership = Membership(
            config, self.client, self.sender, self.rooms, self.direct, self.crypto
        )
        self.replies = Replies(gateway, config, self.sender, self.direct)
        self.timeline = Timeline(
            config,
            self.client,
            self.rooms,
            sender=self.sender,
            direct=self.direct,
            membership=self.membership,
            replies=self.replies,
            answers=native.Answers(gateway),
            crypto=self.crypto,
            wall_clock=wall_clock or time.time,  # the age of commands (server timestamps)
        )
        self.sync = SyncLoop(
            gateway,
            self.client,
            self.session,
            self.timeline,
            self.crypto,
            sync_timeout_ms,
            synced=synced,
        )

    # --- start ------------------------------------------------------------------------------

    async def login(self) -> None:
        """Log in (see :class:`Session`), then load the saved direct rooms."""
        await self.session.login()
        await self.direct.load()
        log.info("logged in to %s as %s", self.config.homeserver, self.me)

    async def sync_forever(self) -> None:
        """Sync until cancelled (see :class:`SyncLoop`)."""
        await self.sync.forever()

    async def close(self) -> None:
        self.sender.closed = True
        await self.client.close()

    # --- ChatPort, Threads, PrivateMessages -----------------------------------------------

    def _ready(self) -> None:
        """Sending to a room needs it synced (matrix-nio with encryption refuses otherwise)."""
        if not self.sender.synced:
            raise TransientFailure("the first sync with the homeserver has not finished")

    async def post(
        self, place: Place, text: str, *, key: str, kind: Kind = Kind.ANSWER
    ) -> MessageRef:
        self._ready()
        relates = outbound.in_thread(place.thread_id) if place.thread_id else None
        event_id = await self.sender.send_md(place.room_id, text, relates, key, kind)
        return MessageRef(place, event_id)

    async def open_thread(
        self, place: Place, title: str, text: str, *, key: str, kind: Kind = Kind.DISCUSSION
    ) -> Place:
        """A root notice (the title, plain text) and the text as the first message of its
        thread."""
        self._ready()
        root = await self.sender.send(place.room_id, outbound.thread_root(title), key + "r")
        await self.sender.send_md(place.room_id, text, outbound.in_thread(root), key + "t", kind)
        return Place(place.platform, place.community_id, place.room_id, thread_id=root)

    # --- Polls (MSC3381), Announcements (RSVP by reactions) --------------------------------

    async def open_poll(
        self,
        place: Place,
        question: str,
        answers: tuple[str, ...],
        *,
        text: str,
        hours: int,
        key: str,
    ) -> MessageRef:
        """An MSC3381 poll; it stays open until the core ends it (Matrix polls have no
        duration of their own)."""
        content = native.poll_start(question, answers, text)
        event_id = await self.sender.send(place.room_id, content, key + "p", native.POLL_START)
        return MessageRef(place, event_id)

    async def close_poll(
        self, message: MessageRef, text: str, counts: dict[int, int], *, key: str
    ) -> None:
        content = native.poll_end(message.message_id, text, counts)
        await self.sender.send(message.place.room_id, content, key + "e", native.POLL_END)

    async def announce(self, place: Place, title: str, text: str, *, key: str) -> MessageRef:
        """The announcement members react to (its text opens with the title), and its
        thread for the discussion."""
        root = await self.sender.send(
            place.room_id, outbound.notice(text, kind=Kind.DISCUSSION), key + "a"
        )
        opener = fmt("Talk about {} here, in this thread.", bold(title))
        await self.sender.send_md(place.room_id, opener, outbound.in_thread(root), key + "t")
        return MessageRef(Place(place.platform, place.community_id, place.room_id, root), root)

    async def update(self, message: MessageRef, text: str, *, key: str) -> None:
        content = native.edit(message.message_id, text)
        txn = outbound.txn_id("edit", message.message_id, key)
        await self.sender.send(message.place.room_id, content, txn)

    async def notify(self, place: Place, member_id: str, text: str, *, key: str) -> None:
        """A private notice to one member (a suggestion's outcome), in their direct room;
        the key makes the transaction id, so a retried notice arrives once."""
        direct = await self.direct.room_with(member_id)
        await self.sender.send_md(direct, text, None, outbound.txn_id("notice", key), Kind.NOTICE)

    async def shared_communities(self, actor: Actor) -> list[Community]:
        """The community rooms the member shares with the bot (behind anonymous questions)."""
        return await self.membership.shared_communities(actor.id)

    async def is_moderator(self, platform: str, community_id: str, member_id: str) -> bool | None:
        """The web dashboard's check, from the room's power levels as last synced: a member
        whose power drops below the moderator level loses the dashboard for that room."""
        if platform != inbound.PLATFORM:
            return None
        room = self.rooms.get(community_id)
        if room is None:  # the bot has left the room
            return False
        return room.is_moderator(member_id, self.config.moderator_level)
