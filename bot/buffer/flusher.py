"""The flush loop: frozen batches from the buffer store into the database, exactly once."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.buffer.optouts import OptOuts
from bot.buffer.store import BufferStore, StoreUnavailable
from bot.loops import stopped_within
from db.errors import is_transient
from db.flush import BatchWriter, FaultHook, no_fault

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 60.0


@dataclass(slots=True)
class FlushResult:
    """What one flush did."""

    batches: int = 0
    skipped: int = 0
    entries: int = 0


class Flusher:
    """Every ``interval`` seconds: freeze the live counters, write every pending batch, drop it.

    Steps and what a crash after each leaves behind:
    freeze → a pending batch (written by the next flush); load → nothing new;
    transaction → rolled back, the batch stays pending; commit → the ledger has the id,
    the batch stays pending and its replay is skipped; drop → done.
    ``fault`` is called at each step with its name; tests raise there to simulate a crash.
    """

    def __init__(
        self,
        store: BufferStore,
        writer: BatchWriter,
        *,
        interval: float,
        fault: FaultHook = no_fault,
        optouts: OptOuts | None = None,
    ) -> None:
        self.store = store
        # Members who opted out: whatever of theirs is still in flight is never written.
        self.optouts = optouts
        self.writer = writer
        self.interval = interval
        self.fault = fault
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()
        self.failures = 0
        self.total = FlushResult()

    async def flush_once(self) -> FlushResult:
        """Freeze and write everything pending, oldest batch first."""
        async with self._lock:
            result = FlushResult()
            await self.store.freeze()
            self.fault("frozen")
            for batch_id in await self.store.pending():
                batch = await self.store.load(batch_id)
                if self.optouts is not None and self.optouts.any():
                    batch = batch.without_members(self.optouts.excluded)
                self.fault("loaded")
                written = await self.writer.apply(batch, self.fault)
                self.fault("committed")
                await self.store.drop(batch_id)
                self.fault("dropped")
                result.batches += 1
                result.skipped += not written
                result.entries += len(batch)
            self.total.batches += result.batches
            self.total.skipped += result.skipped
            self.total.entries += result.entries
            return result

    async def run(self) -> None:
        """Flush every ``interval`` seconds until ``stop()``; back off while a service is down."""
        delay = self.interval
        while not self._stop.is_set():
            if await stopped_within(self._stop, delay):
                break
            delay = await self._attempt()

    async def _attempt(self) -> float:
        try:
            await self.flush_once()
        except StoreUnavailable as exc:
            return self._backoff("buffer store unreachable", exc)
        except Exception as exc:
            if is_transient(exc):
                return self._backoff("database unreachable", exc)
            self.failures += 1
            log.exception("flush failed; the batch stays pending and is retried")
            return float(min(MAX_BACKOFF_S, self.interval * 2**self.failures))
        if self.failures:
            log.warning("flush works again after %d failed attempts", self.failures)
        self.failures = 0
        return self.interval

    def _backoff(self, what: str, exc: BaseException) -> float:
        self.failures += 1
        delay = float(min(MAX_BACKOFF_S, self.interval * 2 ** min(self.failures, 10)))
        log.warning("%s (attempt %d), retrying in %.0f s: %s", what, self.failures, delay, exc)
        return delay

    def stop(self) -> None:
        self._stop.set()

    async def final_flush(self) -> bool:
        """At shutdown: one last flush; False (logged) when it could not complete."""
        try:
            await self.flush_once()
            return True
        except Exception as exc:
            log.error("final flush failed, data stays in the buffer store for the next start: %s", exc)
            return False
