"""The composition root: the one place that wires store, content, features and scheduler."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

from companion import content as content_module
from companion import platforms
from companion.anonymity import AnonymousRouting
from companion.commands import Feature, Registry
from companion.config import Settings, secret
from companion.content import Content
from companion.dispatch import Dispatcher
from companion.features.bookclub import BookClubs
from companion.features.bookclub.plans import Plans
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
from companion.identity import MemberHasher, load_or_create_key
from companion.metrics import Metrics
from companion.notices import Notices
from companion.ports import Clock, Ports, SystemClock
from companion.scheduler import Scheduler
from companion.store import Store
from companion.web.config import WebSettings


@dataclass(slots=True)
class App:
    settings: Settings
    store: Store
    content: Content
    registry: Registry
    dispatcher: Dispatcher
    communities: Communities
    reflections: Reflections
    prompts: Prompts
    scheduler: Scheduler
    ports: Ports  # the adapters' ChatPorts, by platform
    anonymity: AnonymousRouting  # ask anonymously where rooms show who writes
    help: Help
    hasher: MemberHasher  # keyed hash of member ids, for anything that must not name them
    clock: Clock
    rng: random.Random = field(default_factory=random.Random)
    metrics: Metrics = field(default_factory=Metrics)  # this app's own registry

    async def close(self) -> None:
        await self.scheduler.stop()
        await self.store.close()


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
        communities = Communities(store, settings.default_timezone)
        await communities.load()
        reflections = Reflections(store, content, communities)
        prompts = Prompts(store, content, rng)
        metrics = Metrics()
        ports = Ports()
        scheduler = Scheduler(
            store,
            clock,
            grace=timedelta(hours=settings.grace_hours),
            metrics=metrics,
            ports=ports,
        )
        metrics.probe(lambda: metrics.scheduler_up.set(1 if scheduler.running else 0))
        plans = Plans(store, content)
        hasher = MemberHasher(load_or_create_key(settings.key_file))
        registry = Registry()
        surfaces = platforms.all_platforms()
        help_feature = Help(
            registry,
            {p.name: p.prefix_in(settings.section(p.name)) for p in surfaces},
            {p.name: p.usage for p in surfaces if p.usage is not None},
        )
        features: list[Feature] = [
            help_feature,
            Definitions(content, store),
            reflections,
            Lessons(content, rng, store),
            communities,
            prompts,
            Schedules(store, scheduler, communities, reflections, prompts, content),
            plans,
            BookClubs(store, scheduler, communities, plans),
            Resources(store, content),
            Moderation(
                store,
                content,
                hasher,
                Notices(store, ports, clock),
                scheduler,
                per_day=settings.suggestions_per_day,
            ),
            Journal(store, content, communities, reflections),
            Privacy(store),
            Dashboard(store, clock, WebSettings.from_settings(settings)),
            Events(
                store,
                scheduler,
                communities,
                Notices(store, ports, clock),
                hasher,
                WebSettings.from_settings(settings),
                help_feature.prefixes,
            ),
        ]
        for feature in features:
            registry.extend(feature.commands())
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
        reflections=reflections,
        prompts=prompts,
        scheduler=scheduler,
        ports=ports,
        anonymity=AnonymousRouting(dispatcher, ports),
        help=help_feature,
        hasher=hasher,
        clock=clock,
        rng=rng,
        metrics=metrics,
    )
