"""Which code spans name a command, resolved against the app's own registry: those get the
platform's prefix, the rest are shown as written, and a reply through the gateway is shown
the way members of that platform type it."""

from companion.fmt import fmt
from companion.mentions import Mentions
from tests.conftest import MEMBER, PLACE


async def test_only_spans_that_start_with_a_command_get_the_prefix(app) -> None:
    mentions = Mentions(app.registry, {"matrix": "!", "discord": "/"})
    said = fmt(
        "`challenge done [note]`, `what is allyship`, `today`, `event`; "
        "not `what else`, `maybe`, `weekly thu 19:00`, `content import`."
    )
    assert mentions.render(said, "matrix") == (
        "`!challenge done [note]`, `!what is allyship`, `!today`, `!event`; "
        "not `what else`, `maybe`, `weekly thu 19:00`, `content import`."
    )
    assert mentions.render(said, "discord").startswith("`/challenge done [note]`, `/what is")
    assert mentions.render(said, "console") == said  # no prefix there
    assert mentions.render(mentions.render(said, "matrix"), "matrix") == mentions.render(
        said, "matrix"
    )


async def test_a_reply_through_the_gateway_names_commands_as_typed_on_its_platform(app) -> None:
    on_matrix = await app.gateway.handle_text(
        "define zzqx", MEMBER, PLACE._replace(platform="matrix")
    )
    on_discord = await app.gateway.handle_text(
        "define zzqx", MEMBER, PLACE._replace(platform="discord")
    )
    assert on_matrix is not None and "`!terms` lists every entry" in on_matrix.text
    assert on_discord is not None and "`/terms` lists every entry" in on_discord.text
