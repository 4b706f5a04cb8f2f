import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from companion.commands import CommandSpec, UserError
from companion.dispatch import APOLOGY
from companion.events import Invocation, Reply
from tests.conftest import MEMBER, MODERATOR, PLACE, say


async def test_moderator_only_commands_refuse_members(app):
    reply = await say(app, "timezone Europe/Berlin", MEMBER)
    assert "Only moderators" in reply.text
    reply = await say(app, "timezone")
    assert "UTC" in reply.text  # unchanged


async def test_moderators_change_settings(app):
    reply = await say(app, "timezone europe/berlin", MODERATOR)
    assert "Europe/Berlin" in reply.text
    assert "Europe/Berlin" in (await say(app, "timezone")).text


async def test_a_crash_is_logged_and_answered_with_an_apology(app, caplog):
    async def broken(inv: Invocation) -> Reply:
        raise RuntimeError("database on fire")

    async def refusing(inv: Invocation) -> Reply:
        raise UserError("Not like that.")

    app.registry.add(CommandSpec("broken", "always fails", broken))
    app.registry.add(CommandSpec("refusing", "always refuses", refusing))
    with caplog.at_level(logging.ERROR):
        reply = await say(app, "broken")
    assert reply.text == APOLOGY
    assert "database on fire" in caplog.text  # the traceback is in the log, not the chat
    assert (await say(app, "refusing")).text == "Not like that."


async def test_direct_chats_refuse_community_commands(app):
    direct = PLACE.__class__("test", "dm:u:member", "r:dm")
    reply = await say(app, "timezone", MEMBER, direct)
    assert "inside a community" in reply.text
    assert "Allyship" in (await say(app, "define allyship", MEMBER, direct)).text


async def test_help_is_generated_from_the_registry(app):
    overview = (await say(app, "help")).text
    for spec in app.registry:
        if not spec.moderator_only:
            assert f"`{spec.usage}`" in overview
    detail = (await say(app, "help define")).text
    assert "`define <term>`" in detail and "Examples" in detail
    assert "Did you mean" in (await say(app, "help defin")).text


commandish = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda name, rest: f"{name} {rest}",
        st.sampled_from(
            [
                "define",
                "help",
                "reflect",
                "myth",
                "practice",
                "timezone",
                "terms",
                "what is",
                "today's reflection",
            ]
        ),
        st.text(max_size=200),
    ),
)


@pytest.fixture
async def unlimited(make_app):
    """Hundreds of commands from one member in one instant: no flood limit here."""
    return await make_app(commands_per_window=0)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(line=commandish, moderator=st.booleans())
async def test_no_text_escapes_the_dispatcher(unlimited, line, moderator):
    reply = await say(unlimited, line, MODERATOR if moderator else MEMBER)
    assert isinstance(reply, Reply) and reply.text
    assert reply.text != APOLOGY, f"{line!r} crashed a handler"


async def test_replies_and_posts_say_what_they_are(app):
    from datetime import timedelta

    from companion.events import Kind
    from tests.fakes import RecordingPort

    assert (await say(app, "terms extra words")).kind is Kind.USAGE_ERROR
    assert (await say(app, "define zzqqxx")).kind is Kind.ERROR
    assert (await say(app, "define allyship")).kind is Kind.DEFINITION
    assert (await say(app, "reflect")).kind is Kind.REFLECTION
    port = RecordingPort(app.clock)
    app.ports.attach(PLACE.platform, port)
    await say(app, "schedule reflection 13:00", MODERATOR)
    app.clock.advance(timedelta(hours=1, minutes=1))
    await app.scheduler.run_due()
    assert [sent.said for sent in port.sent] == [Kind.REFLECTION]
