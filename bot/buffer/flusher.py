"""The flush loop: frozen batches from the buffer store into the database, exactly once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.buffer.optouts import OptOuts
from bot.buffer.shards import Shards
from bot.buffer.store import BufferStore, StoreUnavailable
from bot.loops import stopped_within
from db.errors import is_transient
from db.flush import BatchWriter, FaultHook, no_fault

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 60.0
# A partition's lease outlives the longest back-off between two flushes of its owner: another
# process takes a partition over only when its owner has neither pushed nor flushed for this long.
MIN_LEASE_S = 120.0
LEASE_INTERVALS = 6


def lease_seconds(interval: float) -> float:
    """How long a process's lease on its partitions lasts, for a flush every ``interval`` seconds."""
    return max(MIN_LEASE_S, LEASE_INTERVALS * interval)


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

    On a shared store with ``shards`` (several shard processes on one Redis), a
    flush takes only the partitions of this process's shards, renewing their
    leases (``lease_s``), plus any other partition whose lease lapsed: what a
    process that died (or a shard count no longer used) left behind. Two
    processes flushing one partition at once is safe, only wasted work: each
    freeze is atomic and the ledger writes a batch once.
    """

    def __init__(
        self,
        store: BufferStore,
        writer: BatchWriter,
        *,
        interval: float,
        fault: FaultHook = no_fault,
        optouts: OptOuts | None = None,
        shards: Callable[[], Shards] | None = None,
        lease_s: float | None = None,
        reload_optouts: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        # Members who opted out: whatever of theirs is still in flight is never written.
        self.optouts = optouts
        # Before writing another process's leftovers: its opt-outs since this process started.
        self.reload_optouts = reload_optouts
        self.writer = writer
        self.interval = interval
        self.fault = fault
        self.shards = shards
        self.lease_s = lease_s if lease_s is not None else lease_seconds(interval)
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()
        self._taken: set[str] = set()
        self.failures = 0
        self.total = FlushResult()
        # Partitions of other processes' shards this process flushed batches of (after their lease lapsed).
        self.taken_over: set[str] = set()
        # Told of every flush: its duration in seconds and whether it succeeded (the bot's metrics).
        self.on_flush: Callable[[float, bool], None] | None = None

    async def _partitions(self) -> tuple[list[str | None], set[str]]:
        """The partitions this flush takes (None: the whole store), and which of them it took over."""
        if self.shards is None or not self.store.shared:
            return [None], set()
        shards = self.shards()
        mine = shards.partitions()
        known = await self.store.partitions()
        if shards.ids is None:  # this process serves every shard: every partition is its own
            mine = sorted(set(mine) | set(known))
        for part in mine:
            await self.store.claim(part, self.lease_s, force=True)
        taken = {p for p in known if p not in mine and await self.store.claim(p, self.lease_s)}
        self._taken = taken
        return [*mine, *sorted(taken)], taken

    async def flush_once(self) -> FlushResult:
        """Freeze and write everything pending of this process's partitions, oldest batch first."""
        began = time.perf_counter()
        try:
            result = await self._flush()
        except BaseException:
            if self.on_flush is not None:
                self.on_flush(time.perf_counter() - began, False)
            raise
        if self.on_flush is not None:
            self.on_flush(time.perf_counter() - began, True)
        return result

    async def _flush(self) -> FlushResult:
        async with self._lock:
            result = FlushResult()
            parts, taken = await self._partitions()
            reloaded = False
            for part in parts:
                await self.store.freeze(part)
                self.fault("frozen")
                pending = await self.store.pending(part)
                if part in taken and pending:
                    log.warning(
                        "flushing %d batches of buffer partition %s, whose process stopped renewing its lease",
                        len(pending),
                        part,
                    )
                    self.taken_over.add(str(part))
                    if self.reload_optouts is not None and not reloaded:
                        await self.reload_optouts()
                        reloaded = True
                for batch_id in pending:
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

    async def release(self) -> None:
        """Let go of every lease this process holds, so that another may take over at once."""
        if self.shards is None or not self.store.shared:
            return
        for part in {*self.shards().partitions(), *self._taken}:
            await self.store.release(part)
        self._taken = set()

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
        except Exception as exc:
            log.error("final flush failed, data stays in the buffer store for the next start: %s", exc)
            return False
        try:
            await self.release()
        except Exception as exc:  # the leases lapse by themselves
            log.warning("could not release the buffer leases: %s", exc)
        return True
