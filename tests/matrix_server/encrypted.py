"""Members whose clients encrypt, as Element does: matrix-nio with its own crypto store.

``SecretPerson`` is a :class:`Person` whose client uploads its keys, decrypts what it syncs
and encrypts what it says; it records which events it decrypted, so a test can tell a reply
that was readable only with the room's keys from a plain one.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from pathlib import Path
from typing import Any

from nio import (
    Api,
    AsyncClient,
    AsyncClientConfig,
    MegolmEvent,
    RoomCreateResponse,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
)

from tests.matrix_server.people import Person, fresh
from tests.matrix_server.synapse import RegisteredUser, SynapseServer

ENCRYPTION = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}

_stores = itertools.count()


def new_device(synapse: SynapseServer, user: RegisteredUser) -> RegisteredUser:
    """``user`` logged in again with the password: a new device of the same account, as
    when a member signs in on a second phone."""
    body = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user.localpart},
        "password": user.password,
    }
    reply = synapse.request_json("POST", "/_matrix/client/v3/login", body)
    return RegisteredUser(
        user.user_id, str(reply["access_token"]), str(reply["device_id"]), user.password
    )


class SecretPerson(Person):
    def __init__(
        self, synapse: SynapseServer, name: str, stores: Path, user: RegisteredUser | None = None
    ) -> None:
        super().__init__(synapse, user or fresh(synapse, name))
        store = stores / f"member-{next(_stores)}"
        store.mkdir(parents=True)
        self.client = AsyncClient(
            synapse.base_url,
            self.user.user_id,
            device_id=self.user.device_id,
            store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True),
        )
        self.client.restore_login(self.user.user_id, self.user.device_id, self.user.access_token)
        self.decrypted: set[str] = set()  # ids of events this client decrypted
        self.unreadable: set[str] = set()  # ids of encrypted events it could not decrypt

    async def sync(self, timeout_ms: int = 250) -> None:
        await self.keep_up()
        response = await self.client.sync(timeout=timeout_ms)
        if not isinstance(response, SyncResponse):
            await asyncio.sleep(0.05)
            return
        for room_id, info in response.rooms.join.items():
            for event in info.timeline.events:
                if isinstance(event, MegolmEvent):
                    self.unreadable.add(event.event_id)
                elif getattr(event, "decrypted", False):
                    self.decrypted.add(event.event_id)
                self.events.append((room_id, event.source))
        self.invited.extend(response.rooms.invite)
        await self.keep_up()

    async def keep_up(self) -> None:
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        if self.client.outgoing_to_device_messages:
            await self.client.send_to_device_messages()

    async def say(self, room_id: str, body: str, **content: Any) -> str:
        payload = {"msgtype": content.pop("msgtype", "m.text"), "body": body, **content}
        response = await self.client.room_send(
            room_id, "m.room.message", payload, ignore_unverified_devices=True
        )
        assert isinstance(response, RoomSendResponse), response
        return response.event_id

    async def send(self, room_id: str, kind: str, content: dict[str, Any], **plain: Any) -> str:
        """Any event (a reaction, a poll response) encrypted as Element encrypts it: the
        content in the ciphertext, its relation (``m.relates_to``) left in the clear for
        the server. (matrix-nio's ``room_send`` would send a reaction unencrypted.)
        ``plain``: more keys inside the ciphertext, as a forger might add (a state_key)."""
        client = self.client
        assert client.olm is not None and client.rooms[room_id].encrypted
        if not client.rooms[room_id].members_synced:
            await client.joined_members(room_id)
        await self.keep_up()
        if client.olm.should_share_group_session(room_id):
            await client.share_group_session(room_id, ignore_unverified_devices=True)
        secret = {key: value for key, value in content.items() if key != "m.relates_to"}
        wire: dict[str, Any] = client.olm.group_encrypt(
            room_id, {"type": kind, "content": secret, **plain}
        )
        if "m.relates_to" in content:
            wire = {**wire, "m.relates_to": content["m.relates_to"]}
        method, path, data = Api.room_send(
            client.access_token, room_id, "m.room.encrypted", wire, uuid.uuid4()
        )
        response = await client._send(RoomSendResponse, method, path, data, (room_id,))
        assert isinstance(response, RoomSendResponse), response
        return response.event_id

    async def room(self, *invite: str, name: str = "circle", **kw: Any) -> str:
        """An encrypted room (Element's default for private rooms and direct chats)."""
        await self.sync(0)
        created = await self.client.room_create(
            name=name, invite=list(invite), initial_state=[ENCRYPTION], **kw
        )
        assert isinstance(created, RoomCreateResponse), created
        return created.room_id

    async def direct(self, bot_id: str) -> str:
        return await self.room(bot_id, is_direct=True, preset=RoomPreset.trusted_private_chat)

    async def join(self, room_id: str) -> None:
        await self.sync(0)  # our keys are up before anyone shares a room key with us
        await super().join(room_id)
