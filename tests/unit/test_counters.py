"""The in-process counters: aggregation, the memory bound, erasure of one member."""

from __future__ import annotations

import random

from bot.buffer import Counters
from tests.support.counts import random_increments


def test_counters_past_the_bound_are_dropped_and_counted() -> None:
    counters = Counters(max_keys=10)
    incs = random_increments(random.Random(10), 200)
    counters.incr_many(incs)
    snap = counters.take()
    assert snap is not None and len(snap.counters) == 10
    kept = sum(snap.counters.values())
    assert kept + counters.dropped == sum(n for _, n in incs)
