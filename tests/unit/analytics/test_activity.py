"""Active days, streaks, regularity, hour-of-week profile, trend, last seen and engagement score."""

from __future__ import annotations

import math
import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bot.analytics.activity import (
    Regularity,
    activity_points,
    current_streak,
    engagement_scores,
    hour_of_week_profile,
    last_active_day,
    last_seen,
    longest_streak,
    percentile_scores,
    regularity,
    summarise_member,
    trend,
)
from db.days import active_days_mask, daily_matrix

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date(2026, 11, 16)
T, F = True, False


def epoch(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp())


class TestActiveDays:
    def test_messages_or_a_minute_of_active_voice(self) -> None:
        mask = active_days_mask([0, 1, 0, 0, 0], [59, 0, 60, 3600, 0])
        assert mask.tolist() == [F, T, T, T, F]

    def test_works_on_matrices(self) -> None:
        assert active_days_mask([[0, 2], [0, 0]], [[0, 0], [120, 30]]).tolist() == [[F, T], [T, F]]

    def test_points_weigh_a_message_like_a_minute_of_voice(self) -> None:
        assert activity_points([3, 0], [0, 90]).tolist() == [3.0, 1.5]


class TestStreaks:
    @pytest.mark.parametrize(
        ("days", "current"),
        [
            ([], 0),
            ([F], 0),
            ([T], 1),
            ([T, T, F, T, T], 2),  # ends today
            ([T, T, F, T, F], 1),  # ends yesterday: today is not over
            ([T, T, T, F], 3),
            ([T, T, T, F, F], 0),  # a whole day without activity breaks it
            ([T, T, T, T, T], 5),
            ([F, F, F], 0),
        ],
    )
    def test_current_streak(self, days: list[bool], current: int) -> None:
        assert current_streak(days) == current

    @pytest.mark.parametrize(
        ("days", "longest"),
        [([], 0), ([F, F], 0), ([T], 1), ([T, T, F, T, T, T, F], 3), ([F, T, T, F, T], 2), ([T] * 30, 30)],
    )
    def test_longest_streak(self, days: list[bool], longest: int) -> None:
        assert longest_streak(days) == longest

    def test_last_active_day(self) -> None:
        assert last_active_day([T, F, T, F]) == 2
        assert last_active_day([F, F]) is None

    @given(hnp.arrays(np.bool_, st.integers(0, 120)))
    def test_streaks_are_bounded_by_active_days(self, days: np.ndarray) -> None:
        current, longest = current_streak(days), longest_streak(days)
        assert 0 <= current <= longest <= int(days.sum()) <= days.size


class TestRegularity:
    def test_every_day(self) -> None:
        assert regularity([T] * 14, MONDAY) == Regularity(1.0, 1.0)

    def test_mondays_and_tuesdays(self) -> None:
        days = [i % 7 in (0, 1) for i in range(14)]
        r = regularity(days, MONDAY)
        assert r.share_active == pytest.approx(4 / 14)
        # Two equally likely weekdays out of seven: ln 2 / ln 7.
        assert r.weekday_spread == pytest.approx(math.log(2) / math.log(7))

    def test_one_weekday_only(self) -> None:
        assert regularity([i % 7 == 3 for i in range(28)], MONDAY).weekday_spread == 0.0

    def test_weekdays_are_counted_by_occurrence(self) -> None:
        # Ten days from a Monday: Monday to Wednesday occur twice. Active every day is perfectly even.
        assert regularity([T] * 10, MONDAY).weekday_spread == pytest.approx(1.0)
        # Active on both Mondays, both Tuesdays and once of two Wednesdays, plus every Thursday to Sunday.
        days = [T, T, T, T, T, T, T, T, T, F]
        rates = np.array([1, 1, 0.5, 1, 1, 1, 1])
        p = rates / rates.sum()
        expected = -(p * np.log(p)).sum() / math.log(7)
        assert regularity(days, MONDAY).weekday_spread == pytest.approx(expected)

    def test_start_weekday_matters(self) -> None:
        # Active on the first day of each week: Sundays when the period starts on a Sunday.
        days = [i % 7 == 0 for i in range(14)]
        assert regularity(days, date(2026, 11, 15)).weekday_spread == 0.0

    def test_short_and_empty_periods(self) -> None:
        assert regularity([], MONDAY) == regularity([F, F], MONDAY)
        assert regularity([F, F], MONDAY).share_active == 0.0
        assert regularity([T], MONDAY).weekday_spread == 1.0
        assert regularity([T, T, T], MONDAY).weekday_spread == pytest.approx(1.0)

    @given(hnp.arrays(np.bool_, st.integers(0, 100)), st.integers(0, 6))
    def test_bounds(self, days: np.ndarray, offset: int) -> None:
        r = regularity(days, date(2026, 11, 16 + offset))
        assert 0.0 <= r.share_active <= 1.0
        assert 0.0 <= r.weekday_spread <= 1.0


