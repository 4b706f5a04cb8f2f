"""Polls: Discord's limits as the common floor, one vote per member (the latest), the result
posted once when the poll ends; on the injected clock, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from companion.events import Actor
from tests.conftest import MEMBER, MODERATOR, PLACE, say
from tests.core.schedule_helpers import run_until
from tests.fakes import RecordingPort

OTHER = Actor("u:other", "Other member")
THIRD = Actor("u:third", "Third member")


async def test_a_poll_counts_each_members_latest_vote_and_posts_the_result_once(make_app, clock):
    app = await make_app()
    port = RecordingPort(clock=clock)
    app.ports.attach("test", port)
    reply = await say(
        app,
        "poll Which book next? | Me and White Supremacy | Emergent Strategy | The Wake Up for 2d",
        MODERATOR,
    )
    assert "Poll #1 is open for 48 hours" in reply.text, reply.text
    await app.scheduler.run_due()
    [posted] = port.sent
    assert "1. Me and White Supremacy" in posted.text and "3. The Wake Up" in posted.text
    assert "`vote 1`" in posted.text

    assert (await say(app, "vote 1", MEMBER)).private
    await say(app, "vote 3", MEMBER)  # changed their mind: only this one counts
    await say(app, "vote 3", OTHER)
    # A platform's own poll answer arrives through the same method and counts the same.
    assert await app.store.polls.record_vote(PLACE.community_id, 1, THIRD.id, 2, clock.now())
    assert "answers 1 to 3" in (await say(app, "vote 4", MEMBER)).text

    await app.close()  # a restart before the end changes nothing
    app = await make_app()
    app.ports.attach("test", port)
    await run_until(app, clock, clock.now() + timedelta(days=3))
    results = [s for s in port.sent if "has ended" in s.text]
    assert len(results) == 1
    result = results[0].text
    assert "1 **Me and White Supremacy**: 0 vote(s)" in result
    assert "2 **Emergent Strategy**: 1 vote(s)" in result
    assert "3 **The Wake Up**: 2 vote(s) (most votes)" in result
    assert "3 member(s) voted" in result
    for who in (MEMBER, OTHER, THIRD):
        assert who.id not in result and who.display_name not in result
    assert results[0].at - posted.at == timedelta(days=2)

    late = await say(app, "vote 1 1", MEMBER)
    assert "has ended" in late.text
    assert not await app.store.polls.record_vote(PLACE.community_id, 1, MEMBER.id, 1, clock.now())
    assert await app.store.polls.counts(1) == {2: 1, 3: 2}
    await run_until(app, clock, clock.now() + timedelta(days=30))
    assert len([s for s in port.sent if "has ended" in s.text]) == 1


async def test_discords_limits_are_checked_with_clear_messages(app, clock):
    ten = " | ".join(f"option {n}" for n in range(10))
    cases = {
        "poll Only one? | yes": "needs 2 to 10 answers",
        f"poll Too many? | {ten} | one more": "(this one has 11)",
        "poll " + "q" * 301 + " | a | b": "question is too long (301 characters; at most 300)",
        "poll Long? | " + "a" * 56 + " | b": "Answer 1 is too long (56 characters; at most 55)",
        "poll Twice? | a | A": "Two answers are the same",
        "poll Forever? | a | b for 769h": "open 1 to 768 hours",
        "poll Never? | a | b for 0h": "open 1 to 768 hours",
        "poll | a | b": "Start with the question",
    }
    for line, expected in cases.items():
        reply = await say(app, line, MODERATOR)
        assert expected in reply.text, (line, reply.text)
    ok = await say(app, f"poll Ten is fine? | {ten} for 768h", MODERATOR)
    assert "open for 768 hours" in ok.text
    assert (await app.store.polls.get(PLACE.community_id, 1)) is not None
    assert (
        await app.store.polls.get(PLACE.community_id, 2)
    ) is None  # only the valid one was stored
    assert "option 9" in (await say(app, "vote 10", MEMBER)).text


async def test_members_start_polls_only_where_moderators_allow_it(app, clock):
    refused = await say(app, "poll Lunch? | yes | no", MEMBER)
    assert "Only moderators start polls here" in refused.text
    assert await app.store.polls.latest_open(PLACE.platform, PLACE.room_id) is None
    assert "every member" in (await say(app, "poll access members", MODERATOR)).text
    assert "Poll #1 is open" in (await say(app, "poll Lunch? | yes | no", MEMBER)).text
    assert "moderators only" in (await say(app, "poll access moderators", MODERATOR)).text
    assert "Only moderators" in (await say(app, "poll Again? | yes | no", MEMBER)).text
    assert (
        "no open poll" in (await say(app, "vote 1", MEMBER, PLACE._replace(room_id="r:other"))).text
    )
