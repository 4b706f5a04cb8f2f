"""Every metric Companion exports, on one CollectorRegistry per App (never the global one).

The dispatcher and the scheduler record through :class:`Metrics`; adapters report their
connection through :meth:`Metrics.adapter_up` and :meth:`Metrics.heartbeat`, and
companion.health serves ``/metrics`` and ``/healthz`` from it. Labels are command names,
outcomes, kinds and platforms: never member ids or text, so the series stay few.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATE_AFTER = 60.0  # seconds after its due time a scheduled post counts as late
REPLY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LATENESS_BUCKETS = (1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 6 * 3600.0, 24 * 3600.0)


@dataclass(frozen=True, slots=True)
class AdapterHealth:
    platform: str
    connected: bool
    heartbeat_age: float | None  # seconds since the last sync or heartbeat; None: never


class Metrics:
    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        lag_gauges: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        """``lag_gauges``: platform -> (metric, what its number is), as each platform
        declares its own (companion.platforms: Platform.lag)."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.wall = wall  # seconds since the epoch; tests move it
        self.commands = Counter(
            "companion_commands",
            "Commands answered, by command and outcome (ok, refused, error, unknown)",
            ("command", "outcome"),
            registry=self.registry,
        )
        self.reply_seconds = Histogram(
            "companion_reply_seconds",
            "Time from a command reaching the dispatcher to its reply being ready",
            ("command",),
            buckets=REPLY_BUCKETS,
            registry=self.registry,
        )
        self.posts = Counter(
            "companion_scheduled_posts",
            "Scheduled posts by outcome: sent, retried (failed, to be tried again), "
            "failed (given up), skipped (missed past grace, or superseded)",
            ("kind", "outcome"),
            registry=self.registry,
        )
        self.posts_late = Counter(
            "companion_scheduled_posts_late",
            f"Scheduled posts sent more than {LATE_AFTER:g} s after their due time",
            ("kind",),
            registry=self.registry,
        )
        self.lateness = Histogram(
            "companion_scheduled_post_lateness_seconds",
            "How long after its due time each scheduled post went out",
            ("kind",),
            buckets=LATENESS_BUCKETS,
            registry=self.registry,
        )
        self.connected = Gauge(
            "companion_adapter_connected",
            "1 while an adapter is connected to its platform",
            ("platform",),
            registry=self.registry,
        )
        self.last_heartbeat = Gauge(
            "companion_adapter_last_heartbeat_timestamp_seconds",
            "When an adapter last completed a sync (Matrix) or heartbeat (Discord)",
            ("platform",),
            registry=self.registry,
        )
        self.lag = {
            platform: Gauge(name, text, registry=self.registry)
            for platform, (name, text) in (lag_gauges or {}).items()
        }
        self.scheduler_up = Gauge(
            "companion_scheduler_running",
            "1 while the scheduler's loop runs",
            registry=self.registry,
        )
        self._adapters: dict[str, tuple[bool, float | None]] = {}
        self._probes: list[Callable[[], None]] = []

    # --- what the core records ------------------------------------------------------------

    def command(self, name: str, outcome: str, seconds: float) -> None:
        self.commands.labels(name, outcome).inc()
        self.reply_seconds.labels(name).observe(seconds)

    def post_sent(self, kind: str, lateness: float) -> None:
        self.posts.labels(kind, "sent").inc()
        self.lateness.labels(kind).observe(max(lateness, 0.0))
        if lateness > LATE_AFTER:
            self.posts_late.labels(kind).inc()

    def post(self, kind: str, outcome: str, count: int = 1) -> None:
        """retried, failed or skipped."""
        if count:
            self.posts.labels(kind, outcome).inc(count)

    # --- what adapters report -------------------------------------------------------------

    def adapter_up(self, platform: str, connected: bool) -> None:
        _, beat = self._adapters.get(platform, (False, None))
        self._adapters[platform] = (connected, beat)
        self.connected.labels(platform).set(1 if connected else 0)

    def heartbeat(self, platform: str, lag: float | None = None) -> None:
        """A sync or a heartbeat just completed; `lag` is the platform's own latency figure."""
        now = self.wall()
        self._adapters[platform] = (True, now)
        self.connected.labels(platform).set(1)
        self.last_heartbeat.labels(platform).set(now)
        if lag is not None and platform in self.lag:
            self.lag[platform].set(max(lag, 0.0))

    def probe(self, refresh: Callable[[], None]) -> None:
        """Run `refresh` before each scrape or health check (figures read on demand)."""
        self._probes.append(refresh)

    # --- what the endpoint reads ----------------------------------------------------------

    def refresh(self) -> None:
        for refresh in self._probes:
            refresh()

    def adapters(self) -> list[AdapterHealth]:
        now = self.wall()
        return [
            AdapterHealth(name, up, None if beat is None else now - beat)
            for name, (up, beat) in sorted(self._adapters.items())
        ]

    def exposition(self) -> bytes:
        self.refresh()
        return generate_latest(self.registry)
