"""The bot's own housekeeping loops: retention, hourly; closing yesterday and opening today, each minute."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from bot.loops import stopped_within
from db.errors import is_transient
from db.retention import apply_retention
from db.rollups import DayCloser
from db.types import utc

log = logging.getLogger(__name__)

RETENTION_INTERVAL_S = 3600.0
# How soon after a UTC midnight the day before closes (anything reading it closes it sooner).
DAYS_INTERVAL_S = 60.0


class Maintenance:
    """Runs retention once at start and then every hour, and keeps each guild's today open, until ``stop()``."""

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        interval: float = RETENTION_INTERVAL_S,
        *,
        days: DayCloser | None = None,
        guild_ids: Callable[[], Iterable[int]] = tuple,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.interval = interval
        self.days = days or DayCloser(engine)
        # The guilds this process serves (its shards' guilds).
        self.guild_ids = guild_ids
        self._stop = asyncio.Event()

    async def open_days_once(self) -> None:
        """Close every served guild's days before today (UTC) and keep today open (db.rollups)."""
        now = self.clock()
        for guild_id in list(self.guild_ids()):
            await self.days.open_today(guild_id, now)

    async def run_days(self) -> None:
        await self._every(DAYS_INTERVAL_S, self.open_days_once, "closing yesterday")

    async def run_once(self) -> int:
        deleted = await apply_retention(self.engine, utc(self.clock()))
        if deleted:
            log.info("retention deleted %d rows past their guild's retention", deleted)
        return deleted

    async def run(self) -> None:
        await self._every(self.interval, self.run_once, "retention")

    async def _every(self, interval: float, step: Callable[[], Awaitable[object]], what: str) -> None:
        """Run ``step`` now and then every ``interval`` seconds until ``stop()``; a failure waits for the next turn."""
        while True:
            try:
                await step()
            except Exception as exc:
                if is_transient(exc):
                    log.warning("%s postponed, database unreachable: %s", what, exc)
                else:
                    log.exception("%s failed", what)
            if await stopped_within(self._stop, interval):
                return

    def stop(self) -> None:
        self._stop.set()
