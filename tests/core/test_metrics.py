"""[metrics]: /metrics and /healthz scraped over HTTP while the bot answers and posts."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web_response
from prometheus_client.parser import text_string_to_metric_families

from companion.app import App
from companion.config import ConfigError, Settings
from companion.health import HealthServer, MetricsConfig
from companion.platforms import load_settings
from companion.ports import PostError
from tests.conftest import MEMBER, MODERATOR, START, say
from tests.core.running import Running, iter_queue
from tests.fakes import FakeClock, RecordingPort
from tests.web.test_web_hardening import _assert_quiet, _cut_off, _pass, _trickle

SLOW_HEAD = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + b"s" * 200


class Scraper:
    def __init__(self, session: aiohttp.ClientSession, port: int) -> None:
        self.session = session
        self.base = f"http://127.0.0.1:{port}"

    async def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        async with self.session.get(f"{self.base}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            text = await response.text()
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    async def health(self) -> tuple[int, dict[str, object]]:
        async with self.session.get(f"{self.base}/healthz") as response:
            return response.status, json.loads(await response.text())


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def posts(scraped: dict, outcome: str) -> float:
    return value(scraped, "companion_scheduled_posts_total", kind="reflection", outcome=outcome)


@pytest.fixture
async def scrape(app: App) -> Scraper:  # type: ignore[misc]
    server = HealthServer(
        app.metrics, app.scheduler, MetricsConfig(port=0, stale_after_seconds=60), ("matrix",)
    )
    port = await server.start()
    async with aiohttp.ClientSession() as session:
        yield Scraper(session, port)
    await server.stop()


async def test_counters_move_as_commands_are_answered_and_posts_go_out(
    app: App, clock: FakeClock, scrape: Scraper
) -> None:
    port = RecordingPort(clock=clock)
    app.ports.attach("test", port)
    before = await scrape.metrics()
    assert value(before, "companion_commands_total", command="define", outcome="ok") == 0

    await say(app, "define allyship")
    await say(app, "define allyship")
    await say(app, "frobnicate the widgets")
    await say(app, "approve 1")  # a member, not a moderator
    await say(app, "schedule reflection 13:00", MODERATOR)
    after = await scrape.metrics()
    assert value(after, "companion_commands_total", command="define", outcome="ok") == 2
    assert value(after, "companion_commands_total", command="unknown", outcome="unknown") == 1
    assert value(after, "companion_commands_total", command="approve", outcome="refused") == 1
    assert value(after, "companion_reply_seconds_count", command="define") == 2
    assert not any("frobnicate" in str(key) for key in after), "typed words are no label"

    clock.set(START.replace(hour=13, minute=5))  # five minutes late
    await app.scheduler.run_due()
    posted = await scrape.metrics()
    assert len(port.sent) == 1
    assert posts(posted, "sent") == 1
    assert value(posted, "companion_scheduled_posts_late_total", kind="reflection") == 1
    lateness = value(posted, "companion_scheduled_post_lateness_seconds_sum", kind="reflection")
    assert lateness == 300

    port.fail_with = PostError("the room is gone for now")
    clock.set(START.replace(hour=13) + timedelta(days=1))  # on time, but the post fails
    await app.scheduler.run_due()
    port.fail_with = None
    clock.set(START.replace(hour=13) + timedelta(days=5))  # days 2-4 were missed
    await app.scheduler.run_due()
    later = await scrape.metrics()
    assert posts(later, "retried") == 1
    assert posts(later, "skipped") >= 1
    sent = posts(later, "sent")
    assert sent == len(port.sent) >= 2


async def test_healthz_needs_the_scheduler_and_a_fresh_heartbeat(app: App, scrape: Scraper) -> None:
    status, body = await scrape.health()
    assert status == 503 and body["scheduler"] is False
    assert body["adapters"] == {
        "matrix": {"connected": False, "heartbeat_age_seconds": None, "ok": False}
    }
    await app.scheduler.start()
    app.metrics.heartbeat("matrix", lag=0.25)
    status, body = await scrape.health()
    assert status == 200 and body["status"] == "ok"
    scraped = await scrape.metrics()
    assert value(scraped, "companion_matrix_sync_lag_seconds") == 0.25
    assert value(scraped, "companion_adapter_connected", platform="matrix") == 1
    assert value(scraped, "companion_scheduler_running") == 1

    real = app.metrics.wall
    app.metrics.wall = lambda: real() + 120  # two minutes without a sync
    status, body = await scrape.health()
    assert status == 503 and body["adapters"]["matrix"]["ok"] is False  # type: ignore[index]
    app.metrics.wall = real
    app.metrics.adapter_up("matrix", False)
    assert (await scrape.health())[0] == 503


def test_metrics_config_is_off_by_default_and_checked(tmp_path: Path) -> None:
    config = tmp_path / "companion.toml"
    config.write_text("[console]\n", encoding="utf-8")
    assert MetricsConfig.from_settings(load_settings(config)) is None
    config.write_text("[console]\n[metrics]\nport = 9100\n", encoding="utf-8")
    assert MetricsConfig.from_settings(load_settings(config)) == MetricsConfig(port=9100)
    for bad, message in (
        ('bind = "localhost:80"', "bind must be an IP address"),
        ("port = 70000", "port must be a whole number"),
        ("stale_after_seconds = 0", "stale_after_seconds"),
    ):
        config.write_text(f"[console]\n[metrics]\n{bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            MetricsConfig.from_settings(load_settings(config))
    example = (Path(__file__).resolve().parents[2] / "config.example.toml").read_text("utf-8")
    config.write_text(example, encoding="utf-8")
    assert MetricsConfig.from_settings(load_settings(config)) is None  # off in the example
    config.write_text(
        example.replace("enabled.\nenabled = false", "enabled.\nenabled = true"), "utf-8"
    )
    assert MetricsConfig.from_settings(load_settings(config)) == MetricsConfig()
    off = Settings(sections={"metrics": {"enabled": False}})
    assert MetricsConfig.from_settings(off) is None


def test_each_app_has_its_own_registry() -> None:
    from companion.metrics import Metrics

    first, second = Metrics(), Metrics()
    first.command("define", "ok", 0.01)
    assert b'command="define"' in first.exposition()
    assert b'command="define"' not in second.exposition()
    assert MEMBER.id.encode() not in first.exposition()


def test_reply_time_buckets_are_those_prometheus_client_would_count() -> None:
    """The histogram's buckets, as scraped, against prometheus_client's own Histogram given
    the same reply times: cumulative, +Inf the count, the sum the total."""
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from companion.metrics import REPLY_BUCKETS, Metrics

    times = [0.0001, 0.005, 0.0051, 0.03, 0.03, 0.4, 2.5, 7.0, 120.0]
    ours = Metrics()
    registry = CollectorRegistry(auto_describe=False)
    theirs = Histogram(
        "companion_reply_seconds", "x", ["command"], buckets=REPLY_BUCKETS, registry=registry
    )
    for seconds in times:
        ours.command("define", "ok", seconds)
        theirs.labels("define").observe(seconds)

    def buckets(text: bytes) -> dict[tuple[str, str], float]:
        return {
            (sample.name, sample.labels.get("le", "")): sample.value
            for family in text_string_to_metric_families(text.decode())
            if family.name == "companion_reply_seconds"
            for sample in family.samples
            if sample.labels.get("command") == "define"
        }

    expected = buckets(generate_latest(registry))
    assert expected[("companion_reply_seconds_bucket", "0.01")] == 3  # the oracle's own view
    assert buckets(ours.exposition()) == expected


def test_companion_run_serves_metrics_and_json_logs_without_member_text(tmp_path: Path) -> None:
    import socket
    import urllib.request

    with socket.socket() as probe:  # a free port for the endpoint
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    config = tmp_path / "companion.toml"
    config.write_text(
        f'[storage]\npath = "{tmp_path / "companion.db"}"\n[console]\n'
        f'[metrics]\nbind = "127.0.0.1"\nport = {free}\n',
        encoding="utf-8",
    )
    secret = "my-private-words-about-my-manager"
    bot = Running(["--log-format", "json", "--log-level", "info", "run", "--config", str(config)])
    try:
        bot.say("define allyship", "active and consistent")
        bot.say(f"reflect answer {secret}", "journal")
        bot.say(f"suggest prompt What did {secret} teach you?", "")
        with urllib.request.urlopen(f"http://127.0.0.1:{free}/metrics", timeout=10) as response:
            text = response.read().decode()
        with urllib.request.urlopen(f"http://127.0.0.1:{free}/healthz", timeout=10) as response:
            assert response.status == 200 and json.loads(response.read())["scheduler"] is True
        assert 'companion_commands_total{command="define",outcome="ok"} 1.0' in text
        assert bot.stop() == 0
    finally:
        bot.kill()
    lines = bot.err_seen + list(iter_queue(bot.err))
    events = [json.loads(line) for line in lines if line.strip()]  # every line is one object
    assert events, "info level logs each command"
    commands = [e for e in events if e.get("command") == "define"]
    assert commands and commands[0]["community"] == "console:local"
    assert {"time", "level", "logger", "event"} <= set(commands[0])
    assert not any(secret in line or "console:you" in line for line in lines)


async def test_the_endpoint_has_the_dashboards_edge(
    app: App,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Slow clients are cut off, `Server` names no aiohttp version, and a request that is
    not HTTP is a 400 with one warning line: as on the dashboard (companion.httpedge)."""
    # As a new process has it (an earlier dashboard test in this process may have hidden it).
    monkeypatch.setattr(web_response, "SERVER_SOFTWARE", f"Python aiohttp/{aiohttp.__version__}")
    config = MetricsConfig(port=0, stale_after_seconds=60, header_timeout=5)
    server = HealthServer(app.metrics, app.scheduler, config, ())
    port = await server.start()
    try:
        slow = [await asyncio.open_connection("127.0.0.1", port) for _ in range(4)]
        senders = [asyncio.create_task(_trickle(w, SLOW_HEAD)) for _, w in slow]
        await _pass(clock, 4, 5)  # on the app's clock: no real wait
        await asyncio.sleep(0.1)
        assert not any(r.at_eof() for r, _ in slow)  # not yet the configured time
        await _pass(clock, 6, 5)
        answers = await asyncio.gather(*(_cut_off(r) for r, _ in slow))
        assert answers == [b""] * 4  # closed without an answer: no whole request came
        for task in senders:
            task.cancel()

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(SLOW_HEAD + b"\r\n\r\n")  # a whole request in time is answered
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
        writer.close()
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert [h for h in head.split(b"\r\n") if h.startswith(b"Server:")] == [
            b"Server: Companion"
        ]

        caplog.clear()
        with caplog.at_level(logging.INFO):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nNo colon here\r\n\r\n")
            answer = await _cut_off(reader)
            writer.close()
        assert answer.startswith((b"HTTP/1.0 400 ", b"HTTP/1.1 400 ")), answer[:200]
        assert b"\r\nServer: Companion\r\n" in answer and b"aiohttp" not in answer
        _assert_quiet(caplog)
        [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warning.startswith("metrics: refused malformed HTTP")
    finally:
        await server.stop()
