"""The bot's own housekeeping loops: retention and purging removed guilds, hourly; closing yesterday and opening
today, each minute."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from bot.loops import stopped_within
from db import purge
from db.errors import is_transient
from db.retention import apply_retention
from db.rollups import DayCloser
from db.types import utc

log = logging.getLogger(__name__)

RETENTION_INTERVAL_S = 3600.0
# How soon after a UTC midnight the day before closes (anything reading it closes it sooner).
DAYS_INTERVAL_S = 60.0


class Maintenance:
    """Runs retention and the purge of removed guilds once at start and then every hour, and keeps each guild's
    today open, until ``stop()``.

    The purge (``purge_days`` > 0) deletes the guilds removed more than ``purge_days`` ago, only
    once the gateway said which guilds this process is in (``ready``), never one it is in (a
    rejoin whose clearing was missed: its removal is cleared instead), and only guilds of its own
    shards (``owns``), so that the process that would see a rejoin is the one that purges.
    Retention, too, runs for the guilds of its own shards only: each guild's once.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        interval: float = RETENTION_INTERVAL_S,
        *,
        days: DayCloser | None = None,
        guild_ids: Callable[[], Iterable[int]] = tuple,
        purge_days: int = 0,
        ready: Callable[[], bool] = lambda: False,
        owns: Callable[[int], bool] = lambda _guild_id: True,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.interval = interval
        self.days = days or DayCloser(engine)
        # The guilds this process serves (its shards' guilds).
        self.guild_ids = guild_ids
        self.purge_days = purge_days
        self.ready = ready
        self.owns = owns
        self._stop = asyncio.Event()

    async def open_days_once(self) -> None:
        """Close every served guild's days before today (UTC) and keep today open (db.rollups)."""
        now = self.clock()
        for guild_id in list(self.guild_ids()):
            await self.days.open_today(guild_id, now)

    async def run_days(self) -> None:
        await self._every(DAYS_INTERVAL_S, self.open_days_once, "closing yesterday")

    async def run_once(self) -> int:
        deleted = await apply_retention(self.engine, utc(self.clock()), self.owns)
        if deleted:
            log.info("retention deleted %d rows past their guild's retention", deleted)
        return deleted

    async def purge_once(self) -> list[int]:
        """Forget the removal of guilds this process is in again, then purge the guilds removed past the grace
        period; returns the guilds purged by this process."""
        if self.purge_days <= 0 or not self.ready():
            return []
        served = set(self.guild_ids())
        removed = await purge.removed_guilds(self.engine)
        back = served & removed.keys()
        if back:
            # The join was seen but its clearing failed (database down then): clear it now.
            await purge.clear_removed(self.engine, back)
        cutoff = utc(self.clock()) - timedelta(days=self.purge_days)
        purged = []
        for guild_id in await purge.due_for_purge(self.engine, cutoff):
            if guild_id in served or not self.owns(guild_id):
                continue
            if await purge.purge_guild(self.engine, guild_id, cutoff) is not None:
                purged.append(guild_id)
        return purged

    async def hourly_once(self) -> None:
        """Retention, then the purge of removed guilds: each failure logged on its own."""
        await self._attempt(self.run_once, "retention")
        await self._attempt(self.purge_once, "purging removed guilds")

    async def run(self) -> None:
        await self._every(self.interval, self.hourly_once, "housekeeping")

    async def _every(self, interval: float, step: Callable[[], Awaitable[object]], what: str) -> None:
        """Run ``step`` now and then every ``interval`` seconds until ``stop()``; a failure waits for the next turn."""
        while True:
            await self._attempt(step, what)
            if await stopped_within(self._stop, interval):
                return

    @staticmethod
    async def _attempt(step: Callable[[], Awaitable[object]], what: str) -> None:
        """Run ``step`` once, logging a failure (a database out of reach as a warning: the next turn retries)."""
        try:
            await step()
        except Exception as exc:
            if is_transient(exc):
                log.warning("%s postponed, database unreachable: %s", what, exc)
            else:
                log.exception("%s failed", what)

    def stop(self) -> None:
        self._stop.set()
