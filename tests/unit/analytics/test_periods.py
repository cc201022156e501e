"""Periods, local days, ISO weeks and the hour mapping, with hand-computed boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.analytics.periods import (
    PERIOD_CHOICES,
    InvalidPeriod,
    InvalidTimezone,
    InvalidWeek,
    Period,
    iso_week_label,
    parse_iso_week,
    parse_period,
    parse_timezone,
)
from db.days import local_days, local_hour_index, local_midnight

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SANTIAGO = ZoneInfo("America/Santiago")
KOLKATA = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 11, 22, 4, 30, tzinfo=UTC)  # Sunday 05:30 in Berlin, Saturday 23:30 in New York


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def hours(p: Period | tuple[datetime, datetime]) -> float:
    start, end = (p.start, p.end) if isinstance(p, Period) else p
    return (end - start).total_seconds() / 3600


class TestParsePeriod:
    def test_24h_is_the_last_24_hours(self) -> None:
        p = parse_period("24h", NOW, BERLIN)
        assert (p.label, p.start, p.end) == ("24h", utc(2026, 11, 21, 4, 30), NOW)

    def test_7d_starts_at_local_midnight_six_days_ago(self) -> None:
        p = parse_period("7d", NOW, BERLIN)
        # Today in Berlin is Sunday 22 November; six days before is Monday 16, 00:00 CET = 23:00 UTC.
        assert (p.start, p.end) == (utc(2026, 11, 15, 23), NOW)
        assert [d.date for d in p.days()] == [date(2026, 11, 16) + timedelta(i) for i in range(7)]

    def test_7d_uses_the_guild_date_not_the_utc_date(self) -> None:
        p = parse_period("7d", NOW, NEW_YORK)
        # It is still Saturday 21 November in New York: the period starts Sunday 15, 00:00 EST.
        assert p.start == utc(2026, 11, 15, 5)
        assert p.days()[-1].date == date(2026, 11, 21)

    def test_24h_and_7d_differ(self) -> None:
        short, week = parse_period("24h", NOW, BERLIN), parse_period("7d", NOW, BERLIN)
        assert hours(short) == 24
        assert hours(week) == 6 * 24 + 5.5
        assert [d.date for d in short.days()] == [date(2026, 11, 21), date(2026, 11, 22)]

    @pytest.mark.parametrize(("value", "n"), [("7d", 7), ("30d", 30), ("90d", 90), ("365d", 365)])
    def test_calendar_periods_have_n_days(self, value: str, n: int) -> None:
        p = parse_period(value, NOW, BERLIN)
        days = p.days()
        assert len(days) == n
        assert days[0].utc_start == p.start
        assert days[-1].date == date(2026, 11, 22)

    def test_30d_across_the_autumn_change_in_berlin(self) -> None:
        p = parse_period("30d", utc(2026, 11, 10, 12), BERLIN)
        # 12 October 00:00 CEST (UTC+2).
        assert p.start == utc(2026, 10, 11, 22)
        by_date = {d.date: hours((d.utc_start, d.utc_end)) for d in p.days()}
        assert by_date[date(2026, 10, 25)] == 25
        assert by_date[date(2026, 10, 24)] == 24 == by_date[date(2026, 10, 26)]

    def test_7d_across_the_spring_change_in_berlin(self) -> None:
        p = parse_period("7d", utc(2026, 3, 30, 10), BERLIN)
        assert p.start == utc(2026, 3, 23, 23)  # 24 March 00:00 CET
        day = next(d for d in p.days() if d.date == date(2026, 3, 29))
        assert (day.utc_start, day.utc_end) == (utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))

    def test_all_runs_from_the_earliest_record(self) -> None:
        earliest = utc(2025, 1, 2, 3)
        p = parse_period("all", NOW, BERLIN, earliest=earliest)
        assert (p.label, p.start, p.end) == ("all", earliest, NOW)

    def test_all_without_records_is_empty(self) -> None:
        p = parse_period("all", NOW, BERLIN)
        assert p.start == p.end == NOW
        assert p.days() == []
        assert parse_period("all", NOW, BERLIN, earliest=NOW + timedelta(1)).start == NOW

    def test_values_are_trimmed_and_case_insensitive(self) -> None:
        assert parse_period(" 7D ", NOW, BERLIN).label == "7d"

    def test_now_in_another_zone_is_the_same_instant(self) -> None:
        assert parse_period("7d", NOW.astimezone(NEW_YORK), BERLIN) == parse_period("7d", NOW, BERLIN)

    @pytest.mark.parametrize("value", ["", "7", "1w", "14d", "0d", "-7d", "24 h", "alltime", "7d7d", "x" * 500])
    def test_invalid_values_raise_a_short_domain_error(self, value: str) -> None:
        with pytest.raises(InvalidPeriod) as info:
            parse_period(value, NOW, BERLIN)
        message = str(info.value)
        assert 0 < len(message) <= 200
        assert all(choice in message for choice in PERIOD_CHOICES)

    def test_naive_now_is_a_programming_error(self) -> None:
        with pytest.raises(ValueError, match="aware"):
            parse_period("7d", datetime(2026, 11, 22), BERLIN)


class TestLocalDays:
    def test_new_york_spring_and_autumn_days(self) -> None:
        spring = local_days(utc(2026, 3, 8, 12), utc(2026, 3, 8, 13), NEW_YORK)
        assert spring == [(date(2026, 3, 8), utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))]
        autumn = local_days(utc(2026, 11, 1, 12), utc(2026, 11, 1, 13), NEW_YORK)
        assert autumn == [(date(2026, 11, 1), utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))]

    def test_midnight_in_a_dst_gap_starts_at_the_transition(self) -> None:
        # Chile springs forward at 00:00 on 6 September 2026: the day starts at 01:00 -03.
        assert local_midnight(date(2026, 9, 6), SANTIAGO) == utc(2026, 9, 6, 4)
        (day,) = local_days(utc(2026, 9, 6, 12), utc(2026, 9, 6, 13), SANTIAGO)
        assert hours((day.utc_start, day.utc_end)) == 23

    def test_end_is_exclusive(self) -> None:
        days = local_days(utc(2026, 11, 15, 23), utc(2026, 11, 16, 23), BERLIN)
        assert [d.date for d in days] == [date(2026, 11, 16)]

    def test_empty_and_reversed_intervals_have_no_days(self) -> None:
        assert local_days(NOW, NOW, BERLIN) == []
        assert local_days(NOW, NOW - timedelta(hours=1), BERLIN) == []

    @settings(max_examples=200)
    @given(
        start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)),
        length=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)),
        zone=st.sampled_from(["Europe/Berlin", "America/New_York", "America/Santiago", "Asia/Kolkata", "UTC"]),
    )
    def test_days_tile_the_interval(self, start: datetime, length: timedelta, zone: str) -> None:
        tz = ZoneInfo(zone)
        days = local_days(start, start + length, tz)
        if length == timedelta(0):
            assert days == []
            return
        assert days[0].utc_start <= start < days[0].utc_end
        assert days[-1].utc_start < start + length <= days[-1].utc_end
        for before, after in pairwise(days):
            assert before.utc_end == after.utc_start
            assert after.date - before.date == timedelta(days=1)
        for day in days:
            assert 23 <= hours((day.utc_start, day.utc_end)) <= 25
            assert day.utc_start.astimezone(tz).date() == day.date
            assert (day.utc_start - timedelta(microseconds=1)).astimezone(tz).date() < day.date


class TestIsoWeek:
    def test_week_47_in_berlin(self) -> None:
        p = parse_iso_week("2026-W47", BERLIN)
        assert (p.label, p.start, p.end) == ("2026-W47", utc(2026, 11, 15, 23), utc(2026, 11, 22, 23))

    def test_week_53_exists_in_2026(self) -> None:
        p = parse_iso_week("2026-W53", NEW_YORK)
        # Monday 28 December 2026 to Monday 4 January 2027, EST.
        assert (p.start, p.end) == (utc(2026, 12, 28, 5), utc(2027, 1, 4, 5))

    def test_weeks_with_a_clock_change_are_23_or_25_hours_off(self) -> None:
        assert hours(parse_iso_week("2026-W43", BERLIN)) == 169  # 25 October falls back
        assert hours(parse_iso_week("2026-W13", BERLIN)) == 167  # 29 March springs forward

    def test_lenient_spelling(self) -> None:
        assert parse_iso_week(" 2026w47 ", BERLIN) == parse_iso_week("2026-W47", BERLIN)
        assert parse_iso_week("2026-W7", BERLIN).label == "2026-W07"

    def test_week_53_of_a_52_week_year(self) -> None:
        with pytest.raises(InvalidWeek, match="does not exist"):
            parse_iso_week("2027-W53", BERLIN)

    @pytest.mark.parametrize("value", ["", "2026-47", "W47", "2026-W", "2026-W4x", "26-W47", "2026-W00", "2026-W54"])
    def test_malformed_weeks(self, value: str) -> None:
        with pytest.raises(InvalidWeek) as info:
            parse_iso_week(value, BERLIN)
        assert 0 < len(str(info.value)) <= 200

    def test_label_of_a_moment(self) -> None:
        assert iso_week_label(NOW, BERLIN) == "2026-W47"
        # Sunday 22:30 UTC is already Monday 23 November in Berlin.
        assert iso_week_label(utc(2026, 11, 22, 23, 30), BERLIN) == "2026-W48"
        assert iso_week_label(utc(2027, 1, 3, 12), BERLIN) == "2026-W53"


class TestTimezone:
    def test_known_name(self) -> None:
        assert parse_timezone(" Europe/Berlin ") == BERLIN

    @pytest.mark.parametrize("name", ["", "Mars/Olympus", "../etc/passwd", "/usr/share/zoneinfo/UTC", "Europe/"])
    def test_unknown_names(self, name: str) -> None:
        with pytest.raises(InvalidTimezone):
            parse_timezone(name)


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class TestLocalHourIndex:
    def test_week_edges_in_berlin(self) -> None:
        first = date(2026, 11, 16)  # a Monday
        hours_ = [utc(2026, 11, 15, 23), utc(2026, 11, 22, 22), utc(2026, 11, 15, 22), utc(2026, 11, 16, 11)]
        day, how = local_hour_index([epoch(h) for h in hours_], BERLIN, first)
        assert day.tolist() == [0, 6, -1, 0]
        assert how.tolist() == [0, 167, 167, 12]

    def test_spring_forward_skips_an_hour(self) -> None:
        first = date(2026, 3, 23)
        day, how = local_hour_index([epoch(utc(2026, 3, 29, h)) for h in range(3)], BERLIN, first)
        # 01:00 CET, then 03:00 and 04:00 CEST on Sunday: 02:00 (slot 146) never happens.
        assert day.tolist() == [6, 6, 6]
        assert how.tolist() == [145, 147, 148]

    def test_fall_back_repeats_an_hour(self) -> None:
        first = date(2026, 10, 19)
        _, how = local_hour_index([epoch(utc(2026, 10, 25, h)) for h in range(3)], BERLIN, first)
        assert how.tolist() == [146, 146, 147]

    def test_half_hour_zone_uses_the_hour_start(self) -> None:
        _, how = local_hour_index([epoch(utc(2026, 11, 16, 0))], KOLKATA, date(2026, 11, 16))
        assert how.tolist() == [5]  # Monday 05:30 IST

    def test_unaligned_seconds_fall_in_their_hour(self) -> None:
        base = epoch(utc(2026, 11, 16, 0))
        assert local_hour_index([base + 3599], BERLIN, date(2026, 11, 16))[1].tolist() == [1]

    def test_empty(self) -> None:
        day, how = local_hour_index(np.array([], dtype=np.int64), BERLIN, date(2026, 1, 1))
        assert day.size == how.size == 0

    @settings(max_examples=50)
    @given(
        seeds=st.lists(st.integers(0, 24 * 365 * 3), min_size=1, max_size=200),
        zone=st.sampled_from(["Europe/Berlin", "America/New_York", "America/Santiago", "Asia/Kolkata"]),
    )
    def test_matches_datetime_conversion(self, seeds: list[int], zone: str) -> None:
        tz = ZoneInfo(zone)
        base = epoch(utc(2025, 1, 1))
        first = date(2025, 1, 1)
        epochs = [base + s * 3600 for s in seeds]
        day, how = local_hour_index(epochs, tz, first)
        for e, d, h in zip(epochs, day.tolist(), how.tolist(), strict=True):
            local = datetime.fromtimestamp(e, tz)
            assert d == (local.date() - first).days
            assert h == local.weekday() * 24 + local.hour
