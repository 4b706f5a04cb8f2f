import pytest

from tests.conftest import MEMBER, MODERATOR, PLACE, say


async def test_moderators_add_list_and_remove_community_prompts(app):
    added = await say(app, "prompt add Who gets interrupted in our meetings? #power", MODERATOR)
    assert "Added prompt `1` (tags: power)" in added.text
    listed = (await say(app, "prompt list power")).text
    assert "`1` Who gets interrupted" in listed  # the community's own, marked apart
    assert "Shipped prompts tagged power" in listed and "power-at-work" in listed
    assert "Removed prompt `1`" in (await say(app, "prompt remove 1", MODERATOR)).text
    assert "none yet" in (await say(app, "prompt list")).text


async def test_prompts_belong_to_their_community(app):
    await say(app, "prompt add Whose labour keeps this group running?", MODERATOR)
    other = PLACE._replace(community_id="c:other")
    assert "none yet" in (await say(app, "prompt list", MEMBER, other)).text
    assert "There is no prompt" in (await say(app, "prompt remove 1", MODERATOR, other)).text


async def test_anyone_gets_a_random_prompt_but_only_moderators_add(app):
    assert (await say(app, "prompt")).text.startswith("**")
    assert "Only moderators" in (await say(app, "prompt add Something to discuss?")).text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("prompt add short", "at least 10 characters"),
        ("prompt add " + "x" * 700, "at most"),
        ("prompt add A fine question here? #<b>bad</b>", "is not a tag"),
        ("prompt remove power-at-work", "Only this community's own prompts"),
        ("prompt remove 99", "There is no prompt"),
    ],
)
async def test_bad_prompts_are_explained_and_nothing_is_stored(app, line, expected):
    assert expected in (await say(app, line, MODERATOR)).text
    assert await app.store.prompts.for_community(PLACE.community_id) == []


async def test_prompt_text_is_shown_as_typed_not_as_markup(app):
    await say(app, "prompt add What does **power** mean @everyone? #power", MODERATOR)
    listed = (await say(app, "prompt list power")).text
    assert r"\*\*power\*\*" in listed and "@everyone" not in listed


async def test_an_edit_replaces_the_prompt_and_a_refused_one_changes_nothing(app):
    await say(app, "prompt add Who gets interrupted in our meetings? #power", MODERATOR)
    edited = await say(app, "prompt edit 1 Who gets heard first in our meetings? #power", MODERATOR)
    assert "Added prompt `2` (tags: power)" in edited.text and "Removed prompt `1`" in edited.text
    other = PLACE._replace(community_id="c:other")
    for line, actor, place, expected in (
        ("prompt edit 2 Too short", MODERATOR, PLACE, "at least 10 characters"),
        ("prompt edit 1 Who is heard first in our meetings?", MODERATOR, PLACE, "no prompt `1`"),
        ("prompt edit 2 Whose voice carries in our meetings?", MODERATOR, other, "no prompt `2`"),
        ("prompt edit power-at-work Whose voice carries here?", MODERATOR, PLACE, "numbered"),
        ("prompt edit 2 Whose voice carries in our meetings?", MEMBER, PLACE, "Only moderators"),
    ):
        assert expected in (await say(app, line, actor, place)).text, line
    listed = (await say(app, "prompt list")).text
    assert "`2` Who gets heard first" in listed and "`1`" not in listed and "`3`" not in listed
