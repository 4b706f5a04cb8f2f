from dataclasses import replace
from datetime import timedelta

from companion.content import Reflection
from tests.conftest import MEMBER, MODERATOR, PLACE, say


def question_of(reply_text: str, app) -> str:
    for reflection in app.content.reflections.values():
        if reflection.text in reply_text:
            return reflection.id
    raise AssertionError(f"no known question in {reply_text!r}")


async def test_every_member_gets_the_same_question_on_the_same_day(app, clock):
    first = (await say(app, "reflect", MEMBER)).text
    clock.advance(timedelta(hours=3))
    assert (await say(app, "reflect", MODERATOR)).text == first
    assert (await say(app, "today's reflection", MEMBER)).text == first


async def test_no_repeat_until_every_question_was_asked(app, clock):
    seen = []
    for _ in range(len(app.content.reflections)):
        seen.append(question_of((await say(app, "reflect")).text, app))
        clock.advance(timedelta(days=1))
    assert sorted(seen) == sorted(app.content.reflections)
    again = question_of((await say(app, "reflect")).text, app)
    assert again in seen  # the second round starts only now


async def test_communities_rotate_independently(app):
    other = PLACE._replace(community_id="c:two")
    ours = [question_of((await say(app, "reflect")).text, app)]
    theirs = [question_of((await say(app, "reflect", MEMBER, other)).text, app)]
    assert ours and theirs  # both answered; histories are separate:
    assert await app.store.reflections.use_counts("c:one") == {ours[0]: 1}
    assert await app.store.reflections.use_counts("c:two") == {theirs[0]: 1}


async def test_the_day_follows_the_community_time_zone(app, clock):
    """Auckland's question changes at Auckland's midnight and then holds all that day,
    while a community on UTC, whose day has not changed, keeps its question."""
    await say(app, "timezone Pacific/Auckland", MODERATOR)  # UTC+13 in March
    on_utc = PLACE._replace(community_id="c:utc")

    async def asked(place=PLACE) -> str:
        return question_of((await say(app, "reflect", MEMBER, place)).text, app)

    clock.set(clock.now().replace(hour=10, minute=59))  # 23:59 in Auckland
    late, utc_before = await asked(), await asked(on_utc)
    clock.advance(timedelta(minutes=2))  # 00:01 next day there, still the same UTC day
    early = await asked()
    assert early != late
    assert await asked(on_utc) == utc_before
    clock.advance(timedelta(hours=23, minutes=57))  # 23:58 in Auckland, a new UTC day
    assert await asked() == early
    assert await app.store.reflections.use_counts(PLACE.community_id) == {late: 1, early: 1}


async def test_history_survives_a_restart_and_content_edits(make_app, small, clock):
    app = await make_app()
    asked = [question_of((await say(app, "reflect")).text, app)]
    clock.advance(timedelta(days=1))
    asked.append(question_of((await say(app, "reflect")).text, app))
    today = (await say(app, "reflect")).text
    await app.close()

    edited = dict(small.reflections)
    edited[asked[1]] = edited[asked[1]]._replace(text=edited[asked[1]].text.replace("?", " now?"))
    edited["brand-new"] = Reflection("brand-new", "What will you try next?", ("practice",))
    restarted = await make_app(content=replace(small, reflections=edited))
    assert question_of((await say(restarted, "reflect")).text, restarted) == asked[1]
    assert (await say(restarted, "reflect")).text != today  # the edited wording is shown
    clock.advance(timedelta(days=1))
    following = question_of((await say(restarted, "reflect")).text, restarted)
    assert following not in asked
