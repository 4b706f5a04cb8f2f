"""What the core needs from the outside world, as protocols adapters and tests implement.

:class:`ChatPort` is what every platform's port does: post. What differs between platforms
is a *capability*: a typed optional protocol a port may implement and the core asks for with
:func:`capability`, falling back where a port lacks it:

==================  ==========================================  =============================
capability          implemented by                              without it
==================  ==========================================  =============================
Threads             console, Matrix, Discord                    the title and text as a post
PrivateMessages     console, Matrix, Discord                    the notice waits in mydata
SharedCommunities   Matrix                                      no anonymous questions there
ModeratorCheck      console, Matrix, Discord                    a short dashboard session
ForumPosts          (none yet: Discord forum tags)              a thread, without tags
Reactions           (none yet)                                  a post
Polls               Matrix (MSC3381), Discord                   a post listing the answers
Announcements       Matrix (RSVP by reactions, kept up to date) a thread; `event rsvp` only
ScheduledEvents     Discord (Guild Scheduled Events)            the announcement alone
==================  ==========================================  =============================
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import (
    TYPE_CHECKING,
    ClassVar,
    NamedTuple,
    Protocol,
    TypeVar,
    overload,
    runtime_checkable,
)

from companion.events import Actor, Kind, MessageRef, Place
from companion.fmt import Md

if TYPE_CHECKING:
    from companion.mentions import Mentions


class PostError(Exception):
    """An adapter could not deliver a post. Ports raise one of the two kinds below, which
    say what the scheduler does next (companion.delivery); a bare PostError is a failure the
    port could not classify: retried with backoff a few times, then its schedule paused.

    ``permanent`` says whether retrying is pointless: true only of a PermanentFailure, the
    one way to say so.
    """

    permanent: ClassVar[bool] = False


class TransientFailure(PostError):
    """It may well work later: the network, a 5xx, a rate limit (``retry_after`` seconds,
    when the platform said), a room the client has not synced yet, the database away.
    Retried with backoff while the occurrence is within its grace; the schedule stays on."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentFailure(PostError):
    """It will not work later: the platform said the bot may not post there (forbidden,
    removed, the channel or room unknown once the client is in sync), or what was to be
    posted is gone. The schedule is paused with ``reason`` and the moderators are told once."""

    permanent: ClassVar[bool] = True

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChatPort(Protocol):
    """How the core speaks into a platform: every port posts.

    ``key`` is a stable idempotency key of at most 25 characters for one scheduled
    occurrence: adapters pass it on as a transaction id / nonce so a retry cannot post twice.

    ``text`` is the core's small Markdown (companion.markup), composed with companion.fmt so
    member text in it is already escaped; adapters render it with their platform's renderer.

    ``kind`` says what the post is (a reflection, a prompt, a reminder, ...) so an adapter
    can present one kind its own way; the text is the same for every platform.

    A post that cannot be made raises :class:`TransientFailure` or :class:`PermanentFailure`
    (see each), which decide what happens to its schedule (companion.delivery).
    """

    async def post(
        self, place: Place, text: str, *, key: str, kind: Kind = Kind.ANSWER
    ) -> MessageRef: ...


P = TypeVar("P")


def capability(port: object, wanted: type[P]) -> P | None:
    """The port as ``wanted`` (one of the capabilities below) if it has it, else None: the
    caller then falls back (see the table above)."""
    return port if isinstance(port, wanted) else None


@runtime_checkable
class Threads(Protocol):
    """Open a discussion thread: a title and its first message.

    ``title`` (a thread's name, a forum post's title) is **plain text by contract**: it may
    hold anything a member typed and is never Markdown. Each adapter shows it as plain text:
    escaped where its platform would read markup (a Matrix thread root's HTML, a Discord
    starter message), with mass mentions broken, on one line.
    """

    async def open_thread(
        self, place: Place, title: str, text: str, *, key: str, kind: Kind = Kind.DISCUSSION
    ) -> Place: ...


