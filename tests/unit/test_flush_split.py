"""A large batch is split into the same parts whether it is copied from Redis bytes or decoded.

A replay must write exactly the rows its part id stands for, whichever way the batch
was loaded the first time (the ledger holds part ids, not rows).
"""

from __future__ import annotations

import random

from sqlalchemy.ext.asyncio import create_async_engine

from bot.buffer.codec import RawCounters
from bot.buffer.store import Batch, group_counters
from db.flush import PARALLEL_PARTS, BatchWriter, Part
from db.series import SERIES, RecordKey, RecordValue
from tests.support.counts import random_increments, redis_hashes


def _rows_of(part: Part) -> set[tuple[str, tuple[int | str, ...]]]:
    out: set[tuple[str, tuple[int | str, ...]]] = set()
    for staged in part.staged:
        for line in staged.lines:
            out.add((staged.series.code, tuple(int(c) for c in line.split(b"\t"))))
        for row in staged.rows:
            out.add((staged.series.code, tuple(row)))
    return out


def test_copied_and_decoded_batches_split_alike() -> None:
    counters: dict[tuple[int | str, ...], int] = {}
    for key, n in random_increments(random.Random(3), 5000):
        counters[key] = counters.get(key, 0) + n
    rows = group_counters(counters)
    records: dict[RecordKey, RecordValue] = {("channel", 1, 2): (None, "text", "x")}
    copied = Batch("b", raw=RawCounters(*redis_hashes(rows)), records=records)
    decoded = Batch("b", counters=counters, records=copied.records)
    # Never connected: the writer only needs to know it speaks PostgreSQL.
    writer = BatchWriter(create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:9/none"), parallel_min_rows=10)
    by_copy, by_decode = writer.split(copied), writer.split(decoded)
    assert (
        [p.batch_id for p in by_copy]
        == [p.batch_id for p in by_decode]
        == [f"b#{k}/{PARALLEL_PARTS}" for k in range(PARALLEL_PARTS)]
    )
    assert any(s.lines for p in by_copy for s in p.staged)
    for a, b in zip(by_copy, by_decode, strict=True):
        assert _rows_of(a) == _rows_of(b)
        assert a.counters == b.counters and a.records == b.records
    assert sum(p.counters for p in by_copy) == sum(len(r) for r in rows.values())
    assert {code for p in by_copy for code in (s.series.code for s in p.staged)} <= set(SERIES)
