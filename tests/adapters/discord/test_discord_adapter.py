"""The Discord adapter end to end: discord.py's real client against the loopback double.

Each test starts the adapter with ``run(app.gateway, settings)`` (settings point it at the double),
acts as a Discord user would (slash commands, autocomplete, DMs) and asserts on what the
double recorded the bot sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from companion.app import App
from companion.commands import CommandSpec, Param, ParamType
from companion.config import ConfigError, Settings
from companion.content import Content
from companion.events import Invocation, Reply
from companion.scheduler import occurrence_key
from companion_adapters.discord import CompanionClient, run
from companion_adapters.discord import adapter as adapter_module
from tests.conftest import START, AppFactory
from tests.dbsearch import columns_containing
from tests.discord_double import (
    REQUIRE_TAG,
    Channel,
    ChannelType,
    DefaultGuild,
    DiscordDouble,
    ForumTag,
    InteractionRecord,
    Overwrite,
    Perm,
)
from tests.fakes import FakeClock

if TYPE_CHECKING:
    from tests.web.harness import Browserless

pytestmark = pytest.mark.discord

TOKEN_VARIABLE = "COMPANION_DISCORD_TOKEN"
NO_PINGS: dict[str, list[str]] = {"parse": []}
BotFactory = Callable[..., Awaitable["Bot"]]


@dataclass
class Bot:
    app: App
    double: DiscordDouble
    guild: DefaultGuild
    task: asyncio.Task[None]

    @property
    def clock(self) -> FakeClock:
        assert isinstance(self.app.clock, FakeClock)
        return self.app.clock

    async def ask(self, name: str, options: dict[str, Any] | None = None, **kw: Any) -> str:
        """``/name options`` in a guild; the whole answer the user sees."""
        record = await self.double.slash(name, options, **kw)
        await self.double.wait_for_response(record)
        return text_of(record)


def text_of(record: InteractionRecord) -> str:
    return "\n".join(m.content for m in record.messages)


def called_back(record: InteractionRecord) -> Callable[[], bool]:
    return lambda: record.callback is not None


def discord_settings(double: DiscordDouble, **extra: Any) -> dict[str, Any]:
    return {"discord": {"api_base": double.api_base, "gateway_url": double.gateway_url, **extra}}


@pytest.fixture
async def double() -> AsyncIterator[DiscordDouble]:
    async with DiscordDouble() as double:
        yield double


@pytest.fixture
async def start_bot(
    double: DiscordDouble,
    make_app: AppFactory,
    shipped: Content,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[BotFactory]:
    """Start the adapter through its public entry point; stop it (cancel) at the end."""
    tasks: list[asyncio.Task[None]] = []
    guild = double.add_default_guild()
    monkeypatch.setenv(TOKEN_VARIABLE, double.token)

    async def factory(
        extra_specs: tuple[CommandSpec, ...] = (),
        sections: dict[str, Any] | None = None,
        **discord_extra: Any,
    ) -> Bot:
        app = await make_app(
            content=shipped,
            sections={**discord_settings(double, **discord_extra), **(sections or {})},
            adapters=("discord",),
        )
        app.registry.extend(extra_specs)
        task = asyncio.create_task(run(app.gateway, app.settings, guild_ready_timeout=0.01))
        tasks.append(task)
        ready = asyncio.create_task(double.wait_ready())
        await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():  # the adapter stopped before it was ready: show why
            ready.cancel()
            task.result()
        await ready
        return Bot(app, double, guild, task)

    yield factory
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 2)


@pytest.fixture
async def bot(start_bot: BotFactory) -> Bot:
    return await start_bot()


# --- answering commands ---------------------------------------------------------------


async def test_define_answers_with_the_cited_definition(bot: Bot) -> None:
    record = await bot.double.slash("define", {"term": "allyship"})
    await bot.double.wait_for_response(record)

    assert record.callback is not None and record.callback.type == 4  # answered at once
    [message] = record.messages
    assert message.content.startswith("**Allyship**")
    assert "an active and consistent practice" in message.content
    assert "— Michelle MiJung Kim" in message.content
    assert not message.ephemeral
    assert message.allowed_mentions == NO_PINGS
    bot.double.assert_clean()


async def test_define_autocomplete_offers_matching_terms(bot: Bot) -> None:
    choices = await bot.double.autocomplete("define", {"term": "ally"}, focused="term")

    values = [c["value"] for c in choices]
    assert 0 < len(values) <= 25
    assert "allyship" in values[:3]
    assert all(c["name"] == c["value"] for c in choices)
    everything = await bot.double.autocomplete("define", {"term": ""}, focused="term")
    assert len(everything) == 25  # more terms than Discord shows: the first 25
    bot.double.assert_clean()


async def test_zone_autocomplete_in_a_subcommand(bot: Bot) -> None:
    choices = await bot.double.autocomplete(
        "schedule reflection",
        {"time": "09:00", "zone": "berlin"},
        focused="zone",
        user=bot.guild.moderator,
    )
    assert "Europe/Berlin" in [c["value"] for c in choices]


async def test_user_text_cannot_ping_or_become_markup(bot: Bot) -> None:
    member = bot.guild.member
    typed = f"@everyone **hi** <@{member.id}> @here"
    record = await bot.double.slash("define", {"term": typed})
    await bot.double.wait_for_response(record)

    [message] = record.messages
    assert message.allowed_mentions == NO_PINGS
    assert message.data["mention_everyone"] is False
    assert message.data["mentions"] == [] and message.data["mention_roles"] == []
    # Shown as typed: escaped markup, mass mentions broken by a zero-width space.
    assert "\\*\\*hi\\*\\*" in message.content
    assert f"\\<@{member.id}\\>" in message.content
    assert "@everyone" not in message.content and "@\u200beveryone" in message.content
    bot.double.assert_clean()


async def test_a_long_reply_is_split_on_line_boundaries(bot: Bot) -> None:
    moderator = bot.guild.moderator
    for n in range(4):
        text = f"Prompt {n}: " + " ".join(["What did you notice about power this week?"] * 13)
        answer = await bot.ask("prompt add", {"text": text}, user=moderator)
        assert answer.startswith("Added prompt")

    record = await bot.double.slash("prompt list")
    await bot.double.wait_for_response(record, followups=1)

    messages = record.messages
    assert len(messages) >= 2
    assert all(0 < len(m.content) <= 2000 for m in messages)
    assert all(m.allowed_mentions == NO_PINGS for m in messages)
    # No line was cut: every prompt line is whole in one message.
    lines = [line for m in messages for line in m.content.split("\n")]
    assert sum(line.startswith("- `") and line.endswith("week?") for line in lines) == 4
    bot.double.assert_clean()


# --- moderators -----------------------------------------------------------------------


async def test_only_moderators_can_schedule(bot: Bot) -> None:
    refused = await bot.ask("schedule reflection", {"time": "09:00"}, user=bot.guild.member)
    assert refused == "Only moderators can use `/schedule reflection`."

    planned = await bot.ask("schedule reflection", {"time": "09:00"}, user=bot.guild.moderator)
    assert planned.startswith("Planned #1: the reflection question")
    listed = await bot.ask("schedule list", user=bot.guild.member)
    assert "#1" in listed
    bot.double.assert_clean()


async def test_manage_threads_or_a_configured_role_makes_a_moderator(
    double: DiscordDouble, start_bot: BotFactory
) -> None:
    guild = double.guilds[0]
    facilitators = guild.add_role("Facilitators")  # no permissions at all
    helpers = guild.add_role("Thread helpers", Perm.MANAGE_THREADS)
    facilitator = guild.add_member(double.add_user("facilitator"), [facilitators])
    helper = guild.add_member(double.add_user("helper"), [helpers])
    bot = await start_bot(moderator_role_ids=[facilitators.id])

    for minute, who in enumerate((facilitator, helper, bot.guild.owner)):
        # A time each: the same reflection twice in one channel is refused as a twin.
        answer = await bot.ask("schedule reflection", {"time": f"10:0{minute}"}, user=who)
        assert answer.startswith("Planned #"), (who.user.username, answer)


async def test_a_channel_overwrite_does_not_make_a_community_moderator(
    double: DiscordDouble, start_bot: BotFactory
) -> None:
    guild = double.guilds[0]
    keeper = guild.add_member(double.add_user("thread-keeper"))
    text = guild.channels[0]
    # Manage Threads on this one channel only; a server admin also let them see /approve.
    text.overwrites.append(Overwrite(keeper.id, type=1, allow=Perm.MANAGE_THREADS))
    guild.command_overrides.add(("approve", keeper.id))
    managers = guild.add_role("Server managers", Perm.MANAGE_GUILD)
    manager = guild.add_member(double.add_user("manager"), [managers])
    bot = await start_bot()
    assert bot.guild.text is text
    await bot.ask("suggest term", {"term": "solidarity", "definition": "Standing with others."})

    approve, zone = {"id": 1}, {"zone": "Europe/Berlin"}
    refused = await bot.ask("approve", approve, user=keeper, channel=text)
    assert refused == "Only moderators can use `/approve`."
    refused = await bot.ask("timezone", zone, user=keeper, channel=text)
    assert "Only moderators" in refused, refused
    assert "Europe/Berlin" not in await bot.ask("timezone", user=keeper)

    assert "#1 approved" in await bot.ask("approve", approve, user=manager, channel=text)
    assert "Europe/Berlin" in await bot.ask("timezone", zone, user=manager, channel=text)
    bot.double.assert_clean()


async def test_moderator_only_groups_are_hidden_from_members(
    start_bot: BotFactory, double: DiscordDouble
) -> None:
    async def nothing(inv: Invocation) -> Reply:
        return Reply("done")

    specs = (
        CommandSpec("club start", "Start a club", nothing, moderator_only=True),
        CommandSpec("club stop", "Stop a club", nothing, moderator_only=True),
    )
    bot = await start_bot(extra_specs=specs)
    [club] = [c for c in double.commands() if c["name"] == "club"]
    assert club["default_member_permissions"] == str(Perm.MANAGE_GUILD)
    with pytest.raises(PermissionError):
        await double.slash("club start", user=bot.guild.member)
    assert await bot.ask("club start", user=bot.guild.moderator) == "done"


# --- scheduled discussions ------------------------------------------------------------


async def test_scheduled_discussions_open_a_thread_and_a_forum_post(bot: Bot) -> None:
    double, guild = bot.double, bot.guild
    # Commands cannot be typed in a forum channel itself, only in its posts.
    post = Channel(
        "Introductions",
        ChannelType.PUBLIC_THREAD,
        guild_id=guild.guild.id,
        parent_id=guild.forum.id,
        owner_id=guild.member.id,
    )
    guild.guild.threads.append(post)
    when = START + timedelta(hours=1)
    moment = {"rule": "once", "when": when.strftime("%Y-%m-%d %H:%M") + " next"}
    for channel in (guild.text, post):
        answer = await bot.ask("schedule discussion", moment, user=guild.moderator, channel=channel)
        assert answer.startswith("Planned #"), answer

    bot.clock.set(when)
    await bot.app.scheduler.run_due()
    await double.wait_until(lambda: len(double.threads) == 2, what="two threads")

    by_source = {t.source: t for t in double.threads}
    thread, forum_post = by_source["message"], by_source["forum"]
    # Text channel: a starter message carrying the occurrence key, a thread on it, the prompt.
    starter = next(m for m in double.messages if m.id == thread.id)
    assert starter.channel_id == guild.text.id and starter.nonce == occurrence_key(1, when)
    assert starter.payload["enforce_nonce"] is True
    assert starter.content == f"**{thread.name}**" and 0 < len(thread.name) <= 100
    inside = [m for m in double.messages if m.channel_id == thread.id]
    assert inside and thread.name in inside[0].content.replace("\\", "")
    # Forum channel: a post named from the prompt, with the prompt as its first message.
    assert forum_post.channel.parent_id == guild.forum.id
    assert forum_post.starter is not None and forum_post.name in forum_post.starter.content
    assert all(m.allowed_mentions == NO_PINGS for m in double.messages)

    # A second pass (a retry, a reconnect) posts nothing again.
    sent = len(double.messages)
    await bot.app.scheduler.run_due()
    assert len(double.messages) == sent and len(double.threads) == 2
    double.assert_clean()


async def test_a_retried_thread_reuses_the_first_attempt(bot: Bot) -> None:
    from companion.events import Place

    place = Place("discord", str(bot.guild.guild.id), str(bot.guild.text.id))
    port = bot.app.ports["discord"]
    first = await port.open_thread(place, "Power at work", "What changed?", key="cmp1-abc")
    again = await port.open_thread(place, "Power at work", "What changed?", key="cmp1-abc")

    assert first == again
    assert len(bot.double.threads) == 1
    assert [m.content for m in bot.double.messages] == ["**Power at work**", "What changed?"]
    # Discord refused the second thread on the same message; nothing else went wrong.
    assert [e.body["code"] for e in bot.double.errors] == [160004]


async def test_a_retried_forum_post_reuses_the_first_attempt(bot: Bot) -> None:
    from companion.events import Place

    place = Place("discord", str(bot.guild.guild.id), str(bot.guild.forum.id))
    port = bot.app.ports["discord"]
    first = await port.open_thread(place, "Listening first", "Who spoke?", key="cmp1-f")
    await bot.double.wait_until(lambda: len(bot.double.threads) == 1)
    again = await port.open_thread(place, "Listening first", "Who spoke?", key="cmp1-f")
    other = await port.open_thread(place, "Another prompt", "What changed?", key="cmp2-f")

    assert first == again and other != first
    assert [t.name for t in bot.double.threads] == ["Listening first", "Another prompt"]


async def test_a_forum_that_requires_a_tag_gets_the_configured_one_or_its_first(
    start_bot: BotFactory, double: DiscordDouble, caplog: pytest.LogCaptureFixture
) -> None:
    """Discord refuses a post without applied_tags in a forum with the REQUIRE_TAG flag."""
    from companion.events import Place

    guild = double.guilds[0] if double.guilds else None
    assert guild is not None  # start_bot added the default guild
    tags = [ForumTag("Announcements", moderated=True), ForumTag("Discussion"), ForumTag("Reading")]
    configured = guild.add_channel(
        "book-club", ChannelType.GUILD_FORUM, flags=REQUIRE_TAG, available_tags=tags
    )
    unconfigured = guild.add_channel(
        "circle", ChannelType.GUILD_FORUM, flags=REQUIRE_TAG, available_tags=tags[:2]
    )
    bot = await start_bot(forum_tags={str(configured.id): "reading"})
    port = bot.app.ports["discord"]

    for forum in (configured, unconfigured):
        place = Place("discord", str(guild.id), str(forum.id))
        await port.open_thread(place, "Chapter one", "What stayed with you?", key=f"k{forum.id}")
    await double.wait_until(lambda: len(double.threads) == 2, what="two forum posts")

    tagged = {t.channel.parent_id: t.channel.applied_tags for t in double.threads}
    assert tagged[configured.id] == [str(tags[2].id)]  # Reading, as configured
    # None configured: the first tag anyone may apply (Announcements is moderated), and a
    # warning that says what to set.
    assert tagged[unconfigured.id] == [str(tags[1].id)]
    [warning] = [r.getMessage() for r in caplog.records if "forum_tags" in r.getMessage()]
    assert "#circle" in warning and "requires a tag" in warning and "'Discussion'" in warning
    assert f'forum_tags = {{ "{unconfigured.id}" = "..." }}' in warning
    double.assert_clean()


async def test_posting_where_the_bot_may_not_is_a_permanent_failure(bot: Bot) -> None:
    from companion.events import Place
    from companion.ports import PostError
    from tests.discord_double import Overwrite

    guild = bot.guild
    guild.text.overwrites.append(Overwrite(guild.bot_role.id, deny=Perm.SEND_MESSAGES))
    port = bot.app.ports["discord"]
    with pytest.raises(PostError) as raised:
        await port.post(Place("discord", str(guild.guild.id), str(guild.text.id)), "hi", key="k1")
    assert raised.value.permanent


# --- direct messages --------------------------------------------------------------------


async def test_direct_messages_get_only_what_makes_sense_there(bot: Bot) -> None:
    user = bot.guild.member.user
    record = await bot.double.slash_dm("help", user=user)
    await bot.double.wait_for_response(record, followups=1)  # two messages' worth by now
    assert text_of(record).startswith("**What I can do**")
    assert "`/define term:<term>`" in text_of(record)  # how Discord users type it
    assert "`/prompt show`" in text_of(record)

    record = await bot.double.slash_dm("define", {"term": "privilege"}, user=user)
    await bot.double.wait_for_response(record)
    assert text_of(record).startswith("**Privilege**")

    with pytest.raises(LookupError):  # not offered in DMs at all
        await bot.double.slash_dm("schedule list", user=user)
    with pytest.raises(LookupError):
        await bot.double.slash_dm("timezone", user=user)
    # A group usable in DMs (/prompt show) also holds community-only subcommands: refused.
    record = await bot.double.slash_dm("prompt list", user=user)
    await bot.double.wait_for_response(record)
    assert "works inside a community" in text_of(record)
    bot.double.assert_clean()


# --- the command tree -----------------------------------------------------------------


async def test_the_whole_registry_passes_discords_validation(bot: Bot) -> None:
    [sync] = bot.double.command_syncs
    assert sync.accepted and sync.guild_id is None
    registered = {c["name"]: c for c in bot.double.commands()}
    assert sorted(registered) == sorted({s.name.split()[0] for s in bot.app.registry})
    prompt = {o["name"] for o in registered["prompt"]["options"]}
    assert prompt == {"show", "add", "list", "remove", "edit"}
    assert registered["define"]["contexts"] == [0, 1]
    assert registered["schedule"]["contexts"] == [0]
    # The bare `prompt` is `/prompt show`.
    answer = await bot.ask("prompt show")
    assert answer.startswith("**")
    bot.double.assert_clean()


async def test_a_test_guild_gets_the_commands_instead(
    double: DiscordDouble, start_bot: BotFactory
) -> None:
    guild = double.guilds[0]
    bot = await start_bot(test_guild_id=str(guild.id))
    [sync] = double.command_syncs
    assert sync.accepted and sync.guild_id == guild.id
    assert double.commands() == [] and double.commands(guild)
    assert all("contexts" not in c for c in sync.payload)
    assert "Allyship" in await bot.ask("define", {"term": "allyship"})


# --- private and slow commands ----------------------------------------------------------


async def test_private_replies_are_ephemeral_and_slow_ones_defer(start_bot: BotFactory) -> None:
    release = asyncio.Event()

    async def whisper(inv: Invocation) -> Reply:
        return Reply(f"only you, {inv.args['word']}")

    async def ponder(inv: Invocation) -> Reply:
        await release.wait()
        return Reply("line\n" * 700)  # 3,500 characters: two messages

    specs = (
        CommandSpec(
            "whisper",
            "Say something privately",
            whisper,
            params=(Param("word", "a word", ParamType.WORD),),
            private=True,
        ),
        CommandSpec("ponder", "Think long", ponder, slow=True),
    )
    bot = await start_bot(extra_specs=specs)
    record = await bot.double.slash("whisper", {"word": "hello"})
    await bot.double.wait_for_response(record)
    [message] = record.messages
    assert message.ephemeral and message.content == "only you, hello"

    record = await bot.double.slash("ponder")
    await bot.double.wait_until(called_back(record), what="the defer")
    assert record.callback is not None and record.callback.type == 5
    release.set()
    await bot.double.wait_for_response(record, followups=2)
    assert [len(m.content) for m in record.messages] == [1999, 1499]
    assert record.original is not None  # the "thinking..." message, edited by the followup
    assert record.original.edits[0]["allowed_mentions"] == NO_PINGS
    assert all(m.allowed_mentions == NO_PINGS for m in record.followups[1:])
    bot.double.assert_clean()


async def test_a_reply_not_ready_in_time_is_deferred(
    start_bot: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapter_module, "DEFER_AFTER", 0.02)  # Discord allows 3 s; 2 s here
    release = asyncio.Event()

    async def mull(inv: Invocation) -> Reply:
        await release.wait()
        return Reply("thought it over", private=inv.args["where"] == "me")

    where = Param("where", "all or me", choices=("all", "me"))
    bot = await start_bot(extra_specs=(CommandSpec("mull", "Think", mull, params=(where,)),))
    double = bot.double
    for choice in ("all", "me"):
        release.clear()
        record = await double.slash("mull", {"where": choice})
        await double.wait_until(called_back(record), what="the defer")
        assert record.callback is not None and record.callback.type == 5
        release.set()
        await double.wait_for_response(record, followups=1)
        assert record.original is not None and not record.original.ephemeral
        if choice == "all":
            assert [m.content for m in record.messages] == ["thought it over"]
        else:  # private after a public defer: a public note, the answer privately
            note, answer = record.messages
            assert note.content == "I answered you privately."
            assert answer.content == "thought it over" and answer.ephemeral
    double.assert_clean()


async def test_a_burst_from_one_member_gets_a_response_to_every_interaction(bot: Bot) -> None:
    """Over the flood limit the core says nothing more, but Discord shows "The application did
    not respond" for any interaction left without a response for 3 s: each one gets a line
    only the member sees, and autocomplete an empty list."""
    double = bot.double
    double.interaction_deadline = 0.3  # Discord's 3 s, shortened (real time: the double's)
    burst = [await double.slash("define", {"term": "allyship"}) for _ in range(14)]
    await double.wait_until(
        lambda: all(r.callback is not None or r in double.unanswered for r in burst),
        what="a response to each /define, or its deadline",
    )
    assert double.unanswered == []
    answers = [text_of(r) for r in burst]
    assert all(a.startswith("**Allyship**") for a in answers[:10])
    assert "faster than I answer them (10 every 30 seconds)" in answers[10]
    assert answers[11:] == ["Still too fast: I answer you again in 30 seconds."] * 3
    assert all(m.ephemeral for r in burst[10:] for m in r.messages)
    assert await double.autocomplete("define", {"term": "ally"}, focused="term") == []
    others = await double.autocomplete(
        "define", {"term": "ally"}, focused="term", user=bot.guild.moderator
    )
    assert "allyship" in [c["value"] for c in others]

    bot.clock.advance(timedelta(seconds=30))  # the window is over: answered again
    assert (await bot.ask("define", {"term": "allyship"})).startswith("**Allyship**")
    double.assert_clean()


# --- connection -------------------------------------------------------------------------


async def test_a_reconnect_resumes_without_a_second_scheduler_or_replays(bot: Bot) -> None:
    double = bot.double
    await bot.ask("schedule reflection", {"time": "12:30"}, user=bot.guild.moderator)
    bot.clock.set(START + timedelta(minutes=30))
    await double.wait_until(lambda: len(double.messages) == 2, what="the reflection post")
    [post] = [m for m in double.messages if m.source == "channel"]
    assert post.nonce == occurrence_key(1, START + timedelta(minutes=30))
    assert post.payload["enforce_nonce"] is True and post.allowed_mentions == NO_PINGS

    await double.force_reconnect()
    # An interaction sent while the bot is away arrives once, on RESUME.
    await double.force_reconnect(wait=False)
    record = await double.slash("define", {"term": "privilege"})
    await double.wait_ready()
    await double.wait_for_response(record)

    assert (double.identify_count, double.resume_count) == (1, 2)
    loops = [t for t in asyncio.all_tasks() if t.get_name() == "companion-scheduler"]
    assert len(loops) == 1 and bot.app.scheduler.running
    await bot.app.scheduler.run_due()
    await asyncio.sleep(0.05)
    assert len(double.messages) == 3  # the reflection once, two replies, nothing twice
    assert len([c for c in double.callbacks if c.interaction_id == record.id]) == 1
    double.assert_clean()


async def test_a_new_session_identifies_again_without_a_second_setup(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_wait(self: CompanionClient, shard_id: int | None, *, initial: bool) -> None:
        return None  # discord.py waits 5 s before identifying again

    monkeypatch.setattr(CompanionClient, "before_identify_hook", no_wait)
    double = bot.double
    await double.invalidate_session(resumable=False)
    await double.wait_until(lambda: double.identify_count == 2, what="a second IDENTIFY")
    await double.wait_ready()

    assert "Privilege" in await bot.ask("define", {"term": "privilege"})
    assert len(double.command_syncs) == 1  # setup_hook ran once
    loops = [t for t in asyncio.all_tasks() if t.get_name() == "companion-scheduler"]
    assert len(loops) == 1
    double.assert_clean()


async def test_the_token_is_never_logged(
    double: DiscordDouble,
    start_bot: BotFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    double.token = "MTAx.secret-bot-token.Zq9"
    monkeypatch.setenv(TOKEN_VARIABLE, double.token)
    caplog.set_level(logging.DEBUG)
    bot = await start_bot()
    assert "Allyship" in await bot.ask("define", {"term": "allyship"})
    await double.force_reconnect()
    assert len(caplog.records) > 20  # discord.py's debug logging was on
    assert "secret-bot-token" not in caplog.text


async def test_a_missing_token_names_the_variable(
    double: DiscordDouble, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_VARIABLE, raising=False)
    monkeypatch.delenv(TOKEN_VARIABLE + "_FILE", raising=False)
    app = await make_app(sections=discord_settings(double))
    with pytest.raises(ConfigError, match=TOKEN_VARIABLE):
        await run(app.gateway, app.settings)
    assert double.requests == []


async def test_a_rejected_token_fails_at_start_with_a_clear_message(
    double: DiscordDouble, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_VARIABLE, "not-the-token")
    app = await make_app(sections=discord_settings(double))
    with pytest.raises(ConfigError, match="rejected the bot token") as raised:
        await asyncio.wait_for(run(app.gateway, app.settings), 2)
    assert "not-the-token" not in str(raised.value)


async def test_bad_settings_are_config_errors(make_app: AppFactory) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"test_guild_id": "general"}, "test_guild_id"),
        ({"moderator_role_ids": 5}, "moderator_role_ids"),
        ({"moderator_role_ids": ["²"]}, "'²' is not a Discord id"),  # isdigit, yet no int
        ({"moderator_role_ids": [2**64]}, "is not a Discord id"),  # no snowflake is as large
        ({"api_base": "discord.com"}, "api_base"),
        ({"gatway_url": "ws://x"}, "gatway_url"),
        ({"shard_ids": [0]}, "shard_ids needs shard_count"),
        ({"shard_count": 0}, "shard_count must be a whole number"),
        ({"shard_count": True}, "shard_count must be a whole number"),
        ({"shard_count": 2, "shard_ids": [0, 2]}, r"shard_ids \[2\] are outside 0\.\.1"),
        ({"shard_count": 2, "shard_ids": "0"}, "shard_ids must be a list"),
        ({"shard_count": 2, "shard_ids": [1, 1]}, "lists a shard twice"),
        ({"forum_tags": ["Discussion"]}, "forum_tags must be a table of channel id = tag name"),
        ({"forum_tags": {"forum": "Discussion"}}, "forum_tags: 'forum' is not a Discord id"),
        ({"forum_tags": {"123": ""}}, "the tag for channel 123 must be a tag's name"),
        ({"forum_tags": {"123": "x" * 21}}, "1-20 characters"),
    ]
    for section, message in cases:
        app = await make_app()
        settings = replace(app.settings, sections={"discord": section})
        with pytest.raises(ConfigError, match=message):
            await run(app.gateway, settings)


def test_settings_default_to_discord_itself() -> None:
    from companion_adapters.discord import DiscordConfig

    config = DiscordConfig.from_settings(Settings(sections={"discord": {"enabled": True}}))
    assert config == DiscordConfig()


# --- member contributions ---------------------------------------------------------------


async def test_suggest_approve_reject_round_trip(bot: Bot) -> None:
    member, moderator = bot.guild.member, bot.guild.moderator
    link = "https://example.org/listening?utm_source=feed"
    record = await bot.double.slash(
        "resource suggest", {"url": link, "title": "On listening #listening"}, user=member
    )
    await bot.double.wait_for_response(record)
    assert record.messages[0].ephemeral and "#1 is waiting" in text_of(record)
    assert "On listening" in await bot.ask("queue", user=moderator)
    assert "#1 approved" in await bot.ask("approve", {"id": 1}, user=moderator)
    dm = bot.double.dm_channel(member.user)
    [told] = [m for m in bot.double.messages if m.channel_id == dm.id]
    assert "Your suggestion #1" in told.content and told.allowed_mentions == NO_PINGS
    assert "shared here" in await bot.ask("resources", {"query": "listening"}, user=member)

    await bot.ask("suggest prompt", {"text": "Who carries the invisible work here?"}, user=member)
    await bot.ask("reject", {"id": 2, "reason": "We have one like it"}, user=moderator)
    dms = [m for m in bot.double.messages if m.channel_id == dm.id]
    assert len(dms) == 2 and "We have one like it" in dms[-1].content


async def test_an_anonymous_question_is_posted_without_a_name(bot: Bot) -> None:
    member = bot.guild.guild.add_member(bot.double.add_user("quiet-robin"), [])
    moderator = bot.guild.moderator
    question = "How do I speak up when I am the only one who noticed? @everyone"
    record = await bot.double.slash("ask anonymously", {"question": question}, user=member)
    await bot.double.wait_for_response(record)
    assert record.messages[0].ephemeral
    assert "without a name" in await bot.ask("approve", {"id": 1}, user=moderator)

    def question_posts() -> list[Any]:
        return [m for m in bot.double.messages if "asked anonymously" in m.content]

    await bot.double.wait_until(lambda: bool(question_posts()), 10, "the question's post")
    [posted] = question_posts()
    assert posted.channel_id == bot.guild.text.id and posted.allowed_mentions == NO_PINGS
    assert member.user.username not in posted.content
    assert str(member.user.id) not in posted.content
    assert columns_containing(bot.app.settings.db_path, str(member.user.id)) == []


async def test_health_shows_the_gateway_connected_and_commands_counted(bot: Bot) -> None:
    record = await bot.double.slash("define", {"term": "allyship"})
    await bot.double.wait_for_response(record)
    up = 'companion_adapter_connected{platform="discord"} 1.0'
    for _ in range(100):  # a gateway resume under load may be in progress: up to 5 s
        scraped = bot.app.metrics.exposition().decode()  # reads the client's state now
        if up in scraped:
            break
        await asyncio.sleep(0.05)
    connected = [x for x in scraped.splitlines() if x.startswith("companion_adapter_connected")]
    assert connected == [up], connected
    assert 'companion_commands_total{command="define",outcome="ok"} 1.0' in scraped
    [discord_state] = [a for a in bot.app.metrics.adapters() if a.platform == "discord"]
    assert discord_state.connected and discord_state.heartbeat_age is not None


# --- the web dashboard ---------------------------------------------------------------------


async def dashboard_link(bot: Bot) -> str:
    """The moderator types /dashboard; the one-time token from the link only they see."""
    record = await bot.double.slash("dashboard", user=bot.guild.moderator)
    await bot.double.wait_for_response(record)
    assert record.messages[0].ephemeral
    return text_of(record).split("login?token=")[1].split(")")[0]


async def test_a_moderator_gets_a_dashboard_link_only_they_see(start_bot: BotFactory) -> None:
    from tests.fakes import RecordingPort
    from tests.web.harness import WEB, serve

    bot = await start_bot(sections=WEB)
    with pytest.raises(PermissionError, match="hidden from member"):  # a moderator command
        await bot.double.slash("dashboard", user=bot.guild.member)
    token = await dashboard_link(bot)
    web: Browserless = await serve(bot.app, RecordingPort())
    try:
        landed = await web.sign_in(token)
        assert landed.status == 303
        assert landed.headers["Location"] == f"/c/{bot.guild.guild.id}/schedules"
    finally:
        await web.client.close()


@contextlib.asynccontextmanager
async def signed_in(bot: Bot) -> AsyncIterator[tuple[Browserless, str]]:
    """The moderator signed in to the dashboard: the browser and their schedules page."""
    from tests.fakes import RecordingPort
    from tests.web.harness import page, serve

    web = await serve(bot.app, RecordingPort())
    try:
        assert (await web.sign_in(await dashboard_link(bot))).status == 303
        yield web, page(str(bot.guild.guild.id), "schedules")
    finally:
        await web.client.close()


async def test_the_dashboard_closes_within_a_minute_of_losing_the_role(
    start_bot: BotFactory,
) -> None:
    from tests.web.harness import WEB

    bot = await start_bot(sections=WEB)
    guild = bot.guild
    fetches = ("GET", f"/api/v10/guilds/{guild.guild.id}/members/{guild.moderator.id}")
    async with signed_in(bot) as (web, schedules):
        bot.clock.advance(timedelta(minutes=20))  # past unchecked_minutes: Discord is asked
        for _ in range(3):
            assert (await web.client.get(schedules)).status == 200
        assert bot.double.requests.count(fetches) == 1  # one fetch serves a burst of pages

        guild.moderator.roles.remove(guild.moderators)
        assert (await web.client.get(schedules)).status == 200  # the answer of 30 s ago
        bot.clock.advance(timedelta(seconds=31))
        refused = await web.client.get(schedules)
        assert refused.status == 403
        assert "no longer a moderator" in await refused.text()
        assert bot.double.requests.count(fetches) == 2


async def test_a_moderator_who_leaves_the_guild_loses_the_dashboard(
    start_bot: BotFactory,
) -> None:
    from tests.web.harness import WEB

    bot = await start_bot(sections=WEB)
    async with signed_in(bot) as (web, schedules):
        assert (await web.client.get(schedules)).status == 200
        bot.guild.guild.members.remove(bot.guild.moderator)
        bot.clock.advance(timedelta(seconds=31))
        assert (await web.client.get(schedules)).status == 403
        assert [e.body["code"] for e in bot.double.errors] == [10007]  # Unknown Member


async def test_one_process_may_run_every_shard(
    double: DiscordDouble, start_bot: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """shard_count without shard_ids: this process runs all the shards (discord.py's
    AutoShardedClient), answers in guilds on each and reports itself connected."""

    async def no_wait(self: CompanionClient, shard_id: int | None, *, initial: bool) -> None:
        return None  # discord.py waits 5 s between shards' IDENTIFYs

    monkeypatch.setattr(CompanionClient, "before_identify_hook", no_wait)
    first = double.guilds[0]  # the fixture's guild; its id picks its shard
    other = double.add_default_guild("Elsewhere", shard=(1 - (first.id >> 22) % 2, 2))
    bot = await start_bot(shard_count=2)
    await double.wait_until(
        lambda: sum(s.current is not None for s in double.gateway.sessions.values()) == 2,
        10,
        "both shards to identify",
    )
    assert sorted(s.shard for s in double.gateway.sessions.values()) == [(0, 2), (1, 2)]
    for guild in (bot.guild, other):
        assert "Allyship" in await bot.ask(
            "define", {"term": "allyship"}, guild=guild.guild, user=guild.member
        )
    up = 'companion_adapter_connected{platform="discord"} 1.0'
    await double.wait_until(lambda: up in bot.app.metrics.exposition().decode(), 5, "healthy")
    double.assert_clean()


async def test_the_moderator_check_answers_for_a_guild_on_another_shard(
    double: DiscordDouble, start_bot: BotFactory
) -> None:
    """The dashboard may run in a process that serves other shards: a guild it has no cache
    of is asked for over REST, so its moderators get a real answer, not "cannot tell"."""
    first = double.guilds[0]
    served = (first.id >> 22) % 2
    elsewhere = double.add_default_guild("Elsewhere", shard=(1 - served, 2))
    bot = await start_bot(shard_count=2, shard_ids=[served])
    assert bot.app.ports.shards()["discord"].ids == {served}
    port = bot.app.ports["discord"]
    guild = str(elsewhere.guild.id)
    assert await port.is_moderator("discord", guild, str(elsewhere.moderator.id)) is True
    assert await port.is_moderator("discord", guild, str(elsewhere.member.id)) is False
    assert await port.is_moderator("discord", "424242424242", str(elsewhere.member.id)) is None
    double.errors.clear()  # the unknown guild's refusal, asked on purpose
    double.assert_clean()