@runtime_checkable
class PrivateMessages(Protocol):
    """Reach one member privately (a DM, a direct room, the terminal)."""

    async def notify(self, place: Place, member_id: str, text: str, *, key: str) -> None: ...


class Community(NamedTuple):
    """A community (its room) the bot and a member are both in."""

    place: Place
    name: str | None

    @property
    def label(self) -> str:
        return self.name or self.place.room_id


@runtime_checkable
class SharedCommunities(Protocol):
    """Which communities a member shares with the bot: behind anonymous questions, asked
    from a direct chat on a platform whose rooms show who writes."""

    async def shared_communities(self, actor: Actor) -> list[Community]:
        """The communities where both the bot and ``actor`` are members (any order)."""
        ...


@runtime_checkable
class ForumPosts(Protocol):
    """Open a post in a forum channel with the forum's tags applied (Discord)."""

    async def open_forum_post(
        self,
        place: Place,
        title: str,
        text: str,
        *,
        tags: tuple[str, ...],
        key: str,
        kind: Kind = Kind.DISCUSSION,
    ) -> Place: ...


@runtime_checkable
class Reactions(Protocol):
    """Add a reaction (an emoji) to a message the bot or a member sent."""

    async def react(self, message: MessageRef, emoji: str, *, key: str) -> None: ...


@runtime_checkable
class Polls(Protocol):
    """Post a native poll (Discord polls, Matrix MSC3381) and end it.

    ``question`` and ``answers`` are plain text (a member typed them; never markup);
    ``text`` is the core's Markdown of the same poll for clients that cannot show polls
    (it says how to vote with the command). The port reads members' answers into
    :class:`~companion.events.NativeAnswer` (answer numbers from 1) with the returned
    ``message_id`` as ``ref``. ``close_poll`` ends it with the result (``text``, Markdown;
    ``counts`` per answer number), shown once.
    """

    async def open_poll(
        self,
        place: Place,
        question: str,
        answers: tuple[str, ...],
        *,
        text: str,
        hours: int,
        key: str,
    ) -> MessageRef: ...

    async def close_poll(
        self, message: MessageRef, text: str, counts: dict[int, int], *, key: str
    ) -> None: ...


@runtime_checkable
class Announcements(Protocol):
    """An event's announcement that members answer with reactions on it (✅ yes, ❔ maybe,
    ❌ no; removing one's reaction takes the answer back), kept up to date by editing it.

    ``text`` is the core's Markdown; the port reads the reactions into
    :class:`~companion.events.NativeAnswer` with the returned ``message_id`` as ``ref``.
    ``update`` replaces the announcement's text (its counts, a change, a cancellation);
    ``key`` is unique per update.
    """

    async def announce(self, place: Place, title: str, text: str, *, key: str) -> MessageRef: ...

    async def update(self, message: MessageRef, text: str, *, key: str) -> None: ...


@runtime_checkable
class ScheduledEvents(Protocol):
    """The platform's own event members say they are interested in (Discord's Guild
    Scheduled Events), for an event's next meeting: created, edited, cancelled.

    ``name``, ``description`` and ``location`` are plain text (a member typed them);
    ``location`` is where it is as typed (a link, a channel, "here"). ``create_event``
    returns the platform's id of the event: members' "Interested" comes back through
    :class:`~companion.events.NativeAnswer` with it as ``ref`` ("yes"; taking it back:
    ``None`` with ``was="yes"``).

    ``create_event`` must be idempotent for the same place, name, description and start
    (the description names the Companion event): a retry after a crash between creating it
    and storing its id adopts the one made before instead of making a second, as the
    platform may take no idempotency key (Discord's does not).
    """

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
    ) -> str: ...

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
    ) -> None: ...

    async def cancel_event(self, place: Place, ref: str) -> None: ...


