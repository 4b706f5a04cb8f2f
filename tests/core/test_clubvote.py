"""`bookclub vote`: the club chooses its next book by an ordinary poll of its reading plans
or approved suggestions; long titles shortened visibly; the result names how to start it."""

from __future__ import annotations

from datetime import timedelta

from companion.features.bookclub.vote import answers_for, shorten
from tests.conftest import MEMBER, MODERATOR, PLACE, say
from tests.core.schedule_helpers import run_until
from tests.fakes import RecordingPort

LONG = "The Wake Up: Closing the Gap Between Good Intentions and Real Change"


def test_a_long_title_is_shortened_at_a_word_with_an_ellipsis():
    short = shorten(LONG)
    assert short == "The Wake Up: Closing the Gap Between Good Intentions\u2026", short
    assert len(short) <= 55
    assert shorten("x" * 80) == "x" * 54 + "\u2026"
    assert shorten("Short title") == "Short title"
    # Two titles that shorten alike stay two answers, each within the limit.
    twins = answers_for([LONG, LONG + " (second edition)"])
    assert twins[0] != twins[1] and all(len(a) <= 55 for a in twins), twins
    # Ten that shorten alike (approved suggestions can): " (10)" fits too, or Discord
    # refuses the whole poll.
    tens = answers_for([f"{'y' * 60} {n}" for n in range(10)])
    assert len({a.casefold() for a in tens}) == 10 and max(map(len, tens)) <= 55, tens


async def test_the_club_votes_on_its_plans_and_the_result_says_how_to_start(make_app, clock):
    app = await make_app()
    port = RecordingPort(clock=clock)
    app.ports.attach("test", port)
    assert "Only moderators" in (await say(app, "bookclub vote", MEMBER)).text
    await say(app, 'bookclub plan create "Emergent Strategy" 12', MODERATOR)
    reply = await say(app, "bookclub vote for 2d", MODERATOR)
    assert "Poll #1 is open for 48 hours: 2 books" in reply.text, reply.text
    await app.scheduler.run_due()
    [posted] = port.sent
    assert "Which book should the club read next?" in posted.text
    assert "The Wake Up: Closing the Gap Between Good Intentions\u2026" in posted.text
    assert "Emergent Strategy" in posted.text
    poll = await app.store.polls.get(PLACE.community_id, 1)
    assert poll is not None and len(poll.options) == 2
    assert all(len(option) <= 55 for option in poll.options)
    number = poll.options.index("Emergent Strategy") + 1
    await say(app, f"vote {number}", MEMBER)  # the same `vote` as any poll
    await say(app, f"vote {number}", MODERATOR)
    await run_until(app, clock, clock.now() + timedelta(days=3))
    [result] = [s for s in port.sent if "has ended" in s.text]
    assert f"{number} **Emergent Strategy**: 2 vote(s) (most votes)" in result.text
    assert "`bookclub start emergent-strategy <date>`" in result.text, result.text


async def test_suggestions_and_named_plans_and_clear_refusals(app, clock):
    refused = {
        "bookclub vote suggestions": "needs 2 to 10 books to choose from; there are 0",
        "bookclub vote the-wake-up": "needs 2 to 10 books to choose from; there are 1",
        "bookclub vote no-such-book the-wake-up": "no reading plan",
        "bookclub vote for 800h": "open 1 to 768 hours",
    }
    for line, expected in refused.items():
        assert expected in (await say(app, line, MODERATOR)).text, line
    assert await app.store.polls.get(PLACE.community_id, 1) is None  # nothing was started
    for n in range(3):
        await say(app, f"resource suggest https://example.org/book-{n} {LONG} {n}", MEMBER)
        await say(app, f"approve {n + 1}", MODERATOR)
    reply = await say(app, "bookclub vote suggestions", MODERATOR)
    assert "3 books to choose from" in reply.text, reply.text
    poll = await app.store.polls.get(PLACE.community_id, 1)
    assert poll is not None and len(set(poll.options)) == 3
    assert all(len(o) <= 55 and o.endswith(("\u2026", ")")) for o in poll.options), poll.options
    await say(app, 'bookclub plan create "Emergent Strategy" 12', MODERATOR)
    named = await say(app, "bookclub vote emergent-strategy the-wake-up", MODERATOR)
    assert "2 books to choose from" in named.text, named.text
