"""What the core holds for Discord: the ChatPort (scheduled posts, threads, DMs) and the
dashboard's ModeratorCheck, over the adapter's discord.py client.

Every message goes out with no mentions allowed and embeds suppressed, in parts of at most
2,000 characters, each with a nonce made from the occurrence's key, so a retry after a
crash cannot post twice. discord.py's errors become the scheduler's Transient/PermanentFailure.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import discord

from companion.events import Kind, MessageRef, Place
from companion.ports import PermanentFailure, TransientFailure
from companion_adapters.discord.moderators import ModeratorLookup
from companion_adapters.discord.render import (
    part_nonce,
    split_message,
    starter,
    thread_name,
    to_discord,
)

PLATFORM = "discord"
NO_MENTIONS = discord.AllowedMentions.none()
ALREADY_HAS_THREAD = 160004
POLL_EXPIRED = 520001  # ending a poll Discord has already ended
_CHANNEL = re.compile(r"^\s*<#(\d{15,21})>\s*$|^\s*(\d{15,21})\s*$")
RETRY_WINDOW = timedelta(hours=1)

log = logging.getLogger(__name__)


class DiscordPort:
    """The port the adapter attaches through the gateway: ChatPort, Threads, PrivateMessages
    and ModeratorCheck."""

    def __init__(
        self,
        client: discord.Client,
        moderators: ModeratorLookup,
        forum_tags: Mapping[int, str] | None = None,
    ) -> None:
        self.client = client
        self.moderators = moderators
        self.forum_tags = forum_tags or {}  # [discord] forum_tags: channel id -> tag name

    async def post(
        self, place: Place, text: str, *, key: str, kind: Kind = Kind.ANSWER
    ) -> MessageRef:
        """A scheduled post in the place's channel (or thread); ``key`` is the nonce."""
        self._check_open()
        channel_id = int(place.thread_id or place.room_id)
        target = self.client.get_partial_messageable(channel_id, guild_id=_guild_id(place))
        with post_errors(f"posting in channel {channel_id}"):
            first = await self._send_all(target, to_discord(text), key, "")
        return MessageRef(place, str(first.id))

    async def open_thread(
        self, place: Place, title: str, text: str, *, key: str, kind: Kind = Kind.DISCUSSION
    ) -> Place:
        """A discussion thread named ``title``: on a starter message in a text channel, or a
        post in a forum channel. A retry with the same ``key`` finds the first attempt's
        starter message (nonce) and thread (a message has at most one)."""
        self._check_open()
        channel_id = int(place.room_id)
        name = thread_name(title)
        body = to_discord(text)
        with post_errors(f"opening a thread in channel {channel_id}"):
            channel = self.client.get_channel(channel_id) or await self.client.fetch_channel(
                channel_id
            )
            if isinstance(channel, discord.ForumChannel):
                # Discord's forum-post endpoint takes no nonce, so a retry looks for the post
                # the first attempt made: the bot's own, same name, created in the last hour.
                earlier = self._recent_post(channel, name)
                if earlier is not None:
                    return Place(place.platform, place.community_id, place.room_id, str(earlier))
                first, *rest = split_message(body)
                post = await channel.create_thread(
                    name=name,
                    content=first,
                    applied_tags=self._tags(channel),
                    allowed_mentions=NO_MENTIONS,
                    suppress_embeds=True,
                )
                thread: discord.abc.Messageable = post.thread
                for i, chunk in enumerate(rest, 1):
                    await thread.send(
                        chunk,
                        nonce=part_nonce(key, f"t{i}"),
                        allowed_mentions=NO_MENTIONS,
                        suppress_embeds=True,
                    )
                return Place(place.platform, place.community_id, place.room_id, str(post.thread.id))
            if not isinstance(channel, discord.TextChannel):
                raise PermanentFailure(
                    f"channel {channel_id} is a {type(channel).__name__}: threads need a text "
                    "or forum channel"
                )
            first_message = await channel.send(
                starter(title),
                nonce=part_nonce(key),
                allowed_mentions=NO_MENTIONS,
                suppress_embeds=True,
            )
            try:
                thread_id = (await first_message.create_thread(name=name)).id
            except discord.HTTPException as error:
                if error.code != ALREADY_HAS_THREAD:
                    raise
                thread_id = first_message.id  # a thread started on a message has its id
            target = self.client.get_partial_messageable(thread_id, guild_id=channel.guild.id)
            await self._send_all(target, body, key, "t")
        return Place(place.platform, place.community_id, place.room_id, str(thread_id))

    def _tags(self, forum: discord.ForumChannel) -> list[discord.ForumTag]:
        """The tag configured for this forum; where the forum requires one and none is
        configured (or it is not among the forum's tags), its first tag, with a warning."""
        wanted = self.forum_tags.get(forum.id)
        available = list(forum.available_tags)
        if wanted is not None:
            tag = next((t for t in available if t.name.casefold() == wanted.casefold()), None)
            if tag is not None:
                return [tag]
            log.warning(
                "forum channel #%s (%d) has no tag %r ([discord] forum_tags); its tags: %s",
                forum.name,
                forum.id,
                wanted,
                ", ".join(t.name for t in available) or "none",
            )
        if not forum.flags.require_tag or not available:
            return []  # no tag needed (or none to give: Discord says why)
        tag = fallback_tag(forum)
        assert tag is not None
        if wanted is None:
            log.warning(
                "forum channel #%s (%d) requires a tag on every post and [discord] forum_tags "
                'names none for it: using its first tag, %r. Set forum_tags = { "%d" = "..." }.',
                forum.name,
                forum.id,
                tag.name,
                forum.id,
            )
        return [tag]

    def _recent_post(self, forum: discord.ForumChannel, name: str) -> int | None:
        """A forum post this bot opened under ``name`` within the hour (from the cache that
        READY/GUILD_CREATE and THREAD_CREATE fill, so it survives a restart too)."""
        me = self.client.user
        since = discord.utils.utcnow() - RETRY_WINDOW
        for thread in forum.threads:
            if (
                me is not None
                and thread.owner_id == me.id
                and thread.name == name
                and discord.utils.snowflake_time(thread.id) >= since
            ):
                return thread.id
        return None

    async def notify(self, place: Place, member_id: str, text: str, *, key: str) -> None:
        """A private message to one member: a DM (``key`` is the nonce)."""
        self._check_open()
        with post_errors(f"messaging member {member_id} privately"):
            channel = await self.client.create_dm(discord.Object(id=int(member_id)))
            await self._send_all(channel, to_discord(text), key, "")

    # --- Polls ------------------------------------------------------------------------

    async def open_poll(
        self,
        place: Place,
        question: str,
        answers: tuple[str, ...],
        *,
        text: str,
        hours: int,
        key: str,
    ) -> MessageRef:
        """A native poll (discord.py's Poll: plain text, never a ping); ``key`` is the
        nonce. Members' votes come back as the gateway's poll vote events."""
        self._check_open()
        channel_id = int(place.thread_id or place.room_id)
        target = self.client.get_partial_messageable(channel_id, guild_id=_guild_id(place))
        poll = discord.Poll(question=question, duration=timedelta(hours=hours))
        for answer in answers:
            poll.add_answer(text=answer)
        with post_errors(f"opening a poll in channel {channel_id}"):
            message = await target.send(
                poll=poll, nonce=part_nonce(key), allowed_mentions=NO_MENTIONS
            )
        return MessageRef(place, str(message.id))

    async def close_poll(
        self, message: MessageRef, text: str, counts: dict[int, int], *, key: str
    ) -> None:
        """End the poll (if Discord has not already) and post the result under it."""
        self._check_open()
        place = message.place
        channel_id = int(place.thread_id or place.room_id)
        target = self.client.get_partial_messageable(channel_id, guild_id=_guild_id(place))
        with post_errors(f"ending the poll {message.message_id}"):
            try:
                await target.get_partial_message(int(message.message_id)).end_poll()
            except discord.HTTPException as error:
                if error.code != POLL_EXPIRED:
                    raise
            await self._send_all(target, to_discord(text), key, "")

    # --- ScheduledEvents -----------------------------------------------------------------

    async def create_event(
        self,
        place: Place,
        name: str,
        description: str,
        *,
        location: str,
        start: datetime,
        end: datetime,
        key: str,
    ) -> str:
        """A Guild Scheduled Event: in a voice or stage channel where the place is one
        (``<#id>``), else an external one at the location as typed, with its end.

        Discord takes no nonce here, so a retry after a crash between creating the event
        and storing its id would make a second one: first look at the guild's scheduled
        events (asked of Discord, not the cache) for one this bot made with the same name,
        description (it names the Companion event) and start, and adopt it."""
        self._check_open()
        guild = await self._guild(place)
        fields = _event_fields(guild, place, name, description, location, start, end)
        with post_errors(f"creating a scheduled event in guild {guild.id}"):
            made = self._made_before(await guild.fetch_scheduled_events(), fields)
            if made is not None:
                return str(made.id)
            event = await guild.create_scheduled_event(**fields)
        return str(event.id)

    def _made_before(
        self, events: list[discord.ScheduledEvent], fields: dict[str, Any]
    ) -> discord.ScheduledEvent | None:
        me = self.client.user
        for event in events:
            if (
                me is not None
                and event.creator_id == me.id
                and event.status is discord.EventStatus.scheduled
                and event.name == fields["name"]
                and (event.description or "") == fields["description"]
                and event.start_time == fields["start_time"]
            ):
                return event
        return None

    async def edit_event(
        self,
        place: Place,
        ref: str,
        name: str,
        description: str,
        *,
        location: str,
        start: datetime,
        end: datetime,
    ) -> None:
        self._check_open()
        guild = await self._guild(place)
        fields = _event_fields(guild, place, name, description, location, start, end)
        with post_errors(f"changing scheduled event {ref}"):
            event = await guild.fetch_scheduled_event(int(ref))
            await event.edit(**fields)

    async def cancel_event(self, place: Place, ref: str) -> None:
        self._check_open()
        guild = await self._guild(place)
        with post_errors(f"cancelling scheduled event {ref}"):
            event = await guild.fetch_scheduled_event(int(ref))
            if event.status is discord.EventStatus.scheduled:
                await event.cancel()

    async def _guild(self, place: Place) -> discord.Guild:
        guild_id = int(place.community_id)
        with post_errors(f"reading guild {guild_id}"):
            return self.client.get_guild(guild_id) or await self.client.fetch_guild(guild_id)

    async def is_moderator(self, platform: str, community_id: str, member_id: str) -> bool | None:
        """The web dashboard's check (``ports.ModeratorCheck``): the rule commands use,
        asked of Discord now (cached ~30 s)."""
        if platform != PLATFORM:
            return None
        return await self.moderators.check(community_id, member_id)

    async def _send_all(
        self, target: discord.abc.Messageable, text: str, key: str, tag: str
    ) -> discord.Message:
        first: discord.Message | None = None
        for i, chunk in enumerate(split_message(text)):
            part = f"{tag}{i}" if (tag or i) else ""
            message = await target.send(
                chunk,
                nonce=part_nonce(key, part),
                allowed_mentions=NO_MENTIONS,
                suppress_embeds=True,
            )
            first = first or message
        assert first is not None
        return first

    def _check_open(self) -> None:
        if self.client.is_closed() or self.client.user is None:
            raise TransientFailure("the Discord connection is not open")


