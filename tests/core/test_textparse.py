import pytest

from companion.commands import UserError
from companion.textparse import clean, parse
from tests.conftest import MODERATOR, say


async def test_two_word_commands_and_rest_text(app):
    parsed = parse("define   ally theater ", app.registry)
    assert parsed.spec.name == "define"
    assert parsed.args == {"term": "ally theater"}
    assert parse("what is privilege", app.registry).spec.name == "define"


async def test_quoted_words_and_apostrophes(app):
    assert parse('define "ally theater"', app.registry).args == {"term": "ally theater"}
    assert parse("define don't", app.registry).args == {"term": "don't"}
    assert parse("today\u2019s reflection", app.registry).spec.name == "reflect"


async def test_unknown_command_suggests_close_ones(app):
    with pytest.raises(UserError, match="Did you mean `define`"):
        parse("defnie allyship", app.registry)


async def test_too_many_arguments_show_usage(app):
    reply = await say(app, "myth 1 2")
    assert "Usage: `myth [number]`" in reply.text


async def test_unclosed_quote_on_a_word_argument(app):
    reply = await say(app, 'timezone "Europe/Berlin', MODERATOR)
    assert "not closed" in reply.text and "Usage: `timezone [zone]`" in reply.text


@pytest.mark.parametrize("line", ["", "   ", "\x00\x01", "\t"])
async def test_empty_input_gets_a_hint(app, line):
    reply = await say(app, line)
    assert "Type a command" in reply.text


async def test_a_100_kb_line_is_refused_in_one_line(app):
    reply = await say(app, "define " + "a" * 100_000)
    assert "too long" in reply.text
    assert "\n" not in reply.text


def test_control_characters_become_spaces():
    assert clean("define\x07ally\x1b[31m") == "define ally [31m"
    assert clean("line\nbreak") == "line\nbreak"
