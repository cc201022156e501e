"""The bot's own housekeeping loop: retention, hourly."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from bot.loops import stopped_within
from db.errors import is_transient
from db.retention import apply_retention
from db.types import utc

log = logging.getLogger(__name__)

RETENTION_INTERVAL_S = 3600.0


class Maintenance:
    """Runs retention once at start and then every hour, until ``stop()``."""

    def __init__(self, engine: AsyncEngine, clock: Clock, interval: float = RETENTION_INTERVAL_S) -> None:
        self.engine = engine
        self.clock = clock
        self.interval = interval
        self._stop = asyncio.Event()

    async def run_once(self) -> int:
        deleted = await apply_retention(self.engine, utc(self.clock()))
        if deleted:
            log.info("retention deleted %d rows past their guild's retention", deleted)
        return deleted

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:
                if is_transient(exc):
                    log.warning("retention skipped, database unreachable: %s", exc)
                else:
                    log.exception("retention failed")
            if await stopped_within(self._stop, self.interval):
                return

    def stop(self) -> None:
        self._stop.set()
