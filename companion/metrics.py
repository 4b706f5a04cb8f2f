"""Every metric Companion exports, kept per App (never in prometheus_client's global registry).

The dispatcher and the scheduler record through :class:`Metrics`; adapters report their
connection through :meth:`Metrics.adapter_up` and :meth:`Metrics.heartbeat`, and
companion.health serves ``/metrics`` and ``/healthz`` from it. Labels are command names,
outcomes, kinds and platforms: never member ids or text, so the series stay few.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Mapping
from itertools import accumulate
from typing import Any, NamedTuple

LATE_AFTER = 60.0  # seconds after its due time a scheduled post counts as late
REPLY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LATENESS_BUCKETS = (1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 6 * 3600.0, 24 * 3600.0)


class AdapterHealth(NamedTuple):
    platform: str
    connected: bool
    heartbeat_age: float | None  # seconds since the last sync or heartbeat; None: never


class _Series:
    """One metric's values by label values, as plain numbers. prometheus_client is imported
    only to write a scrape (:meth:`Metrics.exposition`): without ``[metrics]`` nobody scrapes,
    and the bot does not pay its import (1.4 MB of RSS, issue 24)."""

    def __init__(
        self,
        kind: str,
        name: str,
        documentation: str,
        labelnames: tuple[str, ...] = (),
        buckets: tuple[float, ...] = (),
    ) -> None:
        self.kind, self.name, self.documentation = kind, name, documentation
        self.labelnames, self.buckets = labelnames, buckets
        # counter and gauge; one without labels starts at 0, as prometheus_client's do
        self.values: dict[tuple[str, ...], float] = {} if labelnames else {(): 0.0}
        # histogram: per label values, the cumulative count of each bucket, then sum, count
        self.observed: dict[tuple[str, ...], list[float]] = {}

    def labels(self, *values: str) -> _Child:
        return _Child(self, tuple(values))

    def set(self, value: float) -> None:
        self.values[()] = float(value)


class _Child:
    __slots__ = ("series", "key")

    def __init__(self, series: _Series, key: tuple[str, ...]) -> None:
        self.series, self.key = series, key

    def inc(self, amount: float = 1.0) -> None:
        values = self.series.values
        values[self.key] = values.get(self.key, 0.0) + amount

    def set(self, value: float) -> None:
        self.series.values[self.key] = float(value)

    def observe(self, value: float) -> None:
        """Counted in the first bucket it fits (one step per command); a scrape adds them up
        into Prometheus's cumulative buckets."""
        buckets = self.series.buckets
        row = self.series.observed.setdefault(self.key, [0.0] * (len(buckets) + 2))
        index = bisect_left(buckets, value)
        if index < len(buckets):
            row[index] += 1
        row[-2] += value
        row[-1] += 1


class Metrics:
    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        lag_gauges: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        """``lag_gauges``: platform -> (metric, what its number is), as each platform
        declares its own (companion.platforms: Platform.lag)."""
        self.wall = wall  # seconds since the epoch; tests move it
        self.commands = _Series(
            "counter",
            "companion_commands",
            "Commands answered, by command and outcome (ok, refused, error, unknown)",
            ("command", "outcome"),
        )
        self.reply_seconds = _Series(
            "histogram",
            "companion_reply_seconds",
            "Time from a command reaching the dispatcher to its reply being ready",
            ("command",),
            buckets=REPLY_BUCKETS,
        )
        self.posts = _Series(
            "counter",
            "companion_scheduled_posts",
            "Scheduled posts by outcome: sent, retried (failed, to be tried again), "
            "failed (given up), skipped (missed past grace, or superseded)",
            ("kind", "outcome"),
        )
        self.posts_late = _Series(
            "counter",
            "companion_scheduled_posts_late",
            f"Scheduled posts sent more than {LATE_AFTER:g} s after their due time",
            ("kind",),
        )
        self.lateness = _Series(
            "histogram",
            "companion_scheduled_post_lateness_seconds",
            "How long after its due time each scheduled post went out",
            ("kind",),
            buckets=LATENESS_BUCKETS,
        )
        self.connected = _Series(
            "gauge",
            "companion_adapter_connected",
            "1 while an adapter is connected to its platform",
            ("platform",),
        )
        self.last_heartbeat = _Series(
            "gauge",
            "companion_adapter_last_heartbeat_timestamp_seconds",
            "When an adapter last completed a sync (Matrix) or heartbeat (Discord)",
            ("platform",),
        )
        self.lag = {
            platform: _Series("gauge", name, text)
            for platform, (name, text) in (lag_gauges or {}).items()
        }
        self.scheduler_up = _Series(
            "gauge", "companion_scheduler_running", "1 while the scheduler's loop runs"
        )
        self._adapters: dict[str, tuple[bool, float | None]] = {}
        self._probes: list[Callable[[], None]] = []

    def _series(self) -> list[_Series]:
        return [
            self.commands,
            self.reply_seconds,
            self.posts,
            self.posts_late,
            self.lateness,
            self.connected,
            self.last_heartbeat,
            *self.lag.values(),
            self.scheduler_up,
        ]

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
        """The Prometheus text format of every metric (series seen at least once)."""
        from prometheus_client import CollectorRegistry, generate_latest

        self.refresh()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self._series()))
        return generate_latest(registry)


def _family(series: _Series) -> Any:
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
    )
    from prometheus_client.utils import floatToGoString

    labels = list(series.labelnames)
    if series.kind == "counter":
        family: Any = CounterMetricFamily(series.name, series.documentation, labels=labels)
        for key, value in series.values.items():
            family.add_metric(list(key), value)
    elif series.kind == "gauge":
        family = GaugeMetricFamily(series.name, series.documentation, labels=labels)
        for key, value in series.values.items():
            family.add_metric(list(key), value)
    else:
        family = HistogramMetricFamily(series.name, series.documentation, labels=labels)
        for key, row in series.observed.items():
            counts = accumulate(row[: len(series.buckets)])
            buckets = [(floatToGoString(b), n) for b, n in zip(series.buckets, counts, strict=True)]
            buckets.append(("+Inf", row[-1]))
            family.add_metric(list(key), buckets, row[-2])
    return family


class _Collector:
    """Hands prometheus_client the families at scrape time (its custom collector API)."""

    def __init__(self, series: list[_Series]) -> None:
        self.series = series

    def collect(self) -> Any:
        return [_family(s) for s in self.series]
