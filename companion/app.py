"""The composition root: the one place that wires store, content, features and scheduler,
and the one owner of their lifecycle.

:func:`build` opens the store and wires everything; the :class:`App` it returns is an async
context manager that starts the scheduler once (:meth:`App.start`, or when the first port
attaches through the gateway), starts the surfaces it is given (:meth:`App.serve`,
:meth:`App.on_stop`) and, on leaving, stops them in reverse order, then the scheduler, then
the store. Surfaces see the app only through its :class:`AppGateway` (companion.gateway).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType
from typing import overload

from companion import content as content_module
from companion import platforms
from companion.accounts import AccountLease
from companion.anonymity import AnonymousRouting
from companion.commands import Feature, Registry, UserError
from companion.config import ConfigError, Settings, WebSettings, secret
from companion.content import Content
from companion.delivery import Posting
from companion.dispatch import Dispatcher
from companion.events import Actor, Invocation, NativeAnswer, Place, Reply
from companion.features.bookclub import BookClubs
from companion.features.bookclub.plans import Plans
from companion.features.challenges import Challenges
from companion.features.communities import Communities
from companion.features.dashboard import Dashboard
from companion.features.definitions import Definitions
from companion.features.events import Events
from companion.features.help import Help
from companion.features.journal import Journal
from companion.features.lessons import Lessons
from companion.features.moderation import Moderation
from companion.features.privacy import Privacy
from companion.features.prompts import Prompts
from companion.features.reflections import Reflections
from companion.features.resources import Resources
from companion.features.schedules import Schedules
from companion.flood import FloodGate
from companion.gateway import Gateway, SeenByRoom
from companion.identity import MemberHasher, load_or_create_key
from companion.markup import to_plain
from companion.mentions import Mentions
from companion.metrics import Metrics
from companion.notices import Notices
from companion.ports import ChatPort, Clock, Ports, Shards, SystemClock
from companion.scheduler import Scheduler
from companion.store import Store
from companion.store.kv import KeyValueRepo

Stop = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class App:
    settings: Settings
    store: Store
    content: Content
    registry: Registry
    dispatcher: Dispatcher
    communities: Communities
    prompts: Prompts
    scheduler: Scheduler
    ports: Ports  # the adapters' ChatPorts, by platform
    anonymity: AnonymousRouting  # ask anonymously where rooms show who writes
    hasher: MemberHasher  # keyed hash of member ids, for anything that must not name them
    clock: Clock
    events: Events  # a platform's own poll answers and RSVPs land here
    metrics: Metrics = field(default_factory=Metrics)  # this app's own registry
    gateway: AppGateway = field(init=False)  # what the surfaces see of it
    _stops: list[Stop] = field(default_factory=list)  # the surfaces', in the order started
    _closed: bool = False

    def __post_init__(self) -> None:
        self.gateway = AppGateway(self)

    async def __aenter__(self) -> App:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Start the scheduler: once, whether here or when the first port attaches (the
        scheduler itself never runs a second loop); never again once the app is closing."""
        if not self._closed:
            await self.scheduler.start()

    def serve(self, name: str, run: Callable[[Gateway], Awaitable[None]]) -> asyncio.Task[None]:
        """Start a surface that runs until cancelled (or done, like the terminal at the end
        of its input); it is cancelled when the app stops."""

        async def surface() -> None:
            await run(self.gateway)

        task = asyncio.create_task(surface(), name=name)

        async def stop() -> None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        self._stops.append(stop)
        return task

    def on_stop(self, stop: Stop) -> None:
        """Stop a surface started outside :meth:`serve` (the web dashboard, /metrics)."""
        self._stops.append(stop)

    async def close(self) -> None:
        """Stop the surfaces in the reverse order of their start, then the scheduler, then
        the store."""
        if self._closed:
            return
        self._closed = True
        try:
            while self._stops:
                await self._stops.pop()()
        finally:
            await self.scheduler.stop()
            await self.store.close()


