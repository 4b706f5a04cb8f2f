"""The Matrix adapter's pieces without a server: events in, power, contents out, settings,
and the send loop's handling of rate limits and refusals (with a stand-in client)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from companion.app import App
from companion.config import ConfigError
from companion.markup import escape
from companion.ports import PostError
from companion_adapters.matrix import inbound, native, outbound
from companion_adapters.matrix.rooms import RoomState
from companion_adapters.matrix.settings import MatrixConfig

ME = "@companion:example.org"
ALICE = "@alice:example.org"
BOB = "@bob:example.org"
# An adapter of plain rooms only (the encrypted ones are tested on Synapse).
LOCAL = {"homeserver": "http://127.0.0.1:9", "user_id": ME, "encryption": False}
ROOM = "!AbCdEf0123456789"  # room version 12: no server part


def message(
    body: str,
    *,
    sender: str = ALICE,
    msgtype: str = "m.text",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "event_id": "$cmd",
        "sender": sender,
        "origin_server_ts": 1_700_000_000_000,
        "content": {"msgtype": msgtype, "body": body, **(extra or {})},
    }


def state(kind: str, content: dict[str, Any], sender: str = ALICE, key: str = "") -> dict[str, Any]:
    return {"type": kind, "state_key": key, "sender": sender, "content": content}


# --- events in -------------------------------------------------------------------------------


def test_a_prefixed_text_message_is_a_command() -> None:
    command = inbound.command_of(message("!define allyship"), ROOM, ME, "!")
    assert command is not None
    assert (command.line, command.sender, command.room_id) == ("define allyship", ALICE, ROOM)
    assert command.thread_root is None and command.event_id == "$cmd"
    assert inbound.command_of(message("  !help"), ROOM, ME, "!") is not None


@pytest.mark.parametrize(
    "event",
    [
        message("hello everyone"),
        message("!!! amazing"),
        message("! define"),
        message("!"),
        message("!define allyship", sender=ME),  # its own
        message("!define allyship", msgtype="m.notice"),  # another bot
        message("!define allyship", msgtype="m.emote"),
        message("* !define x", extra={"m.new_content": {"body": "!define x", "msgtype": "m.text"}}),
        message("!define x", extra={"m.relates_to": {"rel_type": "m.replace", "event_id": "$a"}}),
        {**message("!define x"), "state_key": ""},
        {**message("!define x"), "type": "m.room.encrypted"},
        {**message("!define x"), "content": {"msgtype": "m.text", "body": 5}},
    ],
)
def test_what_is_not_a_command(event: dict[str, Any]) -> None:
    assert inbound.command_of(event, ROOM, ME, "!") is None


def test_a_custom_prefix_and_a_reply_fallback() -> None:
    assert inbound.command_of(message("!define x"), ROOM, ME, "c/") is None
    command = inbound.command_of(message("c/define x"), ROOM, ME, "c/")
    assert command is not None and command.line == "define x"
    quoted = message("> <@bob:example.org> !define y\n> more\n\n!define allyship")
    command = inbound.command_of(quoted, ROOM, ME, "!")
    assert command is not None and command.line == "define allyship"


def test_a_command_in_a_thread_keeps_its_root() -> None:
    event = message(
        "!define ally",
        extra={"m.relates_to": {"rel_type": "m.thread", "event_id": "$root"}},
    )
    command = inbound.command_of(event, ROOM, ME, "!")
    assert command is not None and command.thread_root == "$root"
    place = inbound.place_of(command, direct=False)
    assert (place.platform, place.community_id, place.room_id) == ("matrix", ROOM, ROOM)
    assert place.thread_id == "$root" and not place.is_direct
    direct = inbound.place_of(command, direct=True)
    assert direct.is_direct and direct.room_id == ROOM


def test_commands_older_than_the_limit_are_too_old() -> None:
    command = inbound.command_of(message("!help"), ROOM, ME, "!")
    assert command is not None
    sent = command.origin_server_ts / 1000
    ten = timedelta(minutes=10)
    assert not inbound.too_old(command, sent + 599, ten)
    assert inbound.too_old(command, sent + 601, ten)
    assert not inbound.too_old(command, sent - 30, ten)  # the server's clock runs ahead


def test_only_what_follows_the_bots_own_join_counts() -> None:
    joined = state("m.room.member", {"membership": "join"}, sender=ME, key=ME)
    renamed = {**joined, "unsigned": {"prev_content": {"membership": "join"}}}
    events = [message("!old"), joined, message("!new"), renamed, message("!newer")]
    assert inbound.joined_at(events, ME) == 2
    assert inbound.joined_at([message("!a")], ME) == 0


def test_reading_an_invite() -> None:
    invite = inbound.invite_of(
        [
            state("m.room.name", {"name": "Circle @room"}),
            state("m.room.member", {"membership": "join"}, key=ALICE),
            state("m.room.member", {"membership": "invite", "is_direct": True}, key=ME),
            state("m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"}),
        ],
        ME,
    )
    assert invite == inbound.Invite(ALICE, True, True, "Circle @room")
    assert inbound.invite_of([], ME) == inbound.Invite(None, False, False, None)


# --- power -------------------------------------------------------------------------------


def test_room_v12_creators_moderate_without_a_power_level_entry() -> None:
    room = RoomState()
    room.apply_all(
        [
            state("m.room.create", {"room_version": "12", "additional_creators": ["@co:x.org"]}),
            state("m.room.power_levels", {"users": {"@mod:x.org": 50}, "users_default": 0}),
        ]
    )
    assert room.is_moderator(ALICE, 50) and room.is_moderator("@co:x.org", 100)
    assert room.is_moderator("@mod:x.org", 50) and not room.is_moderator("@mod:x.org", 51)
    assert not room.is_moderator("@someone:x.org", 50)


def test_before_v12_only_power_levels_count() -> None:
    room = RoomState()
    room.apply(state("m.room.create", {"room_version": "10", "creator": ALICE}))
    assert room.is_moderator(ALICE, 50)  # no power_levels event yet: the creator has 100
    room.apply(state("m.room.power_levels", {"users": {"@mod:x.org": "75"}, "users_default": 0}))
    assert not room.is_moderator(ALICE, 50)  # demoted by the power levels
    assert room.is_moderator("@mod:x.org", 75)  # old rooms may carry levels as strings
    room.apply(state("m.room.power_levels", {"users": {}, "users_default": 50}))
    assert room.is_moderator("@anyone:x.org", 50)


def test_names_and_encryption_follow_the_state() -> None:
    room = RoomState()
    room.apply(state("m.room.member", {"membership": "join", "displayname": "Bea"}, key=ALICE))
    assert room.display_name(ALICE) == "Bea"
    assert room.display_name("@carl:example.org") == "carl"
    room.apply(state("m.room.member", {"membership": "leave"}, key=ALICE))
    assert room.display_name(ALICE) == "alice"
    room.apply(state("m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"}))
    assert room.encrypted and room.encrypted_by == ALICE
    actor = inbound.actor_of(
        inbound.Command("$e", ROOM, ALICE, "help", None, 0), room, moderator_level=50
    )
    assert (actor.id, actor.display_name, actor.is_moderator) == (ALICE, "alice", False)


# --- contents out ------------------------------------------------------------------------


def test_a_reply_is_a_notice_with_html_and_no_mentions() -> None:
    content = outbound.notice("**Allyship**\nA practice.", outbound.reply_to("$cmd"))
    assert content == {
        "msgtype": "m.notice",
        "body": "Allyship\nA practice.",
        "format": "org.matrix.custom.html",
        "formatted_body": "<p><strong>Allyship</strong><br>A practice.</p>",
        "m.mentions": {},
        "m.relates_to": {"m.in_reply_to": {"event_id": "$cmd"}},
    }


def test_user_text_in_a_reply_stays_text() -> None:
    typed = "<b>x</b> @room <script>alert(1)</script> [a](https://evil.example)"
    content = outbound.notice(f"I don't have “{escape(typed)}”.")
    assert "<b>" not in content["formatted_body"] and "<a " not in content["formatted_body"]
    assert "&lt;script&gt;" in content["formatted_body"]
    assert "@room" not in content["body"] and "@room" not in content["formatted_body"]
    assert outbound.plain_notice("hi @room")["body"] == "hi @\u200broom"


def test_thread_relations() -> None:
    assert outbound.reply_to("$cmd", "$root") == {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": False,
        "m.in_reply_to": {"event_id": "$cmd"},
    }
    assert outbound.in_thread("$root") == {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": "$root"},
    }


def test_a_very_long_reply_is_split_into_notices_that_fit() -> None:
    text = "\n".join(f"- item {i} " + "é" * 300 for i in range(300))
    text += "\n" + "word " * 20_000 + "\n" + "x" * 70_000 + "\n" + "\\*" * 20_000
    parts = outbound.notices(text, outbound.reply_to("$cmd"))
    assert len(parts) > 5
    for part in parts:
        assert outbound.size(part) <= outbound.MAX_CONTENT_BYTES
        assert part["m.relates_to"] == {"m.in_reply_to": {"event_id": "$cmd"}}
    bodies = "".join(p["body"] for p in parts)
    assert bodies.count("item ") == 300 and bodies.count("x") == 70_000
    assert bodies.count("*") == 20_000 and "\\" not in bodies  # no escape cut in two
    assert outbound.notices("short") == [outbound.notice("short")]


def test_transaction_ids_are_stable_and_distinct() -> None:
    assert outbound.txn_id("reply", "$a") == outbound.txn_id("reply", "$a")
    assert outbound.txn_id("reply", "$a") != outbound.txn_id("reply", "$b")
    assert outbound.txn_id("hello", "!r") != outbound.txn_id("reply", "!r")


# --- settings ----------------------------------------------------------------------------


def test_settings_defaults() -> None:
    config = MatrixConfig.from_section({"homeserver": "https://hs.example/", "user_id": ME})
    assert config.homeserver == "https://hs.example"
    assert config.command_prefix == "!" and config.moderator_level == 50
    assert config.max_command_age == timedelta(minutes=10)
    assert config.allowed_inviters == ("*:example.org",)
    assert config.may_invite(ALICE) and not config.may_invite("@eve:evil.example")
    assert not config.may_invite("@eve:example.org.evil") and not config.may_invite(None)


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"user_id": ME}, "homeserver"),
        ({"homeserver": "hs.example", "user_id": ME}, "homeserver"),
        ({"homeserver": "https://hs", "user_id": "companion"}, "user_id"),
        ({"homeserver": "https://hs", "user_id": ME, "command_prefix": "go "}, "command_prefix"),
        ({"homeserver": "https://hs", "user_id": ME, "moderator_level": "50"}, "moderator_level"),
        ({"homeserver": "https://hs", "user_id": ME, "allowed_inviters": "*"}, "allowed_inviters"),
        (
            {"homeserver": "https://hs", "user_id": ME, "max_command_age_minutes": -1},
            "max_command_age_minutes",
        ),
        ({"homeserver": "https://hs", "user_id": ME, "prefix": "!"}, "prefix"),
    ],
)
def test_bad_settings_name_the_key(section: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        MatrixConfig.from_section(section)


# --- the send loop, with a stand-in client -------------------------------------------------


class FakeTransport:
    def __init__(self, status: int) -> None:
        self.status = status


async def test_sending_waits_out_rate_limits_and_stops_at_refusals(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nio import RoomSendError, RoomSendResponse

    from companion_adapters.matrix import adapter as adapter_module
    from companion_adapters.matrix import sending

    slept: list[float] = []

    async def no_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(sending.asyncio, "sleep", no_sleep)
    config = MatrixConfig.from_section(LOCAL)
    bot = adapter_module.MatrixAdapter(app.gateway, config)
    answers: list[object] = []
    sent: list[tuple[str, str]] = []

    async def room_send(
        room: str, kind: str, content: dict[str, Any], tx_id: str, **_: Any
    ) -> object:
        sent.append((room, tx_id))
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(bot.client, "room_send", room_send)

    def error(code: str, status: int, retry: int | None = None) -> RoomSendError:
        response = RoomSendError(f"{code} happened", code, retry, room_id=ROOM)
        response.transport_response = FakeTransport(status)
        return response

    try:
        answers[:] = [
            error("M_LIMIT_EXCEEDED", 429, 1500),
            TimeoutError(),
            error("M_UNKNOWN", 502),
            RoomSendResponse("$ok", ROOM),
        ]
        assert await bot.sender.send(ROOM, outbound.notice("hi"), "txn1") == "$ok"
        assert slept[0] == 1.5 and len(slept) == 3
        assert {tx for _, tx in sent} == {"txn1"}  # every retry with the same transaction id

        answers[:] = [error("M_FORBIDDEN", 403)]
        with pytest.raises(PostError) as refused:
            await bot.sender.send(ROOM, outbound.notice("hi"), "txn2")
        assert refused.value.permanent and "M_FORBIDDEN" in str(refused.value)

        answers[:] = [OSError("connection refused")] * 6
        with pytest.raises(PostError) as down:
            await bot.sender.send(ROOM, outbound.notice("hi"), "txn3")
        assert not down.value.permanent

        bot.rooms[ROOM] = RoomState(encrypted=True)
        with pytest.raises(PostError, match="encrypted") as encrypted:
            await bot.sender.send(ROOM, outbound.notice("hi"), "txn4")
        assert encrypted.value.permanent
    finally:
        await bot.close()


async def test_send_failures_are_classified_for_the_scheduler(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 22: what may get better is a TransientFailure (with the homeserver's
    retry_after), a refusal a PermanentFailure; a room matrix-nio has not synced is
    transient until the first sync, and permanent after it if the bot is not in it."""
    from nio import LocalProtocolError, RoomSendError

    from companion.events import Place
    from companion.ports import PermanentFailure, TransientFailure
    from companion_adapters.matrix import adapter as adapter_module
    from companion_adapters.matrix import sending

    async def no_sleep(seconds: float) -> None:
        return None

    monkeypatch.setattr(sending.asyncio, "sleep", no_sleep)
    bot = adapter_module.MatrixAdapter(app, MatrixConfig.from_section(LOCAL))
    answers: list[object] = []

    async def room_send(room: str, kind: str, content: dict[str, Any], **_: Any) -> object:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(bot.client, "room_send", room_send)

    def error(code: str, status: int, retry: int | None = None) -> RoomSendError:
        response = RoomSendError(f"{code} happened", code, retry, room_id=ROOM)
        response.transport_response = FakeTransport(status)
        return response

    async def fails(*answer: object) -> PostError:
        answers[:] = list(answer)
        with pytest.raises(PostError) as failed:
            await bot.sender.send(ROOM, outbound.notice("hi"), "txn")
        return failed.value

    try:
        limited = await fails(*[error("M_LIMIT_EXCEEDED", 429, 2000)] * 6)
        assert isinstance(limited, TransientFailure) and limited.retry_after == 2.0
        assert isinstance(await fails(*[error("M_UNKNOWN", 503)] * 6), TransientFailure)
        assert isinstance(await fails(error("M_FORBIDDEN", 403)), PermanentFailure)
        # The bot's token refused (revoked, expired, a soft logout): no refusal of the room,
        # so no schedule is paused for it; it waits for a token that works.
        assert isinstance(await fails(error("M_UNKNOWN_TOKEN", 401)), TransientFailure)
        unknown = LocalProtocolError(f"No such room with id {ROOM} found.")
        assert isinstance(await fails(unknown), TransientFailure)  # not synced yet
        with pytest.raises(TransientFailure, match="first sync"):
            await bot.post(Place("matrix", ROOM, ROOM), "hi", key="k")  # the port: not ready
        bot.sync.synced.set()  # the first sync (the sender asks the sync loop)
        assert isinstance(await fails(unknown), PermanentFailure)  # in sync: not in it
    finally:
        await bot.close()


