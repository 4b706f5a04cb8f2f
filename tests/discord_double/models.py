"""State of the Discord double: users, guilds, roles, channels, members, permissions.

Ids are real snowflakes (timestamp in the high bits) so discord.py's ``created_at`` works.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000
_last_id = 0


def new_id() -> int:
    """A fresh, strictly increasing snowflake."""
    global _last_id
    now = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
    _last_id = max(_last_id + 1, now)
    return _last_id


def new_id_on_shard(shard_id: int, shard_count: int) -> int:
    """A fresh snowflake for a guild that Discord puts on shard ``shard_id`` of
    ``shard_count``: ``(id >> 22) % shard_count == shard_id`` (its timestamp a few ms on)."""
    global _last_id
    candidate = new_id()
    candidate += ((shard_id - (candidate >> 22)) % shard_count) << 22
    _last_id = candidate
    return candidate


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class Perm:
    """Permission bits (https://discord.com/developers/docs/topics/permissions)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_EVENTS = 1 << 33
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38
    CREATE_EVENTS = 1 << 44
    ALL = (1 << 51) - 1
    # What a fresh guild's @everyone role gets.
    EVERYONE_DEFAULT = (
        CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | USE_EXTERNAL_EMOJIS
        | USE_APPLICATION_COMMANDS
        | CREATE_PUBLIC_THREADS
        | SEND_MESSAGES_IN_THREADS
    )
    BOT_DEFAULT = (
        VIEW_CHANNEL
        | SEND_MESSAGES
        | SEND_MESSAGES_IN_THREADS
        | CREATE_PUBLIC_THREADS
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | ADD_REACTIONS
    )


class Intent:
    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    DIRECT_MESSAGES = 1 << 12
    MESSAGE_CONTENT = 1 << 15
    GUILD_SCHEDULED_EVENTS = 1 << 16
    GUILD_MESSAGE_POLLS = 1 << 24
    PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT


class ChannelType:
    GUILD_TEXT = 0
    DM = 1
    GUILD_VOICE = 2
    GUILD_STAGE_VOICE = 13
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    GUILD_FORUM = 15
    THREADS = (10, 11, 12)


REQUIRE_TAG = 1 << 4  # channel flag: a forum refuses a post without applied_tags
MAX_APPLIED_TAGS = 5


@dataclass
class ForumTag:
    """One of a forum channel's ``available_tags``."""

    name: str
    id: int = field(default_factory=new_id)
    moderated: bool = False  # only members who may manage threads can apply it

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "name": self.name,
            "moderated": self.moderated,
            "emoji_id": None,
            "emoji_name": None,
        }


@dataclass
class User:
    username: str
    bot: bool = False
    id: int = field(default_factory=new_id)
    global_name: str | None = None

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass
class Role:
    name: str
    permissions: int = 0
    id: int = field(default_factory=new_id)
    position: int = 0
    mentionable: bool = False
    managed: bool = False

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }


@dataclass
class Overwrite:
    """A channel permission overwrite; ``type`` 0 = role, 1 = member."""

    id: int
    type: int = 0
    allow: int = 0
    deny: int = 0

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


@dataclass
class Channel:
    name: str
    type: int = ChannelType.GUILD_TEXT
    id: int = field(default_factory=new_id)
    guild_id: int | None = None
    parent_id: int | None = None
    position: int = 0
    topic: str | None = None
    overwrites: list[Overwrite] = field(default_factory=list)
    owner_id: int | None = None  # threads
    message_count: int = 0
    auto_archive_duration: int = 1440
    applied_tags: list[str] = field(default_factory=list)
    recipients: list[User] = field(default_factory=list)  # DMs
    last_message_id: int | None = None
    flags: int = 0  # e.g. REQUIRE_TAG on a forum
    available_tags: list[ForumTag] = field(default_factory=list)  # forums

    @property
    def is_thread(self) -> bool:
        return self.type in ChannelType.THREADS

    def payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "type": self.type,
            "flags": self.flags,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
        }
        if self.type == ChannelType.DM:
            data["recipients"] = [u.payload() for u in self.recipients]
            return data
        data |= {
            "name": self.name,
            "guild_id": str(self.guild_id),
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "rate_limit_per_user": 0,
            "nsfw": False,
        }
        if self.type in (ChannelType.GUILD_VOICE, ChannelType.GUILD_STAGE_VOICE):
            data |= {"bitrate": 64000, "user_limit": 0, "rtc_region": None}
        if self.is_thread:
            return data | {
                "owner_id": str(self.owner_id),
                "member_count": 1,
                "message_count": self.message_count,
                "total_message_sent": self.message_count,
                "applied_tags": self.applied_tags,
                "thread_metadata": {
                    "archived": False,
                    "locked": False,
                    "auto_archive_duration": self.auto_archive_duration,
                    "archive_timestamp": now_iso(),
                    "create_timestamp": now_iso(),
                },
            }
        data |= {
            "position": self.position,
            "topic": self.topic,
            "permission_overwrites": [o.payload() for o in self.overwrites],
        }
        if self.type == ChannelType.GUILD_FORUM:
            data |= {
                "available_tags": [t.payload() for t in self.available_tags],
                "default_reaction_emoji": None,
                "default_thread_rate_limit_per_user": 0,
                "default_sort_order": None,
                "default_forum_layout": 0,
                "default_auto_archive_duration": 1440,
            }
        return data