class AppGateway:
    """The app as its surfaces see it: the :class:`~companion.gateway.Gateway`."""

    def __init__(self, app: App) -> None:
        self._app = app

    @property
    def settings(self) -> Settings:
        return self._app.settings

    @property
    def commands(self) -> Registry:
        return self._app.registry

    @property
    def clock(self) -> Clock:
        return self._app.clock

    @property
    def kv(self) -> KeyValueRepo:
        return self._app.store.kv

    @property
    def health(self) -> Metrics:
        return self._app.metrics

    def account_lease(self, account: str, name: str) -> AccountLease:
        app = self._app
        return AccountLease(
            app.store.account_leases,
            app.clock,
            app.scheduler.holder,
            account,
            name,
            sqlite=app.store.db.dialect == "sqlite",
        )

    def member_hash(self, scope: str, member_id: str) -> str:
        return self._app.hasher(scope, member_id)

    async def handle_text(
        self, line: str, actor: Actor, place: Place, *, seen_by_room: SeenByRoom | None = None
    ) -> Reply | None:
        app = self._app
        if seen_by_room is not None:
            routed = await app.anonymity.route(
                line,
                actor,
                place,
                app.clock.now(),
                bot_name=seen_by_room.bot_name,
                own_direct=seen_by_room.own_direct,
            )
            if routed is not None:  # an anonymous question, routed through the direct chat
                return self._shown(Reply(routed), place)
        reply = await app.dispatcher.run_text(line, actor, place, app.clock.now())
        return self._shown(reply, place)

    async def dispatch(self, inv: Invocation) -> Reply | None:
        return self._shown(await self._app.dispatcher.dispatch(inv), inv.place)

    def held_back(self, actor: Actor, place: Place) -> Reply:
        return self._shown(self._app.dispatcher.held_back(actor, place), place)

    @overload
    def _shown(self, reply: Reply, place: Place) -> Reply: ...

    @overload
    def _shown(self, reply: None, place: Place) -> None: ...

    def _shown(self, reply: Reply | None, place: Place) -> Reply | None:
        """The reply as members read it where it was asked: the commands it mentions carry
        the platform's prefix (companion.mentions)."""
        if reply is None:
            return None
        text = self._app.ports.render(place.platform, reply.text)
        return reply if text == reply.text else Reply(text, private=reply.private, kind=reply.kind)

    async def complete(self, inv: Invocation, param: str, partial: str) -> Sequence[str]:
        return await self._app.dispatcher.complete(inv, param, partial)

    async def native_answer(self, answer: NativeAnswer) -> bool:
        return await self._app.events.native_answer(answer, self._app.clock.now())

    async def attach(self, platform: str, port: ChatPort, *, shards: Shards | None = None) -> None:
        self._app.ports.attach(platform, port, shards=shards)
        await self._app.start()

    def detach(self, platform: str, port: ChatPort | None = None) -> None:
        self._app.ports.detach(platform, port)


@asynccontextmanager
async def running(
    settings: Settings,
    *,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    content: Content | None = None,
) -> AsyncIterator[App]:
    """``async with running(settings) as app:`` the app, stopped (surfaces, scheduler,
    store) on leaving."""
    async with await build(settings, clock=clock, rng=rng, content=content) as app:
        yield app


async def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    content: Content | None = None,
) -> App:
    """Load content (refusing invalid files), open the store, register every feature."""
    content = content or content_module.load(settings.content_dir)
    clock = clock or SystemClock()
    rng = rng or random.Random()
    store = await Store.open(settings.store_target, password=secret("COMPANION_DATABASE_PASSWORD"))
    try:
        try:
            communities = Communities(store, settings.default_timezone)
        except UserError as error:  # `companion console --timezone Mars/Olympus`
            raise ConfigError(f"The default time zone: {to_plain(error.text)}") from None
        await communities.load()
        reflections = Reflections(store, content, communities)
        prompts = Prompts(store, content, rng)
        surfaces = platforms.all_platforms()
        metrics = Metrics(
            lag_gauges={p.name: (p.lag.metric, p.lag.description) for p in surfaces if p.lag}
        )
        registry = Registry()
        prefixes = {p.name: p.prefix_in(settings.section(p.name)) for p in surfaces}
        # Every reply and post names commands as members type them there (the prefix).
        ports = Ports(Mentions(registry, prefixes))
        scheduler = Scheduler(
            store,
            clock,
            grace=timedelta(hours=settings.grace_hours),
            metrics=metrics,
            ports=ports,
        )
        metrics.probe(lambda: metrics.scheduler_up.set(1 if scheduler.running else 0))
        plans = Plans(store, content)
        try:
            hasher = MemberHasher(load_or_create_key(settings.key_file))
        except (OSError, ValueError) as error:  # a directory, a file of something else
            raise ConfigError(
                f"The anonymity key file ([storage] key_path) cannot be used: {error}"
            ) from None
        help_feature = Help(
            registry,
            prefixes,
            {p.name: p.usage for p in surfaces if p.usage is not None},
        )
        notices = Notices(store, ports, clock)  # private messages, kept until delivered
        web = WebSettings.from_settings(settings)
        events = Events(store, scheduler, communities, notices, hasher, web)
        features: list[Feature] = [
            help_feature,
            Definitions(content, store),
            reflections,
            Lessons(content, rng, store),
            communities,
            prompts,
            Schedules(store, scheduler, communities, reflections, prompts, content),
            plans,
            BookClubs(store, scheduler, communities, plans, events),
            Challenges(store, scheduler, communities, content, notices),
            Resources(store, content),
            Moderation(
                store,
                content,
                hasher,
                notices,
                scheduler,
                per_day=settings.suggestions_per_day,
            ),
            Journal(store, content, communities, reflections),
            Privacy(store),
            Dashboard(store, clock, web),
            events,
        ]
        for feature in features:
            registry.extend(feature.commands())
            if isinstance(feature, Posting):  # its kinds of scheduled post
                for kind in feature.post_kinds():
                    scheduler.add_kind(kind)
    except BaseException:
        await store.close()
        raise
    dispatcher = Dispatcher(
        registry,
        FloodGate(clock, settings.commands_per_window, timedelta(seconds=settings.window_seconds)),
        metrics,
    )
    return App(
        settings=settings,
        store=store,
        content=content,
        registry=registry,
        dispatcher=dispatcher,
        communities=communities,
        prompts=prompts,
        scheduler=scheduler,
        ports=ports,
        anonymity=AnonymousRouting(dispatcher, ports),
        hasher=hasher,
        clock=clock,
        events=events,
        metrics=metrics,
    )
