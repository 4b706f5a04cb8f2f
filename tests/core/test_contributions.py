"""Member contributions: the queue round trip, anonymity, the journal, and privacy."""

from datetime import timedelta

import pytest

from companion.events import Actor
from companion.features.moderation.review import QUESTION_KIND
from tests.conftest import MEMBER, MODERATOR, PLACE, say
from tests.dbsearch import store_columns_containing
from tests.fakes import RecordingPort

LINK = "https://www.example.org/listening-talk/?utm_source=newsletter"


@pytest.fixture
def port(app, clock):
    recording = RecordingPort(clock=clock)
    app.ports.attach(PLACE.platform, recording)
    return recording


async def test_suggest_approve_and_find_it_in_resources(app, port):
    reply = await say(app, f"resource suggest {LINK} Listening before speaking #listening")
    assert reply.private and "#1 is waiting" in reply.text
    assert "resource: Listening before speaking" in (await say(app, "queue", MODERATOR)).text
    assert "#1 approved" in (await say(app, "approve 1", MODERATOR)).text
    listed = (await say(app, "resources listening")).text
    assert "Listening before speaking" in listed and "shared here" in listed
    [notice] = [s for s in port.sent if s.kind == "notice"]
    assert notice.title == MEMBER.id and "was approved" in notice.text
    again = await say(app, "resource suggest http://example.org/listening-talk Again")
    assert "already in the library" in again.text


async def test_reject_tells_the_suggester_the_reason(app, port):
    await say(app, "suggest prompt What do you do when you notice you were defensive?")
    reply = await say(app, "reject 1 We have a very similar prompt already", MODERATOR)
    assert "rejected" in reply.text
    [notice] = [s for s in port.sent if s.kind == "notice"]
    assert "We have a very similar prompt already" in notice.text
    mydata = (await say(app, "mydata")).text
    assert "We have a very similar prompt already" in mydata  # kept where they can read it


async def test_an_anonymous_question_is_posted_without_a_name(app, port, db_path):
    member = Actor("@quiet.member:example.org", "Quiet Member")
    ack = await say(app, "ask anonymously How do I speak up without centring myself?", member)
    assert ack.private and "without your name" in ack.text
    assert "How do I speak up" in (await say(app, "queue", MODERATOR)).text
    assert "without a name" in (await say(app, "approve 1", MODERATOR)).text
    await app.scheduler.run_due()  # the approval's post went out through the scheduler
    [post] = [s for s in port.sent if s.kind == "post"]
    assert "asked anonymously" in post.text and "How do I speak up" in post.text
    assert "Quiet" not in post.text and member.id not in post.text
    assert (await store_columns_containing(app.store, member.id)) == []
    assert (await store_columns_containing(app.store, "quiet.member")) == []


async def test_a_question_no_longer_approved_is_not_posted_and_not_retried(app, port, clock):
    """Its post finds the question not approved (here: still pending): nothing goes out, the
    moderators are told once, and it is not tried again (a permanent failure)."""
    await say(app, "ask anonymously How do I speak up without centring myself?")
    async with app.store.unit_of_work() as uow:
        await app.scheduler.add_now(PLACE, QUESTION_KIND, "1", MODERATOR.id, repos=uow)
    for _ in range(4):
        await app.scheduler.run_due()
        clock.advance(timedelta(hours=1))
    assert not [s for s in port.sent if "How do I speak up" in s.text]
    [told] = [s.text for s in port.sent]
    assert "I could not post here what a command asked for" in told
    assert "the question is no longer approved" in told


async def test_an_approved_question_waiting_to_go_out_is_no_schedule(app, port):
    """The outbox is not a schedule: `schedule list` does not show the question waiting to
    be posted, and cancel, pause and resume do not reach it, so it still goes out."""
    await say(app, "ask anonymously How do I speak up without centring myself?")
    await say(app, "approve 1", MODERATOR)
    assert "Nothing is planned here yet" in (await say(app, "schedule list", MODERATOR)).text
    for verb in ("cancel", "pause", "resume"):
        refused = await say(app, f"schedule {verb} 1", MODERATOR)
        assert "There is no schedule #1 here" in refused.text, verb
    planned = await say(app, "schedule reflection 09:00", MODERATOR)
    assert "Planned #2" in planned.text
    listed = (await say(app, "schedule list", MODERATOR)).text
    assert "#2" in listed and "#1" not in listed and "Discussion" not in listed
    await app.scheduler.run_due()
    [post] = [s for s in port.sent if s.kind == "post"]
    assert "How do I speak up" in post.text


