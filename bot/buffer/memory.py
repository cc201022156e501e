"""The in-process store, used when no ``REDIS_URL`` is set (embedded mode)."""

from __future__ import annotations

import itertools
import uuid

from bot.buffer.counters import Snapshot, discard_member_entries
from bot.buffer.store import Batch
from db.series import CounterKey, RecordKey, RecordValue


class MemoryStore:
    """Keeps live counters and pending batches in dictionaries (lost with the process).

    One process uses it, so it has a single partition: ``part`` arguments are ignored.
    """

    shared = False

    def __init__(self) -> None:
        self._live_counters: dict[CounterKey, int] = {}
        self._live_records: dict[RecordKey, RecordValue] = {}
        self._batches: dict[str, Batch] = {}
        self._applied_pushes: set[str] = set()
        self._seq = itertools.count()

    async def push(self, snap: Snapshot) -> None:
        if snap.push_id in self._applied_pushes:
            return
        live = self._live_counters
        for key, n in snap.counters.items():
            live[key] = live.get(key, 0) + n
        self._live_records.update(snap.records)
        self._applied_pushes.add(snap.push_id)

    async def freeze(self, part: str | None = None) -> str | None:
        if not self._live_counters and not self._live_records:
            return None
        batch_id = f"{next(self._seq):012d}-{uuid.uuid4().hex}"
        self._batches[batch_id] = Batch(batch_id, self._live_counters, self._live_records)
        self._live_counters = {}
        self._live_records = {}
        # Push ids only need to be remembered while a retry of them is possible.
        self._applied_pushes.clear()
        return batch_id

    async def pending(self, part: str | None = None) -> list[str]:
        return list(self._batches)

    async def partitions(self) -> list[str]:
        return []

    async def claim(self, part: str, ttl_s: float, *, force: bool = False) -> bool:
        return True

    async def release(self, part: str) -> None:
        return None

    async def load(self, batch_id: str) -> Batch:
        return self._batches[batch_id]

    async def drop(self, batch_id: str) -> None:
        self._batches.pop(batch_id, None)

    async def discard_member(self, guild_id: int, user_id: int) -> int:
        n = 0
        for counters, records in [(self._live_counters, self._live_records)] + [
            (b.counters, b.records) for b in self._batches.values()
        ]:
            n += discard_member_entries(counters, guild_id, user_id)
            n += discard_member_entries(records, guild_id, user_id)
        return n

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
