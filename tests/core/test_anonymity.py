"""Anonymous questions are routed by the core: a platform only says which communities a
member shares with the bot, and gets the whole routing without copying any adapter's code."""

from __future__ import annotations

from companion.events import Actor, Place
from companion.gateway import SeenByRoom
from companion.mentions import Mentions
from companion.ports import Community
from tests.conftest import MODERATOR
from tests.fakes import RecordingPort

ASKER = Actor("fake:asker", "Asker", is_moderator=True)  # creator of their own direct chat
DIRECT = Place("fake", "dm:fake:asker", "fake:dm")
ROOMS = [Place("fake", "fake:c1", "fake:c1"), Place("fake", "fake:c2", "fake:c2")]
QUESTION = "ask anonymously How do I speak up without centring myself?"


class SharingPort(RecordingPort):
    async def shared_communities(self, actor: Actor) -> list[Community]:
        assert actor.id == ASKER.id
        return [Community(ROOMS[1], "Zebras"), Community(ROOMS[0], "Allies")]


async def route(app, line: str, place: Place, *, own_direct: bool = True) -> str:
    """What the member reads: the line as a surface where rooms show who writes hands it
    to the gateway (the commands named carry the prefix members type on "fake": "%")."""
    app.ports.mentions = Mentions(app.registry, {"fake": "%"})
    seen = SeenByRoom("bot", own_direct)
    reply = await app.gateway.handle_text(line, ASKER, place, seen_by_room=seen)
    assert reply is not None
    return reply.text


async def test_a_new_platform_gets_anonymous_routing_from_one_method(app, clock):
    app.ports.attach("fake", SharingPort(clock=clock))
    defined = await route(app, "define allyship", DIRECT)  # not ours: dispatched
    assert "allyship" in defined.lower() and "anonymous" not in defined
    told = await route(app, QUESTION, ROOMS[0])
    assert told is not None and "`%ask anonymously <question>`" in told
    not_own = await route(app, QUESTION, DIRECT, own_direct=False)
    assert not_own is not None and "direct message" in not_own
    listed = await route(app, QUESTION, DIRECT)
    assert listed is not None and "- #1 Allies\n- #2 Zebras" in listed
    assert "`%ask anonymously #1 <question>`" in listed
    done = await route(app, QUESTION.replace("ly ", "ly #2 ", 1), DIRECT)
    assert done is not None and "without your name" in done
    queue = await app.dispatcher.run_text("queue", MODERATOR, ROOMS[1], clock.now())
    assert queue is not None and "How do I speak up" in queue.text
    assert await app.store.contributions.count_pending(ROOMS[0].community_id) == 0


async def test_a_platform_without_the_capability_says_so(app, clock):
    app.ports.attach("fake", RecordingPort(clock=clock))
    answer = await route(app, QUESTION, DIRECT)
    assert answer is not None and "we need to share a community room" in answer
