"""Where pushed counters wait for the flusher: the contract both stores keep.

Life of a count: ``push`` adds a snapshot to the *live* set (at most once per push
id); ``freeze`` atomically turns the live set into a new *batch* with a unique id;
the flusher ``load``s each pending batch in order, writes it to the database in one
transaction that records the batch id, and only then ``drop``s it. A crash at any
point leaves either the live set or a pending batch, which the next flush picks up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from bot.buffer.counters import Snapshot
from bot.series import CounterKey, RecordKey, RecordValue


class StoreUnavailable(Exception):
    """The store cannot be reached now; the operation may be retried as it was."""


@dataclass(slots=True)
class Batch:
    """A frozen set of counters and records, written to the database exactly once."""

    batch_id: str
    counters: dict[CounterKey, int] = field(default_factory=dict)
    records: dict[RecordKey, RecordValue] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.counters) + len(self.records)


class BufferStore(Protocol):
    """The buffer between the process and the database."""

    async def push(self, snap: Snapshot) -> None:
        """Add a snapshot to the live set; a retried push id is applied once."""

    async def freeze(self) -> str | None:
        """Turn the live set into a pending batch; None when nothing is live."""

    async def pending(self) -> list[str]:
        """Ids of batches not yet dropped, oldest first."""

    async def load(self, batch_id: str) -> Batch:
        """The contents of a pending batch."""

    async def drop(self, batch_id: str) -> None:
        """Forget a batch the database has committed."""

    async def discard_member(self, guild_id: int, user_id: int) -> int:
        """Erase one member's live and pending data in one guild; returns how many entries."""

    async def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot be reached."""

    async def close(self) -> None:
        """Release connections."""