@dataclass
class Member:
    user: User
    roles: list[Role] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=now_iso)

    @property
    def id(self) -> int:
        return self.user.id

    def payload(self, *, with_user: bool = True) -> JSON:
        data: JSON = {
            "roles": [str(r.id) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        return data


@dataclass
class Guild:
    name: str
    owner: User
    id: int = field(default_factory=new_id)
    roles: list[Role] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    threads: list[Channel] = field(default_factory=list)
    # Server Settings > Integrations: (top-level command name, user id) a server admin let
    # use a command whatever its default_member_permissions say.
    command_overrides: set[tuple[str, int]] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not self.roles:  # the @everyone role shares the guild's id
            self.roles.append(Role("@everyone", Perm.EVERYONE_DEFAULT, id=self.id))

    @property
    def everyone(self) -> Role:
        return next(r for r in self.roles if r.id == self.id)

    def add_role(self, name: str, permissions: int = 0, **kwargs: Any) -> Role:
        role = Role(name, permissions, position=len(self.roles), **kwargs)
        self.roles.append(role)
        return role

    def add_channel(self, name: str, type: int = ChannelType.GUILD_TEXT, **kwargs: Any) -> Channel:
        channel = Channel(name, type, guild_id=self.id, position=len(self.channels), **kwargs)
        self.channels.append(channel)
        return channel

    def add_member(self, user: User, roles: list[Role] | None = None) -> Member:
        member = Member(user, list(roles or []))
        self.members.append(member)
        return member

    def member(self, user_id: int) -> Member | None:
        return next((m for m in self.members if m.id == user_id), None)

    def channel(self, channel_id: int) -> Channel | None:
        return next((c for c in self.channels + self.threads if c.id == channel_id), None)

    def base_permissions(self, member: Member) -> int:
        if member.id == self.owner.id:
            return Perm.ALL
        perms = self.everyone.permissions
        for role in member.roles:
            perms |= role.permissions
        return Perm.ALL if perms & Perm.ADMINISTRATOR else perms

    def permissions_in(self, member: Member, channel: Channel) -> int:
        """Discord's algorithm: base, then @everyone, role and member overwrites."""
        perms = self.base_permissions(member)
        if perms & Perm.ADMINISTRATOR:
            return Perm.ALL
        if channel.is_thread and channel.parent_id:
            channel = self.channel(channel.parent_id) or channel
        by_id = {o.id: o for o in channel.overwrites}
        if everyone := by_id.get(self.id):
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for role in member.roles:
            if o := by_id.get(role.id):
                allow, deny = allow | o.allow, deny | o.deny
        perms = (perms & ~deny) | allow
        if (own := by_id.get(member.id)) and own.type == 1:
            perms = (perms & ~own.deny) | own.allow
        return perms if perms & Perm.VIEW_CHANNEL else 0

    def payload(self, *, members: list[Member] | None = None) -> JSON:
        """GUILD_CREATE data; ``members`` is what the gateway sends (all, or just the bot)."""
        sent = self.members if members is None else members
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "owner_id": str(self.owner.id),
            "unavailable": False,
            "large": False,
            "member_count": len(self.members),
            "joined_at": now_iso(),
            "roles": [r.payload() for r in self.roles],
            "channels": [
                {k: v for k, v in c.payload().items() if k != "guild_id"} for c in self.channels
            ],
            "threads": [t.payload() for t in self.threads],
            "members": [m.payload() for m in sent],
            "presences": [],
            "voice_states": [],
            "emojis": [],
            "stickers": [],
            "features": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "system_channel_flags": 0,
            "preferred_locale": "en-US",
            "afk_timeout": 300,
        }


@dataclass
class DefaultGuild:
    """What :meth:`DiscordDouble.add_default_guild` builds."""

    guild: Guild
    moderators: Role
    bot_role: Role
    text: Channel
    forum: Channel
    member: Member  # a regular member, no roles
    moderator: Member  # has the Moderators role (MANAGE_GUILD)
    owner: Member  # owns the guild, no roles
    bot: Member

    @property
    def everyone(self) -> Role:
        return self.guild.everyone