def fallback_tag(forum: discord.ForumChannel) -> discord.ForumTag | None:
    """The tag a post gets where the forum requires one and none is configured: the first
    one anyone may apply (moderated tags need Manage Threads), else the first."""
    available = list(forum.available_tags)
    return next((t for t in available if not t.moderated), available[0] if available else None)


def _event_fields(
    guild: discord.Guild,
    place: Place,
    name: str,
    description: str,
    location: str,
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    """What a scheduled event is created or edited with: in the voice or stage channel the
    location names, else external at the place shown (Discord's lengths kept)."""
    channel, shown = _where(guild, place, location)
    fields: dict[str, Any] = {
        "name": name[:100],
        "description": description[:1000],
        "start_time": start,
        "end_time": end,
        "privacy_level": discord.PrivacyLevel.guild_only,
    }
    if channel is not None:
        return {**fields, "channel": channel}
    return {**fields, "entity_type": discord.EntityType.external, "location": shown}


def _where(
    guild: discord.Guild, place: Place, location: str
) -> tuple[discord.VoiceChannel | discord.StageChannel | None, str]:
    """A voice or stage channel named as ``<#id>``; else an external place: the text as
    typed, or the channel it was planned in for "here" or nothing."""
    found = _CHANNEL.match(location)
    if found:
        channel = guild.get_channel(int(found.group(1) or found.group(2)))
        if isinstance(channel, discord.VoiceChannel | discord.StageChannel):
            return channel, ""
    shown = " ".join(location.split())
    if not shown or shown.casefold() == "here":
        planned = guild.get_channel(int(place.room_id))
        shown = f"#{planned.name}" if planned is not None else "Discord"
    return None, shown[:100]


def _guild_id(place: Place) -> int | None:
    return None if place.is_direct else int(place.community_id)


@contextlib.contextmanager
def post_errors(what: str) -> Iterator[None]:
    """discord.py's errors as the scheduler's (companion.ports): Forbidden, NotFound and any
    other 4xx will not get better (permanent); a rate limit discord.py gave up on, a 5xx
    or the network may (transient)."""
    try:
        yield
    except (discord.Forbidden, discord.NotFound) as error:
        raise PermanentFailure(f"{what}: {error.text or error}") from error
    except discord.HTTPException as error:
        if error.status == 429:
            after = getattr(error, "retry_after", None)
            raise TransientFailure(f"{what}: {error}", retry_after=after) from error
        if 400 <= error.status < 500:
            raise PermanentFailure(f"{what}: {error.text or error}") from error
        raise TransientFailure(f"{what}: {error}") from error
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        raise TransientFailure(f"{what}: {error!r}") from error
