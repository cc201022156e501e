"""Where pushed counters wait for the flusher: the contract both stores keep.

Life of a count: ``push`` adds a snapshot to the *live* set (at most once per push
id); ``freeze`` atomically turns the live set into a new *batch* with a unique id;
the flusher ``load``s each pending batch in order, writes it to the database in one
transaction that records the batch id, and only then ``drop``s it. A crash at any
point leaves either the live set or a pending batch, which the next flush picks up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot.buffer.codec import RawCounters, clean_text
from bot.buffer.counters import Snapshot
from db.series import SERIES, USER_POSITION, CounterKey, RecordKey, RecordValue, Rows


class StoreUnavailable(Exception):
    """The store cannot be reached now; the operation may be retried as it was."""


@dataclass(slots=True)
class Batch:
    """A frozen set of counters and records, written to the database exactly once.

    A store gives the counters as single keys (``counters``), already grouped into
    rows (``rows``), or as the Redis hashes they came in (``raw``, which the
    PostgreSQL writer copies without decoding); ``grouped()`` gives rows in every case.
    ``size`` is the number of counter rows when loaded: an opt-out filter does not
    change it, so a replay splits the batch into the same parts.
    """

    batch_id: str
    counters: dict[CounterKey, int] = field(default_factory=dict)
    records: dict[RecordKey, RecordValue] = field(default_factory=dict)
    rows: Rows | None = None
    raw: RawCounters | None = None
    size: int = -1

    def __post_init__(self) -> None:
        if self.size < 0:
            self.size = self.counter_rows()

    def grouped(self) -> Rows:
        """The counters as rows, one value per field of the series."""
        if self.rows is None:
            self.rows = self.raw.decode() if self.raw is not None else group_counters(self.counters)
        return self.rows

    def wire_lines(self, parts: int) -> tuple[list[dict[str, list[bytes]]], Rows] | None:
        """COPY text lines of the id-only rows per part and the other rows decoded, while the
        counters are still the Redis bytes they came in (``RawCounters.copy_lines``); else None."""
        if self.raw is None or self.rows is not None:
            return None
        return self.raw.copy_lines(parts)

    def counter_rows(self) -> int:
        if self.raw is not None and self.rows is None:
            return len(self.raw)
        return sum(len(r) for r in self.grouped().values())

    def __len__(self) -> int:
        return self.counter_rows() + len(self.records)

    def without_members(self, excluded: Callable[[int, int], bool]) -> Batch:
        """The batch minus every row and record of a (guild, member) that ``excluded`` names."""
        records = {
            k: v
            for k, v in self.records.items()
            if (pos := USER_POSITION.get(str(k[0]))) is None or not excluded(int(k[1]), int(k[pos]))
        }
        if self.raw is not None and self.rows is None:
            return Batch(self.batch_id, records=records, raw=self.raw.without(excluded), size=self.size)
        rows: Rows = {}
        for code, series_rows in self.grouped().items():
            u = USER_POSITION[code] - 1  # row keys have no series code in front
            rows[code] = {k: v for k, v in series_rows.items() if not excluded(int(k[0]), int(k[u]))}
        return Batch(self.batch_id, records=records, rows=rows, size=self.size)


TEXT_SERIES = frozenset(code for code, s in SERIES.items() if str in s.dim_types)
FIELD_INDEX: dict[str, dict[str, int]] = {code: {f: i for i, f in enumerate(s.fields)} for code, s in SERIES.items()}


def group_counters(counters: dict[CounterKey, int]) -> Rows:
    """Group single counters into rows: key without its field -> values in field order."""
    rows: Rows = {code: {} for code in SERIES}
    for key, n in counters.items():
        code = str(key[0])
        series_rows = rows[code]
        row_key = key[1:-1]
        if code in TEXT_SERIES:
            row_key = tuple(clean_text(p) if isinstance(p, str) else p for p in row_key)
        vals = series_rows.get(row_key)
        if vals is None:
            vals = series_rows[row_key] = [0] * len(FIELD_INDEX[code])
        vals[FIELD_INDEX[code][str(key[-1])]] += n
    return rows


class BufferStore(Protocol):
    """The buffer between the process and the database.

    A shared store (Redis) is split into partitions, one per gateway shard: each
    process freezes and flushes its own (``part``), and may take over a partition
    whose lease lapsed. ``part=None`` means every partition (a process that serves
    every shard, and the in-process store, which has one).
    """

    # Whether other processes use the store too (then a flush takes only this process's partitions).
    shared: bool

    async def push(self, snap: Snapshot) -> None:
        """Add a snapshot to the live set; a retried push id is applied once."""

    async def freeze(self, part: str | None = None) -> str | None:
        """Turn the live set into a pending batch; None when nothing is live."""

    async def pending(self, part: str | None = None) -> list[str]:
        """Ids of batches not yet dropped, oldest first."""

    async def load(self, batch_id: str) -> Batch:
        """The contents of a pending batch."""

    async def drop(self, batch_id: str) -> None:
        """Forget a batch the database has committed."""

    async def partitions(self) -> list[str]:
        """Every partition that holds or held data."""

    async def claim(self, part: str, ttl_s: float, *, force: bool = False) -> bool:
        """Hold a partition's lease for ``ttl_s``; ``force`` takes it from whoever holds it."""

    async def release(self, part: str) -> None:
        """Let go of a partition's lease held by this process."""

    async def discard_member(self, guild_id: int, user_id: int) -> int:
        """Erase one member's live and pending data in one guild; returns how many entries."""

    async def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot be reached."""

    async def close(self) -> None:
        """Release connections."""
