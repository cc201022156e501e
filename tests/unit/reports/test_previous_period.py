"""The previous period of the same length that /stats compares with."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.analytics.periods import parse_period
from bot.reports.builders import changes, previous_period

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)  # 16:30 in Berlin


def test_24h_compares_with_the_24_hours_before() -> None:
    period = parse_period("24h", NOW, BERLIN)
    found = previous_period(period)
    assert found is not None
    before, name = found
    assert (before.start, before.end, name) == (
        datetime(2026, 11, 20, 15, 30, tzinfo=UTC),
        period.start,
        "previous 24 hours",
    )


def test_7d_compares_with_the_7_local_days_before_cut_at_the_same_time_of_day() -> None:
    period = parse_period("7d", NOW, BERLIN)  # Mon 16 Nov 00:00 Berlin to now
    found = previous_period(period)
    assert found is not None
    before, name = found
    assert name == "previous 7 days"
    assert before.start == datetime(2026, 11, 8, 23, tzinfo=UTC)  # Mon 9 Nov 00:00 Berlin
    assert before.end == datetime(2026, 11, 15, 15, 30, tzinfo=UTC)  # Sun 15 Nov 16:30 Berlin
    assert before.end <= period.start


def test_across_a_dst_change_the_local_days_shift_by_wall_clock() -> None:
    now = datetime(2026, 11, 2, 11, tzinfo=UTC)  # Mon 2 Nov 12:00 CET; CEST ended on 25 Oct
    found = previous_period(parse_period("30d", now, BERLIN))
    assert found is not None
    before, _ = found
    assert before.start.astimezone(BERLIN).hour == 0  # a local midnight in summer time
    assert before.end.astimezone(BERLIN).hour == 12


def test_all_has_no_previous_period() -> None:
    assert previous_period(parse_period("all", NOW, BERLIN, datetime(2026, 1, 1, tzinfo=UTC))) is None


def test_changes_pair_each_figure_with_its_previous_value() -> None:
    got = changes({"Messages": 112, "Voice minutes": 0}, {"Messages": 100.0})
    assert [(c.name, c.value, c.previous) for c in got] == [("Messages", 112.0, 100.0), ("Voice minutes", 0.0, 0.0)]
    assert round(got[0].pct or 0) == 12 and got[1].pct is None
    assert changes({"Messages": 1}, None) == ()
