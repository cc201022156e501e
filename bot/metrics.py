"""Prometheus metrics (``prometheus_client``) and ``/healthz`` on ``METRICS_PORT`` (off when unset).

``Telemetry`` belongs to the bot (built in ``StatsBot.__init__``, no I/O) and holds its own
``CollectorRegistry``: nothing is registered in the library's global default registry, so that
two bots in one process (the tests, the demo) never share or clash over a metric. What the
bot's parts already count (buffer, pusher, flusher, guilds) is read at scrape time by a
collector; what needs timing (flushes, renders, commands) is observed as it happens:

- ``statsbot_events_total{kind}`` gateway events dispatched, by discord.py event name
  (``rate()`` of it is events per second by kind);
- ``statsbot_buffer_depth`` counters and records held in the process, not yet pushed;
- ``statsbot_flush_lag_seconds`` since the last flush that succeeded (grows while the
  database or Redis is down); ``statsbot_flush_duration_seconds`` histogram of flushes;
- ``statsbot_render_seconds{kind}`` histogram of report image rendering;
- ``statsbot_command_seconds{command}`` histogram from the interaction to the command's end;
- ``statsbot_errors_total{kind}``: ``command`` (unexpected), ``user`` (bad input answered
  with one sentence), ``flush``, ``render``;
- the process metrics (``process_*``: CPU, memory, open files) and Python's (``python_*``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    import discord
    from discord import app_commands

    from bot.app import StatsBot

log = logging.getLogger(__name__)

# Consecutive failed flushes after which the bot reports itself unhealthy.
UNHEALTHY_AFTER_FAILURES = 3
NAMESPACE: Final = "statsbot"
# Events that are not the gateway's: discord.py's own bookkeeping and our loops' signals.
_NOT_GATEWAY: Final = frozenset({"connect", "disconnect", "shard_connect", "shard_disconnect", "socket_raw_receive"})
FLUSH_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RENDER_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
MAX_IN_FLIGHT: Final = 1000
COMMAND_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0)


class _BotState(Collector):
    """Reads, at scrape time, what the bot's parts count anyway (no second bookkeeping)."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    def collect(self) -> Iterator[Metric]:
        bot = self.telemetry.bot

        def gauge(name: str, help_: str, value: float) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"{NAMESPACE}_{name}", help_, value=value)

        def counter(name: str, help_: str, value: float) -> CounterMetricFamily:
            return CounterMetricFamily(f"{NAMESPACE}_{name}", help_, value=value)

        depth = len(bot.counters)
        yield gauge("buffer_depth", "Counters and records held in the process, not yet pushed.", depth)
        yield gauge("buffer_keys", "Counters and records held in the process (same as buffer_depth).", depth)
        yield counter("buffer_dropped", "Increments dropped at the memory bound.", bot.counters.dropped)
        yield gauge("guilds", "Guilds this process serves.", len(bot.guilds))
        latency = bot.latency
        yield gauge(
            "gateway_latency_seconds", "Heartbeat latency (-1 before the first).", latency if latency == latency else -1
        )
        if not bot.running:
            return  # not set up yet: nothing pushed or flushed
        yield counter("pushed", "Counters and records pushed to the buffer store.", bot.pusher.pushed)
        total = bot.flusher.total
        yield counter("flush_batches", "Batches written to the database.", total.batches)
        yield counter("flush_replays_skipped", "Replayed batches skipped.", total.skipped)
        yield counter("flush_entries", "Counter rows and records flushed.", total.entries)
        yield gauge("flush_consecutive_failures", "Flushes failed in a row.", bot.flusher.failures)
        yield gauge(
            "flush_lag_seconds",
            "Seconds since the last flush that succeeded (since start before the first).",
            time.monotonic() - self.telemetry.last_flush,
        )


