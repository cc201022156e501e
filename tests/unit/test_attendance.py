"""The 30-second rule of event attendance, from exact sessions."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from bot.analytics.attendance import presence, seconds_per_minute, total_minutes
from bot.posts.schedule import ALL_DAYS, EventPlan, occurrence_on
from db.voice import Interval

T0 = 1_800_000_000 - 1_800_000_000 % 60  # a whole minute
EV = 1  # event channel
EV2 = 2  # another event channel
OTHER = 9  # not an event channel


def flags(*ivs: Interval, minutes: int = 5, channels: tuple[int, ...] = (EV, EV2)) -> dict[int, list[bool]]:
    return {u: [bool(x) for x in row] for u, row in presence(list(ivs), T0, minutes, set(channels)).items()}


def test_29_seconds_do_not_count_30_do() -> None:
    assert flags(Interval(1, EV, T0, T0 + 29)) == {}
    assert flags(Interval(1, EV, T0, T0 + 30)) == {1: [True, False, False, False, False]}
    assert flags(Interval(1, EV, T0 + 31, T0 + 60)) == {}  # the last 29 s of a minute
    assert flags(Interval(1, EV, T0 + 30, T0 + 90)) == {1: [True, True, False, False, False]}


def test_two_sessions_in_one_minute_add_up() -> None:
    split = flags(Interval(1, EV, T0 + 60, T0 + 75), Interval(1, EV, T0 + 100, T0 + 115))
    assert split == {1: [False, True, False, False, False]}
    short = flags(Interval(1, EV, T0 + 60, T0 + 74), Interval(1, EV, T0 + 100, T0 + 115))
    assert short == {}


def test_moves_between_event_channels_add_up_and_other_channels_do_not_count() -> None:
    both = flags(Interval(1, EV, T0, T0 + 20), Interval(1, EV2, T0 + 20, T0 + 40))
    assert both == {1: [True, False, False, False, False]}
    away = flags(
        Interval(1, EV, T0, T0 + 20), Interval(1, OTHER, T0 + 20, T0 + 180), Interval(1, EV, T0 + 180, T0 + 300)
    )
    assert away == {1: [False, False, False, True, True]}


def test_sessions_spanning_the_start_and_the_end_are_clipped() -> None:
    before_and_after = flags(Interval(1, EV, T0 - 3600, T0 + 3600))
    assert before_and_after == {1: [True] * 5}
    seconds = seconds_per_minute([Interval(1, EV, T0 - 10, T0 + 45)], T0, 5, {EV})
    assert seconds[1].tolist() == [45, 0, 0, 0, 0]
    assert flags(Interval(1, EV, T0 + 280, T0 + 999)) == {}  # 20 s in the last minute
    assert flags(Interval(1, EV, T0 + 270, T0 + 999)) == {1: [False, False, False, False, True]}


def test_members_are_independent_and_totals_count_minutes() -> None:
    result = presence([Interval(1, EV, T0, T0 + 120), Interval(2, EV, T0 + 150, T0 + 300)], T0, 5, {EV})
    assert total_minutes(result) == {1: 2, 2: 3}


def test_events_crossing_midnight_and_the_fall_back_hour_count_real_minutes() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    night = occurrence_on(EventPlan(1, "01:30", 120, ALL_DAYS), date(2026, 10, 25), berlin)
    assert night is not None
    start = int(night.start.timestamp())
    # On the wall clock 01:30–02:30, but two real hours: 120 minutes to be present in.
    stayed = presence([Interval(1, EV, start - 60, start + 3 * 3600)], start, night.minutes, {EV})
    assert total_minutes(stayed) == {1: 120}
    late = occurrence_on(EventPlan(2, "23:30", 60, ALL_DAYS), date(2026, 11, 21), berlin)
    assert late is not None and late.key == "2026-11-21T23:30+01:00#2"
    begin = int(late.start.timestamp())
    after_midnight = presence([Interval(1, EV, begin + 1800, begin + 7200)], begin, late.minutes, {EV})
    assert after_midnight[1].tolist() == [False] * 30 + [True] * 30
