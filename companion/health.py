"""The `[metrics]` HTTP endpoint: /healthz for readiness and liveness, /metrics for Prometheus.

Off unless the config has a `[metrics]` table. It binds to 127.0.0.1 by default: put a
reverse proxy or the Prometheus agent on the same machine rather than exposing it.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any

from companion.config import ConfigError, Settings
from companion.metrics import Metrics
from companion.scheduler import Scheduler

BIND, PORT, STALE = "127.0.0.1", 9464, 180.0


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    bind: str = BIND
    port: int = PORT
    stale_after_seconds: float = STALE  # a sync or heartbeat older than this: unhealthy

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
        try:
            ipaddress.ip_address(bind)
        except (ValueError, TypeError):
            raise ConfigError(
                f"[metrics] bind must be an IP address such as 127.0.0.1, not {bind!r}."
            ) from None
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise ConfigError("[metrics] port must be a whole number from 1 to 65535.")
        if not isinstance(stale, int | float) or isinstance(stale, bool) or stale <= 0:
            raise ConfigError("[metrics] stale_after_seconds must be a number of seconds above 0.")
        return cls(str(bind), port, float(stale))


def health(
    metrics: Metrics, scheduler: Scheduler, expected: tuple[str, ...], stale: float
) -> tuple[bool, dict[str, Any]]:
    """Healthy: the scheduler runs, and every expected adapter is connected and heard from."""
    metrics.refresh()
    seen = {a.platform: a for a in metrics.adapters()}
    adapters: dict[str, Any] = {}
    healthy = scheduler.running
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
    return healthy, {"status": status, "scheduler": scheduler.running, "adapters": adapters}


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

    async def start(self) -> int:
        """Listen; returns the port (useful with port 0, which picks a free one)."""
        from aiohttp import web  # only when the endpoint is on

        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None)
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
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: Any) -> Any:
        from aiohttp import web

        healthy, body = health(
            self.metrics, self.scheduler, self.expected, self.config.stale_after_seconds
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


async def start(metrics: Metrics, scheduler: Scheduler, settings: Settings) -> HealthServer | None:
    """Start the endpoint when the config asks for it (None when it does not)."""
    config = MetricsConfig.from_settings(settings)
    if config is None:
        return None
    expected = tuple(a for a in settings.adapters if a != "console")
    server = HealthServer(metrics, scheduler, config, expected)
    await server.start()
    return server