async def test_limits_and_blocks_work_for_anonymous_askers_too(make_app, db_path):
    app = await make_app(suggestions_per_day=2)
    await say(app, "ask anonymously First question for the group here?")
    await say(app, "ask anonymously Second question for the group here?")
    assert "most a day" in (await say(app, "ask anonymously A third one today?")).text
    app.clock.advance(timedelta(days=1, minutes=1))
    assert "can no longer suggest" in (await say(app, "block 1", MODERATOR)).text
    blocked = await say(app, "suggest term allyship Doing the work again and again.")
    assert "paused your suggestions" in blocked.text
    assert await app.store.contributions.count_pending(PLACE.community_id) == 2
    assert "can suggest again" in (await say(app, "unblock 2", MODERATOR)).text
    audit = (await say(app, "audit", MODERATOR)).text
    assert "block author of #1" in audit and "unblock author of #2" in audit


async def test_forget_me_leaves_no_row_that_names_the_member(app, port, db_path, clock):
    member = Actor("member-7781", "Seven")
    await say(app, "reflect answer I stayed quiet when I should not have.", member)
    await say(app, f"resource suggest {LINK} A talk worth hearing", member)
    await say(app, "approve 1", MODERATOR)
    await say(app, "suggest prompt Where did you take a risk for someone else?", member)
    await say(app, "approve 2", MODERATOR)
    assert await store_columns_containing(app.store, member.id)  # it is there before
    warning = await say(app, "forget me", member)
    assert "forget me confirm" in warning.text and (
        await store_columns_containing(app.store, member.id)
    )
    done = await say(app, "forget me confirm", member)
    assert done.private and "Nothing I keep names you" in done.text
    assert (await store_columns_containing(app.store, member.id)) == []
    assert "A talk worth hearing" in (await say(app, "resources talk worth")).text  # stays
    assert "Where did you take a risk" in (await say(app, "prompt list", MODERATOR)).text


async def test_the_journal_is_private_and_newest_first(app, clock):
    assert (await say(app, "journal")).private
    await say(app, "reflect answer First thought.")
    clock.advance(timedelta(days=1))
    await say(app, "reflect answer Second thought.")
    mine = (await say(app, "journal")).text
    assert mine.index("Second thought") < mine.index("First thought")
    other = Actor("u:someone-else", "Someone")
    assert "empty" in (await say(app, "journal", other)).text


@pytest.mark.parametrize(
    ("line", "actor", "expected"),
    [
        ("resource suggest javascript:alert(1) Nice", MEMBER, "starts with http"),
        ("resource suggest ftp://example.org/file A file", MEMBER, "starts with http"),
        ("resource suggest https://example.org " + "x" * 10_000, MEMBER, "too long"),
        ("resource suggest https://example.org A title #<b>bold</b>", MEMBER, "is not a tag"),
        ("suggest prompt " + "y" * 10_000, MEMBER, "too long"),
        ("suggest term x Too short", MEMBER, "at least a sentence"),
        ("approve 1", MEMBER, "Only moderators"),
        ("approve 99", MODERATOR, "no suggestion #99"),
    ],
)
async def test_bad_contributions_are_explained_and_nothing_is_stored(app, line, actor, expected):
    assert expected in (await say(app, line, actor)).text
    assert await app.store.contributions.count_pending(PLACE.community_id) == 0


async def test_moderators_cannot_decide_another_communitys_items(app):
    await say(app, "suggest prompt What would accountability look like for us?")
    other = PLACE._replace(community_id="c:other")
    assert "no suggestion #1" in (await say(app, "approve 1", MODERATOR, other)).text
    assert "reason" in (await say(app, "reject 1", MODERATOR)).text
    assert await app.store.contributions.count_pending(PLACE.community_id) == 1