class TestHourOfWeek:
    def test_profile_bins_local_hours(self) -> None:
        hours = [epoch(2026, 11, 15, 23), epoch(2026, 11, 22, 22), epoch(2026, 11, 16, 11), epoch(2026, 11, 23, 11)]
        profile = hour_of_week_profile(hours, [1, 2, 3, 4], BERLIN)
        assert profile.shape == (168,)
        assert (profile[0], profile[167], profile[12]) == (1, 2, 7)
        assert profile.sum() == 10
        assert profile.reshape(7, 24)[0, 12] == 7

    def test_empty_profile(self) -> None:
        assert hour_of_week_profile([], [], BERLIN).tolist() == [0.0] * 168

    def test_daily_matrix_groups_by_member_and_local_day(self) -> None:
        hours = [
            epoch(2026, 11, 15, 23),  # Monday 00:00 local: day 0
            epoch(2026, 11, 16, 22, 0),  # Monday 23:00 local: day 0
            epoch(2026, 11, 16, 23),  # Tuesday 00:00 local: day 1
            epoch(2026, 11, 15, 22),  # Sunday before: dropped
            epoch(2026, 11, 18, 12),  # day 2: beyond n_days, dropped
            epoch(2026, 11, 16, 5),  # member 7: not a row, dropped
        ]
        matrix = daily_matrix(hours, [0, 0, 1, 0, 0, 7], [1, 2, 4, 8, 16, 32], BERLIN, MONDAY, 2, 2)
        assert matrix.tolist() == [[3.0, 0.0], [0.0, 4.0]]


class TestTrend:
    def test_rising_steady_falling(self) -> None:
        base = [1.0] * 28
        assert trend([*base, *[2.0] * 7]).word == "rising"
        assert trend([*base, *[2.0] * 7]).ratio == pytest.approx(2.0)
        assert trend([*base, *[1.0] * 7]).word == "steady"
        falling = trend([*base, 0, 0, 0, 1, 1, 1, 0])
        assert (falling.word, falling.ratio, falling.recent_points, falling.baseline_points) == ("falling", 3 / 7, 3, 7)

    def test_thresholds(self) -> None:
        assert trend([*[1.0] * 7, *[1.0] * 6, 2.75]).word == "rising"  # 8.75 / 7 = 1.25
        assert trend([*[1.0] * 7, *[0.8] * 7]).word == "falling"
        assert trend([*[1.0] * 7, *[0.9] * 7]).word == "steady"

    def test_baseline_is_the_mean_of_up_to_four_earlier_weeks(self) -> None:
        # Five earlier weeks: only the four nearest count (2, 4, 6, 8 → mean 5).
        weeks = [100.0] * 7 + [2 / 7] * 7 + [4 / 7] * 7 + [6 / 7] * 7 + [8 / 7] * 7
        result = trend([*weeks, *[5 / 7] * 7])
        assert result.baseline_points == pytest.approx(5.0)
        assert result.word == "steady"

    def test_new_and_inactive(self) -> None:
        assert trend([1.0] * 10).word == "new"
        assert trend([0.0] * 10).word == "inactive"
        assert trend([*[0.0] * 21, *[1.0] * 7]).word == "new"
        assert trend([0.0] * 28).word == "inactive"
        assert trend([0.0] * 28).ratio is None

    def test_history_start_excludes_weeks_before_joining(self) -> None:
        daily = [*[0.0] * 14, *[1.0] * 14, *[1.0] * 7]
        assert trend(daily, history_start=15).baseline_points == pytest.approx(7.0)
        assert trend(daily, history_start=0).baseline_points == pytest.approx(14 / 4)
        assert trend(daily, history_start=22).word == "new"