class Telemetry:
    """The bot's metrics: its own registry, the instruments, and the hooks that feed them."""

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.registry.register(_BotState(self))
        self.events = Counter(
            "events", "Gateway events dispatched, by kind.", ["kind"], namespace=NAMESPACE, registry=self.registry
        )
        self.errors = Counter("errors", "Errors, by kind.", ["kind"], namespace=NAMESPACE, registry=self.registry)
        self.flush_seconds = Histogram(
            "flush_duration_seconds",
            "Duration of a flush.",
            namespace=NAMESPACE,
            registry=self.registry,
            buckets=FLUSH_BUCKETS,
        )
        self.render_seconds = Histogram(
            "render_seconds", "Rendering of a report image, by kind.", ["kind"], namespace=NAMESPACE,
            registry=self.registry, buckets=RENDER_BUCKETS,
        )  # fmt: skip
        self.command_seconds = Histogram(
            "command_seconds", "From the interaction to the end of the command, by command.", ["command"],
            namespace=NAMESPACE, registry=self.registry, buckets=COMMAND_BUCKETS,
        )  # fmt: skip
        self.last_flush = time.monotonic()
        # When each interaction in progress reached the bot (by id), for the command latency.
        self._arrived: dict[int, float] = {}
        # Labelled children by kind: the event path pays one dict lookup, not prometheus' label check.
        self._event_children: dict[str, Any] = {}

    # -- feeding ------------------------------------------------------------------------------

    def event(self, name: str) -> None:
        """Count one dispatched event (called from ``StatsBot.dispatch`` for every event)."""
        child = self._event_children.get(name)
        if child is None:
            if name in _NOT_GATEWAY or name.startswith("app_command"):
                return
            child = self._event_children[name] = self.events.labels(name)
        child.inc()

    def watch(self, bot: StatsBot) -> None:
        """Observe the flusher's flushes and the render pool's renders, and follow every command."""
        bot.flusher.on_flush = self.flushed
        bot.render_pool.on_render = self.rendered
        bot.add_listener(self._arrival, "on_interaction")
        bot.add_listener(self._command_done, "on_app_command_completion")

    def flushed(self, seconds: float, ok: bool) -> None:
        """One flush took ``seconds``; ``ok`` when it succeeded."""
        if not ok:
            self.errors.labels("flush").inc()
            return
        self.flush_seconds.observe(seconds)
        self.last_flush = time.monotonic()

    def rendered(self, kind: str, seconds: float, ok: bool) -> None:
        """One report image of ``kind`` took ``seconds``; ``ok`` when it rendered."""
        if not ok:
            self.errors.labels("render").inc()
            return
        self.render_seconds.labels(kind).observe(seconds)

    async def _arrival(self, interaction: discord.Interaction) -> None:
        if len(self._arrived) >= MAX_IN_FLIGHT:  # answers that never came: forget the oldest
            self._arrived.pop(next(iter(self._arrived)))
        self._arrived[interaction.id] = time.perf_counter()

    def command_latency(self, interaction: discord.Interaction) -> None:
        """Observe the time from the interaction's arrival to now, under its command's name."""
        began = self._arrived.pop(interaction.id, None)
        if began is None:
            return  # not an interaction seen arriving (a test calling the command directly)
        command = interaction.command
        name = command.qualified_name if command is not None else "?"
        self.command_seconds.labels(name).observe(time.perf_counter() - began)

    async def _command_done(self, interaction: discord.Interaction, _command: object) -> None:
        self.command_latency(interaction)

    def command_failed(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Count a failed command (``user``: bad input answered with one sentence) and observe its latency."""
        from discord import app_commands

        from bot.commands.errors import UserError

        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        user = isinstance(cause, UserError | app_commands.CheckFailure | app_commands.TransformerError)
        self.errors.labels("user" if user else "command").inc()
        self.command_latency(interaction)

    def exposition(self) -> bytes:
        """The Prometheus text exposition of every metric of this bot."""
        return generate_latest(self.registry)


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
        body = self.bot.telemetry.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _request: web.Request) -> web.Response:
        ok, why = health(self.bot)
        return web.Response(text=why + "\n", status=200 if ok else 503)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