def test_the_sync_filter_asks_only_for_what_the_bot_reads() -> None:
    from companion_adapters.matrix.sync import FILTER

    room = FILTER["room"]
    assert set(room["timeline"]["types"]) >= {"m.room.message", "m.room.member"}
    # Not lazy-loaded: with it Synapse names a member in two of the bot's rooms as changed
    # in nearly every sync (a keys query per encrypted reply) and drops names after a
    # restart (test_matrix_e2e, test_matrix_synapse show both).
    assert not room["state"]["lazy_load_members"] and not room["timeline"]["lazy_load_members"]
    assert FILTER["presence"] == {"not_types": ["*"]}
    json.dumps(FILTER)  # sent inline with each sync


# --- a sync response handled, without a server ---------------------------------------------


def ns(**kw: Any) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(**kw)


def sourced(*events: dict[str, Any]) -> list[Any]:
    return [ns(source=event) for event in events]


def sync_response(
    timeline: list[dict[str, Any]],
    state: tuple[dict[str, Any], ...] = (),
    limited: bool = False,
) -> Any:
    room = ns(state=sourced(*state), timeline=ns(events=sourced(*timeline), limited=limited))
    return ns(rooms=ns(join={ROOM: room}, invite={}, leave={}))


async def test_a_sync_becomes_commands_in_order_with_power_as_it_was(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    from companion_adapters.matrix.adapter import MatrixAdapter

    config = MatrixConfig.from_section(LOCAL)
    bot = MatrixAdapter(app.gateway, config, wall_clock=lambda: 1_700_000_000.0)
    answered: list[tuple[str, bool, str]] = []

    async def answer(command: inbound.Command, actor: Any, place: Any) -> None:
        answered.append((command.line, actor.is_moderator, place.community_id))

    monkeypatch.setattr(bot.replies, "answer", answer)
    bob = "@bob:example.org"

    def said(body: str, sender: str, event_id: str, age_s: float = 1) -> dict[str, Any]:
        event = message(body, sender=sender)
        event["event_id"] = event_id
        event["origin_server_ts"] = int((1_700_000_000 - age_s) * 1000)
        return event

    try:
        create = state("m.room.create", {"room_version": "12"})
        levels = state("m.room.power_levels", {"users": {}, "users_default": 0})
        promoted = state("m.room.power_levels", {"users": {bob: 50}, "users_default": 0})
        joined = state("m.room.member", {"membership": "join"}, sender=ME, key=ME)
        await bot.timeline.handle(
            sync_response(
                [
                    said("!define before-join", ALICE, "$0"),
                    joined,
                    said("!define one", bob, "$1"),
                    promoted,
                    said("!define two", bob, "$2"),
                    said("!define old", ALICE, "$3", age_s=3600),
                    said("!define three", ALICE, "$4"),
                ],
                state=(create, levels),
            ),
            answer=True,
        )
        assert answered == [
            ("define one", False, ROOM),  # Bob before his promotion
            ("define two", True, ROOM),  # and after it
            ("define three", True, ROOM),  # Alice created the room
        ]
        answered.clear()
        await bot.timeline.handle(sync_response([said("!define x", ALICE, "$5")]), answer=False)
        assert answered == []  # the first sync ever answers nothing
    finally:
        await bot.close()


# --- direct rooms, filed by a keyed hash; private notices ------------------------------------


async def test_direct_rooms_are_kept_under_a_keyed_hash_and_old_entries_migrate(
    app: App,
) -> None:
    from companion_adapters.matrix.adapter import MatrixAdapter

    config = MatrixConfig.from_section(LOCAL)
    key = f"matrix:direct:{ME}"
    bob = "@bob:example.org"
    bot = MatrixAdapter(app.gateway, config)
    try:
        alice_key = bot.direct.member_key(ALICE)
        assert alice_key == app.hasher("matrix:direct", ALICE) and ALICE not in alice_key
        # As saved before the hashing: room id -> user id. Bob's entry is already hashed.
        old = {"!dm-1": ALICE, "!dm-2": bot.direct.member_key(bob)}
        await app.store.kv.set(key, json.dumps(old))
        await bot.direct.load()
        assert bot.direct.by_room == {"!dm-1": alice_key, "!dm-2": bot.direct.member_key(bob)}
        saved = await app.store.kv.get(key)
        assert saved is not None and "@" not in saved and "alice" not in saved
        assert await bot.direct.room_with(ALICE) == "!dm-1"  # found by the hash

        left = state("m.room.member", {"membership": "leave"}, sender=ALICE, key=ALICE)
        assert bot.direct.left("!dm-1", left)
        assert not bot.direct.left("!dm-2", left)  # someone else's direct room
        await bot.direct.forget("!dm-1", leave=False)
        assert bot.direct.by_room == {"!dm-2": bot.direct.member_key(bob)}
        assert alice_key not in (await app.store.kv.get(key) or "")
    finally:
        await bot.close()


async def test_a_direct_room_being_joined_is_filed_after_a_restart_once_joined(
    app: App,
) -> None:
    from companion_adapters.matrix.adapter import MatrixAdapter

    config = MatrixConfig.from_section(LOCAL)
    bob = "@bob:example.org"
    before = MatrixAdapter(app.gateway, config)
    try:  # the start that stopped: both written down as being joined, neither filed
        await before.direct.joining_room("!dm-1", ALICE)
        await before.direct.joining_room("!dm-2", bob)
    finally:
        await before.close()
    saved = await app.store.kv.get(f"matrix:direct-joining:{ME}")
    assert saved is not None and "@" not in saved  # keyed hashes, no user id

    bot = MatrixAdapter(app.gateway, config)
    try:
        await bot.direct.load()
        assert "!dm-1" not in bot.direct and not bot.direct.has_room_with(ALICE)
        await bot.membership.joined("!dm-1")  # a sync shows the bot in it: Alice's
        assert "!dm-1" in bot.direct and bot.direct.is_with("!dm-1", ALICE)
        assert bot.membership.greet == {"!dm-1": None}  # and it says hello there
        await bot.membership.joined(ROOM)  # a room it was not joining: a community
        assert ROOM not in bot.direct and ROOM not in bot.membership.greet
        await bot.direct.not_joined("!dm-2")  # Bob withdrew the invite: nothing filed
        assert not bot.direct.has_room_with(bob)
        assert await app.store.kv.get(f"matrix:direct-joining:{ME}") == "{}"
        filed = json.loads(await app.store.kv.get(f"matrix:direct:{ME}") or "{}")
        assert list(filed) == ["!dm-1"]
    finally:
        await bot.close()


async def test_a_private_notice_goes_to_the_members_direct_room(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    from companion.events import Place
    from companion.ports import PrivateMessages
    from companion_adapters.matrix.adapter import MatrixAdapter

    config = MatrixConfig.from_section(LOCAL)
    bot = MatrixAdapter(app.gateway, config)
    sent: list[tuple[str, dict[str, Any], str]] = []

    async def send(room_id: str, content: dict[str, Any], txn: str) -> str:
        sent.append((room_id, content, txn))
        return f"$e{len(sent)}"

    monkeypatch.setattr(bot.sender, "send", send)
    try:
        assert isinstance(bot, PrivateMessages)
        await bot.direct.remember("!dm", ALICE)
        place = Place("matrix", ROOM, ROOM)
        await bot.notify(place, ALICE, "Your suggestion #1 was **approved**.", key="notice-1")
        await bot.notify(place, ALICE, "Your suggestion #1 was **approved**.", key="notice-1")
        [(room, content, txn), (_, _, again)] = sent
        assert room == "!dm" and "m.relates_to" not in content
        assert content["body"] == "Your suggestion #1 was approved."
        assert txn == again == outbound.txn_id("notice", "notice-1")  # a retry posts once
    finally:
        await bot.close()


# --- ask anonymously: routed through a direct message -----------------------------------------


@pytest.mark.parametrize(
    ("line", "choice", "question"),
    [
        ("ask anonymously How do I speak up?", None, "How do I speak up?"),
        ("Ask  ANONYMOUSLY\nHow do I\nspeak up?", None, "How do I\nspeak up?"),
        ("ask anonymously #2 How do I speak up?", 2, "How do I speak up?"),
        ("ask anonymously #2", 2, ""),
        ("ask anonymously", None, ""),
        ("ask anonymously #metoo is it ok to ask?", None, "#metoo is it ok to ask?"),
        ("ask anonymously #2nd try", None, "#2nd try"),
        ("ask anonymously 2 things", None, "2 things"),
    ],
)
def test_reading_an_anonymous_question(line: str, choice: int | None, question: str) -> None:
    from companion import anonymity

    ask = anonymity.parse(line)
    assert ask == anonymity.AnonymousAsk(choice, question)
    assert ask.line == f"ask anonymously {question}".strip()


@pytest.mark.parametrize(
    "line", ["ask", "ask a question", "help ask anonymously", "asks anonymously x", "anonymously"]
)
def test_other_commands_are_not_anonymous_questions(line: str) -> None:
    from companion import anonymity

    assert anonymity.parse(line) is None


def shared_room(room_id: str, name: str | None) -> Any:
    from companion.events import Place
    from companion.ports import Community

    return Community(Place("matrix", room_id, room_id), name)


def test_shared_rooms_are_numbered_in_a_stable_order() -> None:
    from companion.anonymity import AnonymousAsk, ordered, pick

    rooms = [
        shared_room("!c", "readers"),
        shared_room("!b", None),
        shared_room("!a", "Readers"),
        shared_room("!d", "Allies"),
    ]
    listed = ordered(rooms)
    assert [r.place.room_id for r in listed] == ["!b", "!d", "!a", "!c"]
    assert ordered(reversed(rooms)) == listed
    assert pick(listed, AnonymousAsk(2, "q")) == shared_room("!d", "Allies")
    assert pick(listed, AnonymousAsk(None, "q")) is None  # several: the member must choose
    assert pick(listed, AnonymousAsk(5, "q")) is None and pick(listed, AnonymousAsk(0, "q")) is None
    assert pick(listed[:1], AnonymousAsk(None, "q")) == listed[0]


def test_what_the_bot_says_about_anonymity_is_safe_markup() -> None:
    from companion import anonymity

    here = outbound.notice(anonymity.use_a_direct_message("@comp_anion:example.org"))
    assert "ask anonymously <question>" in here["body"] and "\n" not in here["body"]
    assert "@comp_anion:example.org" in here["body"]
    rooms = [shared_room("!a", "<b>Allies</b> @room"), shared_room("!b", None)]
    listed = outbound.notice(anonymity.which_room(rooms, choice=7))
    assert "There is no #7" in listed["body"] and "#2 !b" in listed["body"]
    assert "<b>" not in listed["formatted_body"] and "@room" not in listed["body"]


async def test_ask_anonymously_is_routed_not_dispatched_in_a_community_room(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    from companion.events import Actor, Place
    from companion.ports import Community
    from companion_adapters.matrix.adapter import MatrixAdapter

    config = MatrixConfig.from_section(LOCAL)
    bot = MatrixAdapter(app.gateway, config)
    said: list[tuple[str, str, Any]] = []
    shared: list[Community] = []

    async def send_md(room_id: str, md: str, relates_to: Any, txn: str, kind: Any = None) -> str:
        said.append((room_id, md, relates_to))
        return "$r"

    async def shared_rooms(actor: Actor) -> list[Community]:
        assert actor.id == ALICE
        return list(shared)

    monkeypatch.setattr(bot.sender, "send_md", send_md)
    monkeypatch.setattr(bot, "shared_communities", shared_rooms)
    app.ports.attach("matrix", bot)  # the capability is found through the app's ports
    alice = Actor(ALICE, "alice")

    async def ask(room_id: str, line: str) -> str:
        said.clear()
        command = inbound.Command("$q", room_id, ALICE, line, None, 0)
        place = inbound.place_of(command, room_id in bot.direct)
        await bot.replies.answer(command, alice, place)
        [(where, text, relates)] = said
        assert where == room_id and relates == {"m.in_reply_to": {"event_id": "$q"}}
        return text

    async def pending(room_id: str) -> int:
        return await app.store.contributions.count_pending(room_id)

    try:
        question = "ask anonymously How do I speak up without centring myself?"
        told = await ask(ROOM, question)
        assert "direct message" in told and await pending(ROOM) == 0
        assert "`!ask anonymously <question>`" in told  # as members type it here

        await bot.direct.remember("!dm", ALICE)
        assert "not in any room with you" in await ask("!dm", question)
        shared[:] = [shared_room("!r1", "Zebras"), shared_room("!r2", "Allies")]
        listed = await ask("!dm", question)
        assert "- #1 Allies\n- #2 Zebras" in listed and await pending("!r2") == 0
        assert "`!ask anonymously #1 <question>`" in listed
        assert "There is no #3" in await ask("!dm", question.replace("ly ", "ly #3 ", 1))
        done = await ask("!dm", question.replace("ly ", "ly #2 ", 1))
        assert "without your name" in done
        assert await pending("!r1") == 1 and await pending("!r2") == 0
        shared[:] = shared[:1]
        await ask("!dm", question.replace("How", "And how"))
        assert await pending("!r1") == 2

        # Someone else in Alice's direct room is not in a direct chat of their own.
        said.clear()
        command = inbound.Command("$q", "!dm", "@bob:example.org", question, None, 0)
        await bot.replies.answer(
            command, Actor(command.sender, "bob"), inbound.place_of(command, True)
        )
        assert "direct message" in said[0][1] and await pending("!r1") == 2
        assert Place("matrix", "!r1", "!r1").community_id == "!r1"
    finally:
        await bot.close()


def test_a_kind_has_its_own_template_and_a_title_stays_text() -> None:
    from companion.events import Kind

    md = "**Today's reflection**\nWhat did you notice?"
    reflection = outbound.notice(md, kind=Kind.REFLECTION)
    assert (
        reflection["formatted_body"]
        == f"<blockquote>{outbound.notice(md)['formatted_body']}</blockquote>"
    )
    assert reflection["body"] == outbound.notice(md)["body"]  # the plain body is shared
    root = outbound.thread_root("[win](https://evil.example) **x** @room")
    assert "<a" not in root["formatted_body"] and "**x**" in root["formatted_body"]
    assert root["formatted_body"].startswith("<p><strong>") and "@room" not in root["body"]


@pytest.mark.parametrize("selection", ["\u00b2", "\u2460", "1.0", "", "11", "0"])
def test_a_poll_response_with_no_valid_answer_is_a_spoiled_vote(selection: str) -> None:
    """MSC3381: a selection that is none of the answers ("²" is a digit to Python, but no
    number) takes the member's vote back, never an error that leaves the old vote."""
    for kind, content in (
        ("m.poll.response", {"m.selections": [selection]}),
        (
            "org.matrix.msc3381.poll.response",
            {native.POLL_RESPONSE_UNSTABLE: {"answers": [selection]}},
        ),
    ):
        event = {"type": kind, "content": {"m.relates_to": {"event_id": "$poll"}, **content}}
        assert native.poll_choice(event) == ("$poll", None)
    assert native.poll_choice(
        {
            "type": "m.poll.response",
            "content": {"m.relates_to": {"event_id": "$p"}, "m.selections": ["2"]},
        }
    ) == ("$p", 2)


async def test_removing_a_reaction_takes_back_only_the_answer_it_gave(make_app, clock) -> None:
    """Alice reacts ✅ to an event's announcement, then answers `event rsvp 1 no`; removing
    the ✅ later takes back her yes, which is no longer her answer: her "no" stands."""
    from companion.events import Actor, Place
    from tests.conftest import MODERATOR, say
    from tests.core.test_native_answers import NativePort

    app = await make_app()
    app.ports.attach("matrix", NativePort(clock=clock))
    here = Place("matrix", ROOM, ROOM)
    await say(app, "event plan weekly thu 18:30 Reading circle | here", MODERATOR, here)
    await app.scheduler.run_due()
    [event] = await app.store.events.for_community(ROOM)
    assert event.native_ref == "$ann1"
    answers = native.Answers(app.gateway)
    relates = {"rel_type": "m.annotation", "event_id": "$ann1", "key": "✅"}
    react = {"type": "m.reaction", "sender": ALICE, "event_id": "$r1"}
    await answers.handle(ROOM, [{**react, "content": {"m.relates_to": relates}}])
    assert (await app.store.events.counts([event.id]))[event.id].yes == 1
    await say(app, f"event rsvp {event.id} no", Actor(ALICE, "Alice"), here)
    redaction = {"type": "m.room.redaction", "sender": ALICE, "event_id": "$x", "redacts": "$r1"}
    await answers.handle(ROOM, [{**redaction, "content": {}}])
    counts = (await app.store.events.counts([event.id]))[event.id]
    assert (counts.yes, counts.maybe, counts.no) == (0, 0, 1)


def test_a_room_found_after_a_crash_is_the_direct_room_only_if_the_bot_made_it_for_them() -> None:
    """After a crash between createRoom and its bookkeeping the bot looks for the room it
    made: its own room with only that member in it (invited or joined), nobody else's."""
    from companion_adapters.matrix.direct import opened_for

    def state(creator: str, **members: str) -> list[dict[str, Any]]:
        create = {"type": "m.room.create", "state_key": "", "sender": creator, "content": {}}
        return [create] + [
            {"type": "m.room.member", "state_key": who, "content": {"membership": how}}
            for who, how in {ME: "join", **members}.items()
        ]

    assert opened_for(state(ME, **{ALICE: "invite"}), ME, ALICE)
    assert opened_for(state(ME, **{ALICE: "join"}), ME, ALICE)
    assert not opened_for(state(ALICE, **{ALICE: "join"}), ME, ALICE)  # her room, not a DM
    assert not opened_for(state(ME, **{ALICE: "leave"}), ME, ALICE)  # she left it
    assert not opened_for(state(ME, **{ALICE: "invite", BOB: "invite"}), ME, ALICE)
    assert not opened_for(state(ME, **{BOB: "invite"}), ME, ALICE)  # someone else's
    assert not opened_for({"errcode": "M_FORBIDDEN"}, ME, ALICE)
