"""What a member's Matrix client can put in an event's JSON that no homeserver checks."""

from __future__ import annotations

from companion.app import App
from companion.events import Actor, Kind
from companion_adapters.matrix import inbound

ME = "@companion:example.org"
ROOM = "!AbCdEf0123456789"


def threaded(body: str, root: str) -> dict[str, object]:
    return {
        "type": "m.room.message",
        "event_id": "$cmd",
        "sender": "@mod:example.org",
        "origin_server_ts": 1_700_000_000_000,
        "content": {
            "msgtype": "m.text",
            "body": body,
            "m.relates_to": {"rel_type": "m.thread", "event_id": root},
        },
    }


async def test_a_thread_root_that_is_no_event_id_is_the_room_not_the_apology(app: App) -> None:
    """The thread's root is the id the sender's client wrote: a lone surrogate there became
    the place of what the command planned, which no store could keep (the apology)."""
    for root in ("\ud800", "$a\x00b"):
        command = inbound.command_of(threaded("!schedule reflection 09:00", root), ROOM, ME, "!")
        assert command is not None and command.thread_root is None
        place = inbound.place_of(command, direct=False)
        mod = Actor(command.sender, "Mod", is_moderator=True)
        reply = await app.dispatcher.run_text("poll access members", mod, place, app.clock.now())
        assert reply is not None and reply.kind is Kind.CONFIRMATION
        reply = await app.dispatcher.run_text("poll Which? | a | b", mod, place, app.clock.now())
        assert reply is not None and reply.kind is Kind.CONFIRMATION, reply
    command = inbound.command_of(threaded("!help", "$root"), ROOM, ME, "!")
    assert command is not None and command.thread_root == "$root"  # a real one still counts
