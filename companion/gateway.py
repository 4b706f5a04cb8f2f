"""The gateway: all a surface (a platform adapter, the web dashboard) may use of the core.

An adapter gets a :class:`Gateway` and nothing else: it hands the core a member's line of
text or a typed :class:`~companion.events.Invocation`, asks for completions, attaches its
port once connected (the scheduler starts then, once, if it has not yet), keeps what it must
remember between runs in its own key-value space, reports its health, hashes member ids
where it must not keep them, and reads the clock. The app provides the implementation
(companion.app); adapters import this protocol, never the app.

The web dashboard reads more (sessions, schedules, clubs, prompts, the queue) and gets a
:class:`WebGateway`, its own narrow view of the app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol

from companion.commands import Registry
from companion.config import Settings
from companion.events import Actor, Invocation, NativeAnswer, Place, Reply
from companion.ports import ChatPort, Clock, Shards
from companion.store.base import StoreUnavailable as StoreUnavailable  # for surfaces

if TYPE_CHECKING:
    from companion.content import Content
    from companion.features.communities import Communities
    from companion.features.prompts import Prompts
    from companion.store import Store


class SeenByRoom(NamedTuple):
    """Where a line typed in a room shows its author to everyone there (Matrix), the surface
    says so: ``ask anonymously`` is then routed through the member's direct chat (see
    companion.anonymity) before anything is dispatched."""

    bot_name: str  # how members find the bot for a direct message
    own_direct: bool  # the line was typed in the member's own direct chat with the bot


class KeyValue(Protocol):
    """A surface's own strings between runs (a sync token, its direct rooms, a session)."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...


class AccountLease(Protocol):
    """One process per platform account (companion.accounts): taken before serving (a holder
    that provably died is taken over at once), renewed while ``work`` runs, released after."""

    async def take(self) -> None:
        """Hold the account, or raise ConfigError naming the process that serves it."""
        ...

    async def keep_while(self, work: Awaitable[None]) -> None: ...

    async def release(self) -> None: ...


class HealthReporter(Protocol):
    """How a surface reports its connection (companion.metrics, /healthz)."""

    def adapter_up(self, platform: str, connected: bool) -> None: ...

    def heartbeat(self, platform: str, lag: float | None = None) -> None: ...

    def probe(self, refresh: Callable[[], None]) -> None: ...


class Gateway(Protocol):
    """The one protocol a platform adapter uses."""

    @property
    def settings(self) -> Settings: ...

    @property
    def commands(self) -> Registry:
        """Every command, declared once (Discord renders them as slash commands)."""
        ...

    @property
    def clock(self) -> Clock: ...

    @property
    def kv(self) -> KeyValue: ...

    @property
    def health(self) -> HealthReporter: ...

    def account_lease(self, account: str, name: str) -> AccountLease:
        """The lease on one platform account (``"matrix:@bot:example.org"``), ``name`` as
        messages should call it."""
        ...

    def member_hash(self, scope: str, member_id: str) -> str:
        """A keyed hash of a member's id, for what must be kept without naming them."""
        ...

    async def handle_text(
        self, line: str, actor: Actor, place: Place, *, seen_by_room: SeenByRoom | None = None
    ) -> Reply | None:
        """Answer a command typed as text (its prefix removed); None: say nothing (the
        member is over the flood limit and was told so already)."""
        ...

    async def dispatch(self, inv: Invocation) -> Reply | None:
        """Run a typed command (a slash command's options); None as for handle_text."""
        ...

    def held_back(self, actor: Actor, place: Place) -> Reply:
        """The one private line for a command ``dispatch`` dropped over the flood limit, for
        a platform that must answer every command (Discord's interactions)."""
        ...

    async def complete(self, inv: Invocation, param: str, partial: str) -> Sequence[str]:
        """Suggestions for one argument (autocomplete)."""
        ...

    async def native_answer(self, answer: NativeAnswer) -> bool:
        """A member answered a poll or an event the platform's own way: counted like the
        commands' answers (one per member, the latest counting). False: nothing the bot
        opened in that community has that ref, or the poll or event is over."""
        ...

    async def attach(self, platform: str, port: ChatPort, *, shards: Shards | None = None) -> None:
        """Offer the platform's port (once connected): scheduled posts go through it, and the
        scheduler starts if it has not yet. With ``shards``, only those shards' posts."""
        ...

    def detach(self, platform: str, port: ChatPort | None = None) -> None:
        """Withdraw the port (only if it is still ``port``, when given)."""
        ...


# --- the web dashboard's view of the app ------------------------------------------------------


class PortLookup(Protocol):
    def get(self, platform: str) -> ChatPort | None: ...


class Dispatching(Protocol):
    async def dispatch(self, inv: Invocation) -> Reply | None: ...


class WebGateway(Protocol):
    """What the web dashboard reads and runs: the clock, the platforms' ports (to ask who
    moderates now), the dispatcher (actions run the chat's own commands), the store (its
    sessions and the pages' reads), two features' views (time zones, prompts) and the shipped
    content (an imported paths file resolves its sources in it)."""

    @property
    def clock(self) -> Clock: ...

    @property
    def ports(self) -> PortLookup: ...

    @property
    def dispatcher(self) -> Dispatching: ...

    @property
    def store(self) -> Store: ...

    @property
    def communities(self) -> Communities: ...

    @property
    def prompts(self) -> Prompts: ...

    @property
    def content(self) -> Content: ...  # a community's own paths are checked against it
