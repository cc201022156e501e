"""The in-process counters: aggregation, the memory bound, erasure of one member."""

from __future__ import annotations

import random

from bot.buffer import Counters
from db.series import RecordKey, RecordValue
from tests.support.counts import random_increments


def test_counters_past_the_bound_are_dropped_and_counted() -> None:
    counters = Counters(max_keys=10)
    incs = random_increments(random.Random(10), 200)
    counters.incr_many(incs)
    snap = counters.take()
    assert snap is not None and len(snap.counters) == 10
    kept = sum(snap.counters.values())
    assert kept + counters.dropped == sum(n for _, n in incs)


def test_a_batch_drops_the_rows_and_records_of_members_who_opted_out() -> None:
    from bot.buffer.store import Batch

    counters = {
        ("msg", 1, 3600, 10, 7, "messages"): 2,
        ("msg", 1, 3600, 10, 8, "messages"): 3,
        ("msg", 2, 3600, 10, 7, "messages"): 4,
        ("presence", 1, 3600, 7, 0, "Chess", "seconds"): 60,
    }
    records: dict[RecordKey, RecordValue] = {
        ("vsess", 1, 7, 100): (10, 160, 1),
        ("vsess", 1, 8, 100): (10, 160, 1),
        ("channel", 1, 10): (None, "t", "x"),
    }
    batch = Batch("b", counters=counters, records=records).without_members(lambda g, u: (g, u) == (1, 7))
    kept = {(code, *key) for code, rows in batch.grouped().items() for key in rows}
    assert kept == {("msg", 1, 3600, 10, 8), ("msg", 2, 3600, 10, 7)}
    assert set(batch.records) == {("vsess", 1, 8, 100), ("channel", 1, 10)}
