"""Discord's polls and Guild Scheduled Events in the double, with Discord's rules.

Polls (https://discord.com/developers/docs/resources/poll): a message created with a
``poll`` request (1 to 10 answers, a question up to 300 characters, answers up to 55, a
duration of 1 to 768 hours); votes arrive as MESSAGE_POLL_VOTE_ADD/REMOVE (intent
GUILD_MESSAGE_POLLS); the author can end it early (POST .../polls/{id}/expire), after which
the results are final.

Guild Scheduled Events (https://discord.com/developers/docs/resources/guild-scheduled-event):
a name of 1 to 100 characters, privacy level 2, a start in the future; an external event
needs ``entity_metadata.location`` (1 to 100) and ``scheduled_end_time`` after the start,
a voice or stage event a ``channel_id`` of such a channel; a description up to 1000. The bot
needs Create Events (its own) or Manage Events. Members' "Interested" arrives as
GUILD_SCHEDULED_EVENT_USER_ADD/REMOVE (intent GUILD_SCHEDULED_EVENTS).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .models import ChannelType, Intent, Perm
from .validation import FormErrors, check_length

JSON = dict[str, Any]

QUESTION, ANSWER, MAX_ANSWERS, MIN_HOURS, MAX_HOURS = 300, 55, 10, 1, 768
NAME, LOCATION, DESCRIPTION = 100, 100, 1000
STAGE, VOICE, EXTERNAL = 1, 2, 3
GUILD_ONLY = 2
SCHEDULED, ACTIVE, COMPLETED, CANCELED = 1, 2, 3, 4


def check_poll(errors: FormErrors, poll: Any) -> None:
    """A poll request inside a message create."""
    path = ("poll",)
    if not isinstance(poll, dict):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    question = poll.get("question")
    text = question.get("text") if isinstance(question, dict) else None
    check_length(errors, (*path, "question", "text"), text, 1, QUESTION)
    answers = poll.get("answers")
    if not isinstance(answers, list) or not 1 <= len(answers) <= MAX_ANSWERS:
        errors.add(
            (*path, "answers"), "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {MAX_ANSWERS}."
        )
        answers = answers if isinstance(answers, list) else []
    for i, answer in enumerate(answers):
        media = answer.get("poll_media") if isinstance(answer, dict) else None
        text = media.get("text") if isinstance(media, dict) else None
        check_length(errors, (*path, "answers", i, "poll_media", "text"), text, 1, ANSWER)
    duration = poll.get("duration", 24)
    if (
        not isinstance(duration, int | float)
        or duration != int(duration)
        or not MIN_HOURS <= duration <= MAX_HOURS
    ):
        errors.add(
            (*path, "duration"),
            "NUMBER_TYPE_MAX",
            f"Must be an integer between {MIN_HOURS} and {MAX_HOURS}.",
        )
    if poll.get("allow_multiselect") not in (None, True, False):
        errors.add((*path, "allow_multiselect"), "BASE_TYPE_BOOLEAN", "Must be a boolean.")


def poll_object(request: JSON, created: datetime) -> JSON:
    """The poll as a message carries it: answer ids from 1, its expiry, no results yet."""
    expiry = created + timedelta(hours=int(request.get("duration", 24)))
    return {
        "question": {"text": request["question"]["text"]},
        "answers": [
            {"answer_id": n, "poll_media": {"text": a["poll_media"]["text"]}}
            for n, a in enumerate(request["answers"], 1)
        ],
        "expiry": expiry.isoformat(),
        "allow_multiselect": bool(request.get("allow_multiselect", False)),
        "layout_type": 1,
        "results": {"is_finalized": False, "answer_counts": []},
    }


@dataclass
class PollState:
    """Who voted for what in one poll message (Discord keeps it; tests read it)."""

    message_id: int
    channel_id: int
    guild_id: int | None
    answers: int
    multiselect: bool
    expiry: datetime
    votes: dict[int, set[int]] = field(default_factory=dict)  # user -> answer ids
    finalized: bool = False

    def counts(self) -> dict[int, int]:
        found: dict[int, int] = {}
        for chosen in self.votes.values():
            for answer in chosen:
                found[answer] = found.get(answer, 0) + 1
        return found

    def results(self) -> JSON:
        return {
            "is_finalized": self.finalized,
            "answer_counts": [
                {"id": answer, "count": count, "me_voted": False}
                for answer, count in sorted(self.counts().items())
            ],
        }


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def check_scheduled_event(
    errors: FormErrors,
    payload: JSON,
    current: JSON | None,
    channel_type: Any,
    now: datetime,
) -> None:
    """A create (``current`` None) or a modify of a Guild Scheduled Event.
    ``channel_type(id)`` is the type of a channel of the guild, or None."""
    merged = {**(current or {}), **payload}
    if current is None or "name" in payload:
        check_length(errors, ("name",), payload.get("name"), 1, NAME)
    if "description" in payload and payload["description"] is not None:
        check_length(errors, ("description",), payload["description"], 0, DESCRIPTION)
    if merged.get("privacy_level") != GUILD_ONLY:
        errors.add(("privacy_level",), "BASE_TYPE_CHOICES", "Value must be one of {2}.")
    kind = merged.get("entity_type")
    if kind not in (STAGE, VOICE, EXTERNAL):
        errors.add(("entity_type",), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3}.")
    start = parse_time(merged.get("scheduled_start_time"))
    if start is None:
        errors.add(("scheduled_start_time",), "DATE_TIME_TYPE_PARSE", "Could not parse date.")
    elif "scheduled_start_time" in payload and start <= now:
        errors.add(
            ("scheduled_start_time",),
            "GUILD_SCHEDULED_EVENT_SCHEDULE_PAST",
            "Cannot schedule event in the past.",
        )
    end = parse_time(merged.get("scheduled_end_time"))
    if kind == EXTERNAL:
        metadata = merged.get("entity_metadata")
        location = metadata.get("location") if isinstance(metadata, dict) else None
        check_length(errors, ("entity_metadata", "location"), location, 1, LOCATION)
        if end is None:
            errors.add(
                ("scheduled_end_time",),
                "GUILD_SCHEDULED_EVENT_REQUIRED_END_TIME",
                "An end time is required for external events.",
            )
        if merged.get("channel_id") is not None:
            errors.add(("channel_id",), "BASE_TYPE_NONE", "Must be null for external events.")
    elif kind in (STAGE, VOICE):
        channel = merged.get("channel_id")
        wanted = ChannelType.GUILD_STAGE_VOICE if kind == STAGE else ChannelType.GUILD_VOICE
        if channel is None or channel_type(channel) != wanted:
            errors.add(("channel_id",), "CHANNEL_TYPE_INVALID", "Invalid channel type.")
    if start is not None and end is not None and end <= start:
        errors.add(
            ("scheduled_end_time",),
            "GUILD_SCHEDULED_EVENT_END_BEFORE_START",
            "The end time must be after the start time.",
        )


def scheduled_event_object(
    event_id: int, guild_id: int, creator: JSON, payload: JSON, user_count: int = 0
) -> JSON:
    return {
        "id": str(event_id),
        "guild_id": str(guild_id),
        "channel_id": None if payload.get("channel_id") is None else str(payload["channel_id"]),
        "creator_id": creator["id"],
        "creator": creator,
        "name": payload["name"],
        "description": payload.get("description"),
        "scheduled_start_time": payload["scheduled_start_time"],
        "scheduled_end_time": payload.get("scheduled_end_time"),
        "privacy_level": payload.get("privacy_level", GUILD_ONLY),
        "status": payload.get("status", SCHEDULED),
        "entity_type": payload["entity_type"],
        "entity_id": None,
        "entity_metadata": payload.get("entity_metadata"),
        "user_count": user_count,
        "image": None,
        "recurrence_rule": None,
    }


def utcnow() -> datetime:
    return datetime.now(UTC)


class NativeApi:
    """Polls and scheduled events: routes and test helpers, mixed into the double."""

    # Shared with DiscordDouble and RestApi.
    bot: Any
    users: dict[int, Any]
    _store: dict[int, tuple[JSON, Any]]
    _touch: Any
    _wants: Any
    guild: Any
    dispatch: Any
    find_channel: Any
    _guild_of: Any
    _channel: Any
    _message: Any
    _body: Any
    _bots_guild: Any
    _publish: Any
    polls: dict[int, PollState]
    scheduled_events: dict[int, JSON]
    event_users: dict[int, set[int]]
    hold_event_answer: Any  # asyncio.Event | None: see DiscordDouble
    now: Any  # () -> datetime: the double's clock (tests set it to theirs)

    def native_routes(self) -> list[tuple[str, str, Any]]:
        events = "/guilds/{guild}/scheduled-events"
        return [
            ("POST", "/channels/{cid}/polls/{mid}/expire", self._expire_poll),
            ("GET", events, self._list_events),
            ("POST", events, self._create_event),
            ("GET", events + "/{eid}", self._event),
            ("PATCH", events + "/{eid}", self._event),
            ("DELETE", events + "/{eid}", self._event),
        ]

    # --- polls --------------------------------------------------------------------------

    def start_poll(self, message: JSON, guild_id: int | None, request: JSON) -> None:
        created = self.now()  # the double's clock (a test's), for the poll's expiry
        message["poll"] = poll_object(request, created)
        self.polls[int(message["id"])] = PollState(
            int(message["id"]),
            int(message["channel_id"]),
            guild_id,
            len(request["answers"]),
            bool(request.get("allow_multiselect", False)),
            created + timedelta(hours=int(request.get("duration", 24))),
        )

    async def poll_vote(
        self, user: Any, message_id: int, answer_id: int, *, add: bool = True
    ) -> bool:
        """A member votes (or takes the vote back) as Discord's client would: refused (False)
        after the poll ended, or for an answer it does not have."""
        poll = self.polls[message_id]
        if poll.finalized or self.now() >= poll.expiry or not 1 <= answer_id <= poll.answers:
            return False
        chosen = poll.votes.setdefault(user.id, set())
        if add:
            if not poll.multiselect:
                for old in sorted(chosen - {answer_id}):
                    await self._vote_event(poll, user, old, add=False)
                chosen.clear()
            chosen.add(answer_id)
        elif answer_id in chosen:
            chosen.discard(answer_id)
        else:
            return False
        self._store[message_id][0]["poll"]["results"] = poll.results()
        await self._vote_event(poll, user, answer_id, add=add)
        self._touch()
        return True

    async def _vote_event(self, poll: PollState, user: Any, answer_id: int, *, add: bool) -> None:
        if poll.guild_id is not None and not self._wants(GUILD_MESSAGE_POLLS):
            return
        data = {
            "user_id": str(user.id),
            "channel_id": str(poll.channel_id),
            "message_id": str(poll.message_id),
            "answer_id": answer_id,
        }
        if poll.guild_id is not None:
            data["guild_id"] = str(poll.guild_id)
        await self.dispatch("MESSAGE_POLL_VOTE_" + ("ADD" if add else "REMOVE"), data)

    async def _expire_poll(self, request: Any) -> Any:
        from .rest import Refused, error, json_response

        channel = self._channel(request)
        data, _ = self._message(channel, request.match_info["mid"])
        poll = self.polls.get(int(data["id"]))
        if poll is None:
            raise Refused((400, error(520006, "Cannot expire a non-poll message")))
        if data["author"]["id"] != str(self.bot.id):
            raise Refused((403, error(50013, "Missing Permissions")))
        if poll.finalized or self.now() >= poll.expiry:  # over: Discord ended it itself
            poll.finalized = True
            data["poll"]["results"] = poll.results()
            raise Refused((400, error(520001, "Poll expired")))
        poll.finalized = True
        data["poll"]["results"] = poll.results()
        data["poll"]["expiry"] = self.now().isoformat()
        await self._publish("MESSAGE_UPDATE", data, self._guild_of(channel))
        return json_response(data)

    # --- scheduled events -----------------------------------------------------------------

    def _event_permission(self, guild: Any, own: bool) -> None:
        from .rest import MISSING_PERMISSIONS, Refused

        member = guild.member(self.bot.id)
        perms = guild.base_permissions(member) if member else 0
        if not perms & (MANAGE_EVENTS | (CREATE_EVENTS if own else 0)):
            raise Refused(MISSING_PERMISSIONS)

    def _check_event(self, guild: Any, payload: JSON, current: JSON | None) -> None:
        from .rest import Refused

        def channel_type(channel_id: Any) -> int | None:
            channel = self.find_channel(channel_id) if str(channel_id).isdigit() else None
            return channel.type if channel is not None and channel.guild_id == guild.id else None

        errors = FormErrors()
        check_scheduled_event(errors, payload, current, channel_type, self.now())
        if errors:
            raise Refused((400, errors.body()), payload)

    async def _list_events(self, request: Any) -> Any:
        from .rest import json_response

        guild = self._bots_guild(request)
        return json_response(
            [e for e in self.scheduled_events.values() if e["guild_id"] == str(guild.id)]
        )

    async def _create_event(self, request: Any) -> Any:
        from .rest import json_response

        guild = self._bots_guild(request)
        payload, _ = await self._body(request)
        self._event_permission(guild, own=True)
        self._check_event(guild, payload, None)
        event_id = new_event_id()
        event = scheduled_event_object(event_id, guild.id, self.bot.payload(), payload)
        self.scheduled_events[event_id] = event
        await self._event_changed("CREATE", event)
        if self.hold_event_answer is not None:
            await self.hold_event_answer.wait()
        return json_response(event)

    async def _event(self, request: Any) -> Any:
        from aiohttp import web

        from .rest import Refused, error, json_response

        guild = self._bots_guild(request)
        eid = request.match_info["eid"]
        event = self.scheduled_events.get(int(eid)) if eid.isdigit() else None
        if event is None or event["guild_id"] != str(guild.id):
            raise Refused((404, error(10070, "Unknown Guild Scheduled Event")))
        if request.method == "GET":
            return json_response(event)
        self._event_permission(guild, own=event["creator_id"] == str(self.bot.id))
        if request.method == "DELETE":
            del self.scheduled_events[int(eid)]
            await self._event_changed("DELETE", event)
            return web.Response(status=204)
        payload, _ = await self._body(request)
        if event["status"] in (COMPLETED, CANCELED):
            raise Refused((400, error(180000, "Cannot modify a finished event")))
        status = payload.get("status", event["status"])
        if status not in (event["status"], ACTIVE, CANCELED) or (
            status == CANCELED and event["status"] != SCHEDULED
        ):
            raise Refused((400, error(180000, "Invalid scheduled event status transition")))
        self._check_event(guild, {k: v for k, v in payload.items() if k != "status"}, event)
        for key in (
            "name",
            "description",
            "scheduled_start_time",
            "scheduled_end_time",
            "entity_type",
            "entity_metadata",
            "channel_id",
            "privacy_level",
            "status",
        ):
            if key in payload:
                value = payload[key]
                event[key] = str(value) if key == "channel_id" and value is not None else value
        await self._event_changed("UPDATE", event)
        return json_response(event)

    async def _event_changed(self, what: str, event: JSON) -> None:
        if self._wants(GUILD_SCHEDULED_EVENTS):
            await self.dispatch("GUILD_SCHEDULED_EVENT_" + what, dict(event))

    async def interested(self, user: Any, event_id: int, *, add: bool = True) -> bool:
        """A member presses (or un-presses) "Interested" on a scheduled event."""
        event = self.scheduled_events.get(event_id)
        if event is None or event["status"] in (COMPLETED, CANCELED):
            return False
        users = self.event_users.setdefault(event_id, set())
        if (user.id in users) == add:
            return False
        (users.add if add else users.discard)(user.id)
        event["user_count"] = len(users)
        if self._wants(GUILD_SCHEDULED_EVENTS):
            data = {
                "guild_scheduled_event_id": str(event_id),
                "user_id": str(user.id),
                "guild_id": event["guild_id"],
            }
            await self.dispatch("GUILD_SCHEDULED_EVENT_USER_" + ("ADD" if add else "REMOVE"), data)
        self._touch()
        return True


GUILD_SCHEDULED_EVENTS, GUILD_MESSAGE_POLLS = (
    Intent.GUILD_SCHEDULED_EVENTS,
    Intent.GUILD_MESSAGE_POLLS,
)
MANAGE_EVENTS, CREATE_EVENTS = Perm.MANAGE_EVENTS, Perm.CREATE_EVENTS


def new_event_id() -> int:
    from .models import new_id

    return new_id()
