"""The Synapse harness works end to end: users, a room, a message, a restart."""

from __future__ import annotations

import time

import pytest
from nio import (
    AsyncClient,
    JoinResponse,
    RoomCreateResponse,
    RoomInviteResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)

from tests.matrix_server.fixtures import synapse  # noqa: F401
from tests.matrix_server.synapse import RegisteredUser, SynapseServer


def _client(server: SynapseServer, user: RegisteredUser) -> AsyncClient:
    client = AsyncClient(server.base_url, user.user_id)
    client.restore_login(user.user_id, user.device_id, user.access_token)
    return client


async def _send_text(client: AsyncClient, room_id: str, body: str) -> str:
    response = await client.room_send(
        room_id, "m.room.message", {"msgtype": "m.text", "body": body}
    )
    assert isinstance(response, RoomSendResponse), response
    return response.event_id


async def _wait_for_text(
    client: AsyncClient, room_id: str, event_id: str, attempts: int = 10
) -> RoomMessageText:
    for _ in range(attempts):
        response = await client.sync(timeout=1000)
        assert isinstance(response, SyncResponse), response
        room = response.rooms.join.get(room_id)
        for event in room.timeline.events if room else ():
            if isinstance(event, RoomMessageText) and event.event_id == event_id:
                return event
    raise AssertionError(f"{client.user_id} never saw {event_id} in {room_id}")


@pytest.mark.matrix
@pytest.mark.asyncio
async def test_two_users_talk_and_survive_restart(synapse: SynapseServer) -> None:  # noqa: F811
    alice_user = synapse.register("harness_alice")
    bob_user = synapse.register("harness_bob")
    assert alice_user.user_id == synapse.user_id("harness_alice")

    alice = _client(synapse, alice_user)
    bob = _client(synapse, bob_user)
    try:
        created = await alice.room_create(name="harness")
        assert isinstance(created, RoomCreateResponse), created
        room_id = created.room_id

        invited = await alice.room_invite(room_id, bob_user.user_id)
        assert isinstance(invited, RoomInviteResponse), invited
        joined = await bob.join(room_id)
        assert isinstance(joined, JoinResponse), joined
        assert isinstance(await bob.sync(timeout=0), SyncResponse)

        event_id = await _send_text(alice, room_id, "hello from alice")
        seen = await _wait_for_text(bob, room_id, event_id)
        assert seen.body == "hello from alice"
        assert seen.sender == alice_user.user_id

        started = time.monotonic()
        await synapse.arestart()
        assert time.monotonic() - started < 30
        assert "versions" in synapse.request_json("GET", "/_matrix/client/versions")

        # Tokens and rooms live in the database, so both clients carry on.
        event_id = await _send_text(alice, room_id, "still here after restart")
        seen = await _wait_for_text(bob, room_id, event_id)
        assert seen.body == "still here after restart"
    finally:
        await alice.close()
        await bob.close()
