"""Totals by id as the report snapshots keep them, and the months a write into the past moves on."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from db.history import CLOCK_MARGIN, month_of, month_start, past_before
from db.reports.snapshots import EMPTY, KeyedTotals
from db.series import DAY

pairs = st.lists(st.tuples(st.integers(1, 40), st.integers(0, 1_000)), max_size=30)


def totals(items: list[tuple[int, int]]) -> KeyedTotals:
    merged: Counter[int] = Counter()
    for key, value in items:
        merged[key] += value
    return KeyedTotals.of(sorted(merged.items()))


@given(st.lists(pairs, max_size=4), st.sets(st.integers(1, 40), max_size=5), st.integers(1, 12))
def test_combined_totals_rank_like_a_plain_sum(
    parts: list[list[tuple[int, int]]], hidden: set[int], limit: int
) -> None:
    expected: Counter[int] = Counter()
    for part in parts:
        for key, value in part:
            expected[key] += value
    combined = KeyedTotals.combine([totals(p) for p in parts])
    shown = combined.without(np.array(sorted(hidden), dtype=np.int64))
    want = sorted(((k, v) for k, v in expected.items() if v > 0 and k not in hidden), key=lambda kv: (-kv[1], kv[0]))
    assert shown.top(limit) == want[:limit]
    assert len(shown) == len(want)
    for key in range(1, 41):
        assert combined.get(key) == expected.get(key, 0)


def test_empty_totals() -> None:
    assert KeyedTotals.of([]) is EMPTY
    assert KeyedTotals.combine([]) is EMPTY
    assert EMPTY.top(5) == []
    assert EMPTY.get(3) == 0


def test_months_and_the_past() -> None:
    assert month_of(datetime(2026, 1, 31, 23, tzinfo=UTC)) == 2026 * 12
    assert month_start(2026 * 12 + 11) == datetime(2026, 12, 1, tzinfo=UTC)
    assert month_of(month_start(2026 * 12 + 11)) == 2026 * 12 + 11
    midnight = 1_795_000_000 // DAY * DAY
    # A row of yesterday is past as soon as the day turned; today's rows only within the clock margin.
    assert past_before(midnight + 5) == midnight
    assert past_before(midnight - CLOCK_MARGIN.total_seconds() - 1) == midnight - DAY
    assert past_before(midnight - CLOCK_MARGIN.total_seconds() + 1) == midnight
