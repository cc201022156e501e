"""The Bot: owns every shared resource, opens them in ``setup_hook``, closes them in ``close``."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.buffer import BufferStore, Counters
from bot.buffer.flusher import Flusher, lease_seconds
from bot.buffer.memory import MemoryStore
from bot.buffer.optouts import OptOuts
from bot.buffer.pusher import Pusher
from bot.buffer.redis_store import RedisStore
from bot.buffer.shards import Shards
from bot.buffer.store import StoreUnavailable
from bot.clock import Clock, system_clock
from bot.commands.errors import on_app_command_error
from bot.extensions import COMMAND_EXTENSIONS, TRACKING_EXTENSIONS
from bot.hooks import SettingsHooks
from bot.loops import TaskGroup
from bot.maintenance import Maintenance
from bot.metrics import MetricsServer, Telemetry
from bot.render.pool import RenderPool
from bot.reports.assets import AssetCache
from bot.settings import Settings
from bot.tracking.catchup import LiveMarks
from bot.tracking.feed import MessageFeed
from db import purge
from db.engine import ReadEngine, create_engine, create_read_engine
from db.flush import BatchWriter
from db.privacy import all_optouts
from db.reports import Reports, Snapshots
from db.rollups import DayCloser
from db.types import utc

if TYPE_CHECKING:
    from bot.web.server import DashboardServer

log = logging.getLogger(__name__)

# Tracking and command cogs, loaded in this order.
EXTENSIONS: tuple[str, ...] = TRACKING_EXTENSIONS + COMMAND_EXTENSIONS

PUSH_INTERVAL_S = 1.0


def intents(presences: bool = False) -> discord.Intents:
    """Only what tracking needs: members (joins, leaves) and message content are privileged;
    presences (also privileged) only when a guild enabled Rich Presence tracking."""
    i = discord.Intents.none()
    i.presences = presences
    i.guilds = True
    i.members = True
    i.voice_states = True
    i.guild_messages = True
    i.message_content = True
    i.guild_reactions = True
    i.invites = True
    i.emojis_and_stickers = True
    return i


class StatsBot(commands.AutoShardedBot):
    """The activity analytics bot.

    Constructed without I/O (tests build one to feed cogs); ``setup_hook`` opens
    the engine, the buffer store, the pusher and the flusher; ``close`` stops the
    gateway, pushes and flushes once more, and closes them in reverse order.
    """

    reports: Reports
    # Where reports, the dashboard and exports read (DATABASE_READ_URL's replica, else ``engine``).
    read_engine: AsyncEngine
    store: BufferStore
    writer: BatchWriter
    pusher: Pusher
    flusher: Flusher
    maintenance: Maintenance
    metrics: MetricsServer
    dashboard: DashboardServer

    def __init__(
        self,
        settings: Settings,
        *,
        extensions: Sequence[str] = EXTENSIONS,
        clock: Clock = system_clock,
        store: BufferStore | None = None,
        render_processes: int | None = None,
        presences: bool = False,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(presences),
            shard_count=settings.SHARD_COUNT,
            shard_ids=settings.SHARD_IDS,  # type: ignore[arg-type]  # None means all, as discord.py does
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            max_messages=None,
            chunk_guilds_at_startup=False,
        )
        # What setup_hook opened, in order (close() closes it in reverse); the engine once opened.
        self._opened: list[str] = []
        self._engine: AsyncEngine | None = None
        self.settings = settings
        self.clock = clock
        self.counters = Counters()
        self.optouts = OptOuts()
        # Per-channel high-water marks: which messages live tracking counts, which catch-up imports.
        self.marks = LiveMarks(self.counters)
        # One on_message listener for every tracking cog (bot.tracking.feed).
        self.feed = MessageFeed(self)
        self.tasks = TaskGroup()
        # How /config tells the scheduled cogs and the presence tracker that settings changed.
        self.hooks = SettingsHooks()
        self._extensions = tuple(extensions)
        self._given_store = store
        self.render_pool = RenderPool(processes=render_processes)
        # Avatars and custom emoji images for report images (a bounded disk cache; nothing to close).
        self.assets = AssetCache()
        self.tree.error(self._command_error)
        # The bot's Prometheus metrics, in a registry of its own (bot/metrics.py).
        self.telemetry = Telemetry(self)

    async def setup_hook(self) -> None:
        self.engine = create_engine(self.settings.DATABASE_URL)
        self._opened.append("engine")
        # Reports, the dashboard and exports read from DATABASE_READ_URL when set (else the primary).
        self.read_engine = create_read_engine(self.settings.DATABASE_READ_URL, self.engine)
        if isinstance(self.read_engine, ReadEngine):
            self._opened.append("read_engine")
            # An opt-out must show at once: reads go to the primary until the replica has it.
            self.optouts.on_change = self.read_engine.fence
        # One set of report snapshots for every cog (nothing to close: memory only); days close on the primary.
        self.reports = Reports(self.read_engine, Snapshots(), DayCloser(self.engine))
        self.store = self._given_store or self._make_store()
        self._opened.append("store")
        try:
            await self.store.ping()
        except StoreUnavailable as exc:
            log.warning("buffer store unreachable at start, counters stay in the process until it is back: %s", exc)
        self.writer = BatchWriter(self.engine, clock=self.clock)
        self.optouts.load(await all_optouts(self.engine))
        self.pusher = Pusher(self.counters, self.store, interval=PUSH_INTERVAL_S, spill=self.writer.apply)
        self.flusher = Flusher(
            self.store,
            self.writer,
            interval=self.settings.FLUSH_INTERVAL_SECONDS,
            optouts=self.optouts,
            shards=self.owned_shards,
            reload_optouts=self._reload_optouts,
        )
        self.maintenance = Maintenance(
            self.engine,
            self.clock,
            days=self.reports.days,
            guild_ids=lambda: [g.id for g in self.guilds],
            # Removed guilds are purged after GUILD_PURGE_DAYS, by the process of their shard, once ready.
            purge_days=self.settings.GUILD_PURGE_DAYS,
            ready=self.is_ready,
            owns=lambda guild_id: self.owned_shards().owns(guild_id),
        )
        self.tasks.spawn(self.pusher.run(), "pusher")
        self.tasks.spawn(self.flusher.run(), "flusher")
        self.tasks.spawn(self.maintenance.run(), "maintenance")
        self.tasks.spawn(self.maintenance.run_days(), "days")
        self._opened.append("loops")
        self.telemetry.watch(self)
        if self.settings.METRICS_PORT is not None:
            self.metrics = MetricsServer(self, self.settings.METRICS_PORT)
            await self.metrics.start()
            self._opened.append("metrics")
        if self.settings.DASHBOARD_PORT is not None:
            # The dashboard in-process (issue #15); imported here so a bot without it never loads aiohttp's web.
            from bot.web.oauth import oauth_config
            from bot.web.server import DashboardServer, make_dashboard

            secret = self.settings.DASHBOARD_SECRET
            self.dashboard = DashboardServer(
                await make_dashboard(
                    self.engine,
                    self.reports,
                    secret=None if secret is None else secret.get_secret_value(),
                    base_url=self.settings.dashboard_url,
                    clock=self.clock,
                    oauth=oauth_config(self.settings),
                ),
                self.settings.DASHBOARD_PORT,
            )
            await self.dashboard.start()
            self._opened.append("dashboard")
        await self.render_pool.start()
        self._opened.append("render")
        for ext in self._extensions:
            await self.load_extension(ext)
        if self.application_id is not None:  # None only when set up without logging in (tests)
            try:
                await self.tree.sync()
            except discord.HTTPException as exc:
                log.error("could not register the slash commands with Discord: %s", exc)

    @property
    def engine(self) -> AsyncEngine:
        """The database engine, opened in ``setup_hook``."""
        if self._engine is None:
            raise RuntimeError("the bot has no database engine before setup_hook")
        return self._engine

    @engine.setter
    def engine(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @property
    def running(self) -> bool:
        """Whether ``setup_hook`` started the loops (pusher, flusher, maintenance)."""
        return "loops" in self._opened

    async def _command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """The command tree's error handler: counted in the metrics, answered in one sentence."""
        self.telemetry.command_failed(interaction, error)
        await on_app_command_error(interaction, error)

    @property
    def storage_open(self) -> bool:
        """Whether the bot has a database (a bot built to feed cogs in tests may have none)."""
        return self._engine is not None

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        """Count the event for the metrics, then dispatch it as discord.py does."""
        self.telemetry.event(event_name)
        super().dispatch(event_name, *args, **kwargs)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """A listener's failure, logged with its traceback; one cut short by the shutdown is one line.

        ``close()`` closes the HTTP session while listeners may still be on their way to the
        API (a SIGTERM while a guild becomes available): aiohttp then raises ``RuntimeError``.
        """
        exc = sys.exc_info()[1]
        if isinstance(exc, RuntimeError) and self.is_closed():
            log.info("%s stopped by the shutdown: %s", event_method, exc)
            return
        await super().on_error(event_method, *args, **kwargs)

    async def settle(self) -> None:
        """Push and flush what the bot holds, so that the database has every count so far.

        Does nothing before the loops run; raises what the push or the flush raised.
        """
        if self.running:
            await self.pusher.push_once()
            await self.flusher.flush_once()

    # Kept in the bot's task group (named ``<event>:<guild id>``), so that close() waits for them before it
    # disposes of the engine.
    async def on_guild_available(self, guild: discord.Guild) -> None:
        self.tasks.spawn(self._open_today(guild.id), f"guild_available:{guild.id}")

    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.tasks.spawn(self._joined(guild.id), f"guild_join:{guild.id}")

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        # Not an outage (that is on_guild_unavailable): the bot was kicked or left, or the guild deleted.
        self.tasks.spawn(self._removed(guild.id, removed=True), f"guild_remove:{guild.id}")

    async def _joined(self, guild_id: int) -> None:
        await self._open_today(guild_id)
        await self._removed(guild_id, removed=False)

    async def _removed(self, guild_id: int, *, removed: bool) -> None:
        """Record that the bot was removed from a guild (purged after GUILD_PURGE_DAYS), or forget it on a rejoin."""
        if "loops" not in self._opened:
            return
        try:
            if removed:
                await purge.mark_removed(self.engine, guild_id, utc(self.clock()))
                days = self.settings.GUILD_PURGE_DAYS
                log.info("removed from guild %s: its data is kept %s", guild_id, f"{days} days" if days else "forever")
            else:
                await purge.clear_removed(self.engine, [guild_id])
        except Exception as exc:
            # A missed clearing is made up by the hourly purge pass, which never purges a guild the bot is in.
            log.warning("could not record %s guild %s: %s", "leaving" if removed else "rejoining", guild_id, exc)

    async def _open_today(self, guild_id: int) -> None:
        """Open the guild's today as soon as it is served (the minute loop would, a little later)."""
        if "loops" not in self._opened:
            return
        try:
            await self.maintenance.days.open_today(guild_id, self.clock())
        except Exception as exc:
            log.warning("could not open today for guild %s yet (retried within a minute): %s", guild_id, exc)

    def owned_shards(self) -> Shards:
        """The shards this process runs (its guilds, its buffer partitions); one shard until discord.py knows."""
        return Shards.of(self.shard_count, self.shard_ids)

    async def _reload_optouts(self) -> None:
        """Read the opt-outs again (other processes' guilds' opt-outs, before flushing what they left)."""
        self.optouts.load(await all_optouts(self.engine))

    def _make_store(self) -> BufferStore:
        if self.settings.REDIS_URL:
            return RedisStore.from_url(
                self.settings.REDIS_URL,
                cluster=self.settings.REDIS_CLUSTER,
                shards=self.owned_shards,
                lease_s=lease_seconds(self.settings.FLUSH_INTERVAL_SECONDS),
            )
        return MemoryStore()

    async def close(self) -> None:
        """Stop receiving events, push and flush what is held, then close in reverse order."""
        if not hasattr(self, "_AutoShardedClient__queue"):
            # discord.py 2.7's AutoShardedClient.close() assumes connect() ran; after a failed
            # login it did not, and close() would raise before our resources are closed.
            self._AutoShardedClient__queue: asyncio.PriorityQueue[Any] = asyncio.PriorityQueue()
        await super().close()
        if "render" in self._opened:
            await self.render_pool.close()
            self._opened.remove("render")
        if "dashboard" in self._opened:
            await self.dashboard.close()
            self._opened.remove("dashboard")
        if "metrics" in self._opened:
            await self.metrics.close()
            self._opened.remove("metrics")
        if "loops" in self._opened:
            self.pusher.stop()
            self.flusher.stop()
            self.maintenance.stop()
            await self.tasks.wait(grace_s=30)
            await self.pusher.drain()
            await self.flusher.final_flush()
            self._opened.remove("loops")
        if "store" in self._opened:
            await self.store.close()
            self._opened.remove("store")
        if "read_engine" in self._opened:
            await self.read_engine.dispose()
            self._opened.remove("read_engine")
        if "engine" in self._opened:
            await self.engine.dispose()
            self._opened.remove("engine")
