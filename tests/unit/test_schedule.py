"""When event reports and weekly summaries are due: local times, DST changes, midnight crossings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.analytics.periods import AnalyticsError
from bot.posts.schedule import (
    ALL_DAYS,
    EventPlan,
    latest_occurrence,
    next_end,
    next_weekly,
    occurrence_on,
    occurrences,
    parse_hhmm,
    weekly_dues,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_an_event_starts_at_local_time_on_its_days_and_has_a_key_with_offset() -> None:
    morning = EventPlan(3, "07:00", 60, 1 << 6)  # Sundays
    occ = occurrence_on(morning, date(2026, 11, 22), BERLIN)
    assert occ is not None
    assert occ.start == utc(2026, 11, 22, 6) and occ.end == utc(2026, 11, 22, 7)
    assert occ.key == "2026-11-22T07:00+01:00#3"
    assert occurrence_on(morning, date(2026, 11, 23), BERLIN) is None  # Monday


def test_an_event_crossing_midnight_belongs_to_the_day_it_starts() -> None:
    late = EventPlan(1, "23:30", 90, 1 << 5)  # Saturdays
    found = occurrences(late, utc(2026, 11, 21), utc(2026, 11, 23), BERLIN)
    assert [(o.start, o.end) for o in found] == [(utc(2026, 11, 21, 22, 30), utc(2026, 11, 22, 0, 0))]
    assert found[0].local_start.date() == date(2026, 11, 21)


@pytest.mark.parametrize(
    ("tz", "day", "start_utc", "end_utc"),
    [
        # Berlin falls back on the last Sunday of October: 02:30 is ambiguous, the first one counts.
        (BERLIN, date(2026, 10, 25), utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)),
        # Berlin springs forward on the last Sunday of March: 02:30 does not exist, it moves to 03:30.
        (BERLIN, date(2026, 3, 29), utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2, 30)),
        (NEW_YORK, date(2026, 3, 8), utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 8, 30)),
        # New York falls back from 02:00 to 01:00: 02:30 happens once, in EST.
        (NEW_YORK, date(2026, 11, 1), utc(2026, 11, 1, 7, 30), utc(2026, 11, 1, 8, 30)),
    ],
)
def test_dst_nights(tz: ZoneInfo, day: date, start_utc: datetime, end_utc: datetime) -> None:
    occ = occurrence_on(EventPlan(1, "02:30", 60, ALL_DAYS), day, tz)
    assert occ is not None and (occ.start, occ.end) == (start_utc, end_utc)


def test_the_same_local_time_moves_in_utc_across_the_dst_week() -> None:
    event = EventPlan(1, "07:00", 60, ALL_DAYS)
    found = occurrences(event, utc(2026, 10, 23), utc(2026, 10, 28), BERLIN)
    starts = [o.local_start.strftime("%m-%d %H:%M%z") for o in found]
    assert starts == [
        "10-23 07:00+0200",
        "10-24 07:00+0200",
        "10-25 07:00+0100",
        "10-26 07:00+0100",
        "10-27 07:00+0100",
    ]
    assert [o.start.hour for o in found] == [5, 5, 6, 6, 6]
    assert len({o.key for o in found}) == 5


def test_an_event_across_the_fall_back_hour_lasts_its_real_minutes() -> None:
    night = EventPlan(1, "01:30", 120, ALL_DAYS)
    occ = occurrence_on(night, date(2026, 10, 25), BERLIN)
    assert occ is not None and occ.end - occ.start == timedelta(minutes=120)
    assert occ.end.astimezone(BERLIN).strftime("%H:%M") == "02:30"  # wall clock shows one hour


def test_next_end_and_latest_occurrence() -> None:
    events = [EventPlan(1, "07:00", 60, ALL_DAYS), EventPlan(2, "21:00", 60, ALL_DAYS)]
    now = utc(2026, 11, 22, 12)
    assert next_end(events, now, BERLIN) == utc(2026, 11, 22, 21)
    latest = latest_occurrence(events, now, BERLIN)
    assert latest is not None and latest.event_id == 1 and latest.start == utc(2026, 11, 22, 6)
    on_day = latest_occurrence(events, now, BERLIN, date(2026, 11, 21), parse_hhmm("21:00"))
    assert on_day is not None and on_day.key == "2026-11-21T21:00+01:00#2"
    assert latest_occurrence(events, now, BERLIN, date(2026, 11, 22), parse_hhmm("21:00")) is None  # not yet ended


def test_weekly_is_due_at_local_time_for_the_week_that_ended() -> None:
    dues = weekly_dues(0, "00:00", BERLIN, utc(2026, 11, 16), utc(2026, 11, 24))
    assert [(d.due, d.key) for d in dues] == [(utc(2026, 11, 22, 23), "2026-W47")]
    assert dues[0].week.start == utc(2026, 11, 15, 23) and dues[0].week.end == dues[0].due
    wednesday = weekly_dues(2, "09:30", NEW_YORK, utc(2026, 11, 20), utc(2026, 11, 27))
    assert [(d.due, d.key) for d in wednesday] == [(utc(2026, 11, 25, 14, 30), "2026-W47")]
    assert next_weekly(0, "00:00", BERLIN, utc(2026, 11, 16)) == utc(2026, 11, 22, 23)


def test_weekly_in_the_dst_week_covers_a_169_hour_week() -> None:
    dues = weekly_dues(0, "00:00", BERLIN, utc(2026, 10, 25, 12), utc(2026, 10, 26))
    assert len(dues) == 1 and dues[0].key == "2026-W43"
    assert dues[0].week.end - dues[0].week.start == timedelta(hours=169)
    assert dues[0].due == utc(2026, 10, 25, 23)


def test_bad_times_are_refused() -> None:
    for bad in ("7", "24:00", "07:60", "seven"):
        with pytest.raises(AnalyticsError):
            parse_hhmm(bad)
    assert parse_hhmm("7:05").minute == 5
