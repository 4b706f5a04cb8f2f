"""The `[metrics]` HTTP endpoint: /healthz for readiness and liveness, /metrics for Prometheus.

Off unless the config has a `[metrics]` table. It binds to 127.0.0.1 by default: put a
reverse proxy or the Prometheus agent on the same machine rather than exposing it. Its edge is
the dashboard's (companion.httpedge): slow clients closed, a malformed request one warning
line, no aiohttp version in ``Server``.
"""

from __future__ import annotations

import json
import logging
from typing import Any, NamedTuple

from companion.config import ConfigError, Settings, amount, listen_address
from companion.metrics import Metrics
from companion.scheduler import Scheduler

BIND, PORT, STALE = "127.0.0.1", 9464, 180.0
HEADER_TIMEOUT = 10.0  # seconds to send a request's head, as the dashboard's default


class MetricsConfig(NamedTuple):
    bind: str = BIND
    port: int = PORT
    stale_after_seconds: float = STALE  # a sync or heartbeat older than this: unhealthy
    header_timeout: float = HEADER_TIMEOUT  # a request head slower than this: closed

    @classmethod
    def from_settings(cls, settings: Settings) -> MetricsConfig | None:
        if "metrics" not in settings.sections:
            return None
        table = settings.section("metrics")
        if not table.get("enabled", True):
            return None
        bind = table.get("bind", BIND)
        port = table.get("port", PORT)
        stale = table.get("stale_after_seconds", STALE)
        header_timeout = table.get("header_timeout", HEADER_TIMEOUT)
        bind = listen_address("metrics", bind)
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise ConfigError("[metrics] port must be a whole number from 1 to 65535.")
        if not amount(stale, at_most=86400) or stale <= 0:
            raise ConfigError(
                "[metrics] stale_after_seconds must be a number of seconds above 0, at most 86400."
            )
        if not amount(header_timeout, at_most=3600) or header_timeout <= 0:
            raise ConfigError(
                "[metrics] header_timeout must be a number of seconds above 0, at most 3600."
            )
        return cls(str(bind), port, float(stale), float(header_timeout))


def health(
    metrics: Metrics,
    scheduler: Scheduler,
    expected: tuple[str, ...],
    stale: float,
    store: bool = True,
) -> tuple[bool, dict[str, Any]]:
    """Healthy: the scheduler runs, the database answers (``store``), and every expected
    adapter is connected and heard from."""
    metrics.refresh()
    seen = {a.platform: a for a in metrics.adapters()}
    adapters: dict[str, Any] = {}
    healthy = scheduler.running and store
    for platform in expected:
        state = seen.get(platform)
        connected = state is not None and state.connected
        age = None if state is None else state.heartbeat_age
        fresh = age is not None and age <= stale
        healthy = healthy and connected and fresh
        adapters[platform] = {
            "connected": connected,
            "heartbeat_age_seconds": None if age is None else round(age, 3),
            "ok": connected and fresh,
        }
    status = "ok" if healthy else "unhealthy"
    body = {"status": status, "scheduler": scheduler.running, "store": store, "adapters": adapters}
    return healthy, body


class HealthServer:
    def __init__(
        self,
        metrics: Metrics,
        scheduler: Scheduler,
        config: MetricsConfig,
        expected: tuple[str, ...],
    ) -> None:
        self.metrics = metrics
        self.scheduler = scheduler
        self.config = config
        self.expected = expected
        self.port = config.port
        self._runner: Any = None
        self._watchdog: Any = None

    async def start(self) -> int:
        """Listen; returns the port (useful with port 0, which picks a free one)."""
        from aiohttp import web  # only when the endpoint is on

        from companion import httpedge

        watchdog = httpedge.Watchdog(self.config.header_timeout, self.scheduler.clock)
        app = web.Application(middlewares=[httpedge.watching(watchdog)])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        httpedge.hide_server_version()
        runner = web.AppRunner(
            app,
            access_log=None,
            logger=httpedge.ProtocolLog(logging.getLogger("aiohttp.server"), "metrics"),
        )
        await runner.setup()
        site = web.TCPSite(runner, self.config.bind, self.config.port)
        try:
            await site.start()
        except OSError as error:
            await runner.cleanup()
            raise ConfigError(
                f"[metrics] cannot listen on {self.config.bind}:{self.config.port}: {error}"
            ) from None
        self._runner = runner
        assert runner.server is not None
        watchdog.watch(runner.server)
        self._watchdog = watchdog
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._watchdog is not None:
            await self._watchdog.stop()
            self._watchdog = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: Any) -> Any:
        from aiohttp import web

        healthy, body = health(
            self.metrics,
            self.scheduler,
            self.expected,
            self.config.stale_after_seconds,
            await self.scheduler.store.ping(),  # a PostgreSQL server away: 503 meanwhile
        )
        return web.Response(
            text=json.dumps(body) + "\n",
            status=200 if healthy else 503,
            content_type="application/json",
        )

    async def _metrics(self, request: Any) -> Any:
        from aiohttp import web
        from prometheus_client import CONTENT_TYPE_LATEST  # only when [metrics] is on (issue 24)

        response = web.Response(body=self.metrics.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


async def start(
    metrics: Metrics, scheduler: Scheduler, settings: Settings, expected: tuple[str, ...]
) -> HealthServer | None:
    """Start the endpoint when the config asks for it (None when it does not); ``expected``:
    the platforms it waits for (each declares whether: companion.platforms, monitored)."""
    config = MetricsConfig.from_settings(settings)
    if config is None:
        return None
    server = HealthServer(metrics, scheduler, config, expected)
    await server.start()
    return server