@runtime_checkable
class ModeratorCheck(Protocol):
    """A capability of a port: is this member a moderator there *now*?

    The web dashboard asks it on every request, so a moderator who loses the role loses the
    dashboard at once. ``None`` means "cannot tell"; the dashboard then relies on a short
    session instead.
    """

    async def is_moderator(
        self, platform: str, community_id: str, member_id: str
    ) -> bool | None: ...


class Clock(Protocol):
    """Time, injected so tests can travel in it."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        """Return at ``when`` or as soon as ``wake`` is set, whichever comes first."""
        ...


async def wait(clock: Clock, seconds: float) -> None:
    """Wait ``seconds`` on ``clock`` (a fake clock in tests: no real sleep for a retry)."""
    await clock.sleep_until(clock.now() + timedelta(seconds=seconds), asyncio.Event())


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        delay = (when - self.now()).total_seconds()
        if delay <= 0:
            return
        # asyncio.wait, not wait_for: on Python 3.11 wait_for swallows a cancellation that
        # arrives as the event is set (a port detaching wakes the scheduler just as it is
        # stopped), and the scheduler's loop then slept on and the process never exited.
        waiter = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait({waiter}, timeout=delay)
        finally:
            waiter.cancel()


@dataclass(frozen=True, slots=True)
class Shards:
    """The part of a platform's communities one process serves, split as Discord splits a
    bot's guilds: a community (a numeric snowflake) is on shard ``(id >> 22) % count``, and
    this process serves the shards in ``ids``."""

    count: int
    ids: frozenset[int]

    def __post_init__(self) -> None:
        if self.count < 1 or not self.ids or not all(0 <= i < self.count for i in self.ids):
            raise ValueError(f"shard ids {sorted(self.ids)} are not all within 0..{self.count - 1}")

    def serves(self, community_id: str) -> bool:
        return community_id.isdigit() and (int(community_id) >> 22) % self.count in self.ids


class Ports:
    """The adapters' ChatPorts by platform, registered with the app: an adapter attaches its
    port once connected and detaches it when it stops. The scheduler and the features that
    post (notices, anonymous questions) look ports up here. A port attached with ``shards``
    serves only those shards of its platform, and the scheduler claims only their posts.

    Whatever text the core hands a port goes through :meth:`render` first: the commands it
    mentions get the platform's prefix (companion.mentions)."""

    def __init__(self, mentions: Mentions | None = None) -> None:
        self.mentions = mentions
        self._ports: dict[str, ChatPort] = {}
        self._shards: dict[str, Shards] = {}
        self._listeners: list[Callable[[], None]] = []

    def attach(self, platform: str, port: ChatPort, *, shards: Shards | None = None) -> None:
        self._ports[platform] = port
        if shards is None:
            self._shards.pop(platform, None)
        else:
            self._shards[platform] = shards
        self._changed()

    def detach(self, platform: str, port: ChatPort | None = None) -> None:
        """Remove the platform's port (only if it is still ``port``, when given)."""
        if port is None or self._ports.get(platform) is port:
            self._ports.pop(platform, None)
            self._shards.pop(platform, None)
            self._changed()

    @overload
    def render(self, platform: str, text: Md) -> Md: ...

    @overload
    def render(self, platform: str, text: str) -> str: ...

    def render(self, platform: str, text: str) -> str:
        """``text`` as members on ``platform`` read it: each command it mentions carries the
        prefix they type there (``!vote 1`` on Matrix, ``/vote 1`` on Discord)."""
        return text if self.mentions is None else self.mentions.render(text, platform)

    def shards(self) -> dict[str, Shards]:
        """The attached platforms that serve only some of their shards."""
        return dict(self._shards)

    def get(self, platform: str) -> ChatPort | None:
        return self._ports.get(platform)

    def platforms(self) -> list[str]:
        return sorted(self._ports)

    def __contains__(self, platform: object) -> bool:
        return platform in self._ports

    def __getitem__(self, platform: str) -> ChatPort:
        return self._ports[platform]

    def __bool__(self) -> bool:
        return bool(self._ports)

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()