class TestSummary:
    def test_member_card_figures(self) -> None:
        messages = [0, 0, 3, 1, 0, 2, 2, 2, 0, 0, 5, 1, 1, 0]
        voice = [0, 0, 0, 0, 600, 0, 0, 0, 30, 0, 0, 0, 0, 0]
        s = summarise_member(messages, voice, MONDAY)
        assert (s.days, s.active_days, s.current_streak, s.longest_streak, s.last_active_day) == (14, 9, 3, 6, 12)
        assert s.regularity.share_active == pytest.approx(9 / 14)
        # History starts at the first active day (index 2): no complete earlier week fits.
        assert s.trend.word == "new"

    def test_last_seen(self) -> None:
        hours = [epoch(2026, 11, 20, 10), epoch(2026, 11, 21, 9) + 125, epoch(2026, 11, 22, 3)]
        assert last_seen(hours, [1, 2, 0]) == datetime(2026, 11, 21, 9, tzinfo=UTC)
        assert last_seen(hours, [0, 0, 0]) is None
        assert last_seen([], []) is None


class TestEngagement:
    def test_mid_rank_percentile_among_active_members(self) -> None:
        messages = [[10, 0], [10, 10], [20, 0], [0, 0], [40, 0], [0, 0]]
        voice = [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0], [59, 0]]
        scores = engagement_scores(messages, voice)
        # Active pool 10, 20, 20, 40 (n = 4): 10 → 0, 20 → (1 + 0.5) / 3, 40 → 1; inactive → 0.
        assert scores.tolist() == pytest.approx([0.0, 50.0, 50.0, 0.0, 100.0, 0.0])

    def test_voice_counts_a_point_a_minute(self) -> None:
        scores = engagement_scores([[5], [0], [4]], [[0], [300], [0]])
        assert scores.tolist() == pytest.approx([75.0, 75.0, 0.0])

    def test_lone_and_empty_guilds(self) -> None:
        assert engagement_scores([[0], [3]], [[0], [0]]).tolist() == [0.0, 100.0]
        assert engagement_scores(np.zeros((3, 7)), np.zeros((3, 7))).tolist() == [0.0] * 3
        assert engagement_scores(np.zeros((0, 7)), np.zeros((0, 7))).size == 0

    def test_percentile_scores_directly(self) -> None:
        assert percentile_scores([5, 5, 5], [T, T, T]).tolist() == [50.0] * 3

    @given(
        hnp.arrays(np.int64, st.tuples(st.integers(1, 40), st.integers(1, 10)), elements=st.integers(0, 5)),
    )
    def test_scores_are_bounded_and_ignore_order(self, messages: np.ndarray) -> None:
        voice = (messages[:, ::-1] * 50).copy()
        scores = engagement_scores(messages, voice)
        assert ((scores >= 0) & (scores <= 100)).all()
        order = np.random.default_rng(messages.size).permutation(messages.shape[0])
        assert np.allclose(engagement_scores(messages[order], voice[order]), scores[order])
        points = messages.sum(axis=1) + voice.sum(axis=1) / 60
        active = active_days_mask(messages, voice).any(axis=1)
        assert isinstance(active, np.ndarray)  # any() over an axis of a 2-D array: one flag per member
        for i in range(len(points)):
            for j in range(len(points)):
                if active[i] and active[j] and points[i] == points[j]:
                    assert scores[i] == scores[j]
                if active[i] and active[j] and points[i] < points[j]:
                    assert scores[i] < scores[j]

    def test_speed_for_a_large_guild(self) -> None:
        rng = np.random.default_rng(7)
        messages = rng.poisson(2, (20_000, 30)) * (rng.random((20_000, 30)) < 0.3)
        voice = rng.integers(0, 4_000, (20_000, 30)) * (rng.random((20_000, 30)) < 0.1)
        engagement_scores(messages, voice)
        started = time.perf_counter()
        engagement_scores(messages, voice)
        assert time.perf_counter() - started < 0.1
