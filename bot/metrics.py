"""Prometheus metrics and ``/healthz`` on ``METRICS_PORT`` (off when unset)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.app import StatsBot

log = logging.getLogger(__name__)

# Consecutive failed flushes after which the bot reports itself unhealthy.
UNHEALTHY_AFTER_FAILURES = 3


def render_metrics(bot: StatsBot) -> str:
    """The Prometheus text exposition of the bot's figures."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_: str, value: float) -> None:
        lines.extend((f"# HELP statsbot_{name} {help_}", f"# TYPE statsbot_{name} {kind}", f"statsbot_{name} {value}"))

    metric("buffer_keys", "gauge", "Counters and records held in the process.", len(bot.counters))
    metric("buffer_dropped_total", "counter", "Increments dropped at the memory bound.", bot.counters.dropped)
    metric("pushed_total", "counter", "Counters and records pushed to the buffer store.", bot.pusher.pushed)
    metric("flush_batches_total", "counter", "Batches written to the database.", bot.flusher.total.batches)
    metric("flush_replays_skipped_total", "counter", "Replayed batches skipped.", bot.flusher.total.skipped)
    metric("flush_entries_total", "counter", "Counter rows and records flushed.", bot.flusher.total.entries)
    metric("flush_consecutive_failures", "gauge", "Flushes failed in a row.", bot.flusher.failures)
    metric("guilds", "gauge", "Guilds this process serves.", len(bot.guilds))
    latency = bot.latency
    metric("gateway_latency_seconds", "gauge", "Heartbeat latency.", latency if latency == latency else -1)
    return "\n".join(lines) + "\n"


def health(bot: StatsBot) -> tuple[bool, str]:
    """Whether the bot is connected and flushing, and why not."""
    if not bot.is_ready():
        return False, "not connected to Discord yet"
    if bot.flusher.failures >= UNHEALTHY_AFTER_FAILURES:
        return False, f"{bot.flusher.failures} flushes failed in a row"
    return True, "ok"


class MetricsServer:
    """An aiohttp server on 0.0.0.0:``port`` serving ``/metrics`` and ``/healthz``."""

    def __init__(self, bot: StatsBot, port: int, host: str = "0.0.0.0") -> None:
        self.bot = bot
        self.port = port
        self.host = host
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info("metrics on http://%s:%d/metrics", self.host, self.port)

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(text=render_metrics(self.bot), content_type="text/plain")

    async def _healthz(self, _request: web.Request) -> web.Response:
        ok, why = health(self.bot)
        return web.Response(text=why + "\n", status=200 if ok else 503)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
