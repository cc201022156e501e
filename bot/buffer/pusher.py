"""The push loop: moves the process's counters into the store about once a second."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from bot.buffer.counters import Counters, Snapshot
from bot.buffer.store import Batch, BufferStore, StoreUnavailable
from bot.loops import stopped_within

log = logging.getLogger(__name__)

Spill = Callable[[Batch], Awaitable[bool]]


class Pusher:
    """Pushes counters to the store; while the store is down they stay in the process.

    A snapshot whose push failed is retried as it was (same push id, so a push that
    did reach the store before the failure is not applied twice), and no new snapshot
    is taken until it went through: meanwhile increments keep aggregating in place.
    When the in-process counters fill up while the store is down, or at shutdown,
    counters that were never sent are written straight to the database (``spill``),
    which is safe because no copy of them can be in the store.
    """

    def __init__(self, counters: Counters, store: BufferStore, *, interval: float = 1.0, spill: Spill | None = None):
        self.counters = counters
        self.store = store
        self.interval = interval
        self._spill = spill
        self._inflight: Snapshot | None = None
        self._stop = asyncio.Event()
        # The loop and ``StatsBot.settle`` push concurrently: one snapshot in flight at a time.
        self._lock = asyncio.Lock()
        self._store_down = False
        self.pushed = 0

    async def push_once(self) -> bool:
        """Push what is held; True when nothing is left in the process."""
        async with self._lock:
            return await self._push_locked()

    async def _push_locked(self) -> bool:
        if self._inflight is None:
            self._inflight = self.counters.take()
        if self._inflight is None:
            return True
        try:
            await self.store.push(self._inflight)
        except StoreUnavailable as exc:
            if not self._store_down:
                log.warning("buffer store unreachable, keeping counters in the process: %s", exc)
                self._store_down = True
            if self.counters.nearly_full:
                await self.spill()
            return False
        if self._store_down:
            log.warning("buffer store reachable again, pushing held counters")
            self._store_down = False
        self.pushed += len(self._inflight)
        self._inflight = None
        return len(self.counters) == 0

    async def spill(self) -> bool:
        """Write counters never sent to the store straight to the database."""
        if self._spill is None:
            return False
        snap = self.counters.take()
        if snap is None:
            return True
        batch = Batch(f"spill-{uuid.uuid4().hex}", snap.counters, snap.records)
        try:
            await self._spill(batch)
        except Exception:
            log.exception("could not spill %d counters to the database either; keeping them", len(batch))
            self.counters.incr_many(batch.counters.items())
            for k, v in batch.records.items():
                self.counters.record(k, v)
            return False
        log.warning("store unreachable: wrote %d counters straight to the database", len(batch))
        return True

    async def run(self) -> None:
        """Push every ``interval`` seconds until ``stop()``."""
        while not self._stop.is_set():
            try:
                await self.push_once()
            except Exception:
                log.exception("unexpected error pushing counters; will retry")
            await stopped_within(self._stop, self.interval)

    def stop(self) -> None:
        self._stop.set()

    async def drain(self) -> bool:
        """At shutdown: push everything held; if the store is down, spill what was never sent."""
        for _ in range(3):
            if await self.push_once() and self._inflight is None:
                return True
            if self._store_down:
                break
        if self._inflight is not None:
            log.error(
                "shutting down with %d counters whose push to the store is unconfirmed; "
                "they are counted if that push reached the store",
                len(self._inflight),
            )
        return await self.spill()
