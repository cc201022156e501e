"""Option checks and the bucketing of report query results into render models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.analytics.periods import PERIOD_CHOICES, parse_period, parse_timezone
from bot.commands.errors import MAX_REPLY, UserError
from bot.reports.builders import TOP_METRICS, activity_series, check_options, heatmap, series_span
from db.reports import HourlyPoint, split_period

NOW = datetime(2026, 11, 22, 5, 37, tzinfo=UTC)


@given(
    period=st.one_of(st.sampled_from(PERIOD_CHOICES), st.text(max_size=12)),
    metric=st.one_of(st.none(), st.sampled_from(tuple(TOP_METRICS)), st.text(max_size=12)),
    limit=st.one_of(st.none(), st.integers(min_value=-(2**40), max_value=2**40)),
)
def test_options_are_accepted_exactly_when_spec_allows_them(period: str, metric: str | None, limit: int | None) -> None:
    valid = (
        period in PERIOD_CHOICES and (metric is None or metric in TOP_METRICS) and (limit is None or 1 <= limit <= 25)
    )
    try:
        check_options(period, metric, limit)
    except UserError as error:
        assert not valid
        text = str(error)
        assert 0 < len(text) <= MAX_REPLY and "\n" not in text
    else:
        assert valid


def test_split_period_reads_whole_utc_days_from_rollups_only_for_long_periods() -> None:
    start = datetime(2026, 10, 24, 3, 0, tzinfo=UTC)
    span = split_period(start, NOW)
    assert span.day_start == datetime(2026, 10, 25, tzinfo=UTC) and span.day_end == datetime(2026, 11, 22, tzinfo=UTC)
    assert not split_period(NOW - timedelta(days=7), NOW).uses_rollups
    assert split_period(NOW - timedelta(days=7), NOW, True).uses_rollups
    # 30 hours ending at 05:37 hold no whole UTC day.
    assert not split_period(NOW - timedelta(hours=29), NOW, True).uses_rollups


def test_hourly_series_up_to_seven_days() -> None:
    period = parse_period("24h", NOW, parse_timezone("UTC"))
    points = [
        HourlyPoint(datetime(2026, 11, 21, 6, tzinfo=UTC), 3, 120),
        HourlyPoint(datetime(2026, 11, 22, 5, tzinfo=UTC), 2, 60),
        HourlyPoint(datetime(2026, 11, 20, 5, tzinfo=UTC), 99, 0),  # before the period: dropped
    ]
    series = activity_series(points, period)
    assert series.step_hours == 1 and len(series.messages) == 25
    assert series.messages[1] == 3 and series.messages[-1] == 2 and series.messages.sum() == 5
    assert series.voice_minutes.sum() == 3


def test_daily_series_by_local_day() -> None:
    tz = parse_timezone("Europe/Berlin")
    period = parse_period("30d", NOW, tz)
    points = [
        HourlyPoint(datetime(2026, 11, 21, 22, 30, tzinfo=UTC), 4, 0),  # 23:30 Berlin, 21 Nov
        HourlyPoint(datetime(2026, 11, 21, 23, tzinfo=UTC), 5, 0),  # 00:00 Berlin, 22 Nov
    ]
    series = activity_series(points, period)
    assert series.step_hours == 24 and len(series.messages) == 30
    assert series.messages[-2] == 4 and series.messages[-1] == 5
    # Berlin midnights are not UTC midnights: the series must not read UTC-day rollups.
    assert not series_span(period, True).uses_rollups
    assert series_span(parse_period("30d", NOW, parse_timezone("UTC")), True).uses_rollups


def test_heatmap_places_hours_in_local_week() -> None:
    period = parse_period("7d", NOW, parse_timezone("America/New_York"))
    # Sunday 22 Nov 2026 03:00 UTC is Saturday 22:00 in New York.
    matrix = heatmap([(datetime(2026, 11, 22, 3, tzinfo=UTC), 7)], period)
    assert matrix.shape == (7, 24) and matrix[5, 22] == 7 and float(np.sum(matrix)) == 7


@pytest.mark.parametrize("label", PERIOD_CHOICES)
def test_every_period_gives_a_series(label: str) -> None:
    period = parse_period(label, NOW, parse_timezone("Asia/Kolkata"), earliest=NOW - timedelta(days=400))
    series = activity_series([], period)
    assert len(series.messages) >= 1 and series.messages.sum() == 0
