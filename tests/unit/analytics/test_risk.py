"""Drop-off risk rules on hand-built members, the watchlist order, invariants and speed."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bot.analytics.risk import RiskLevel, RiskRule, assess_guild, assess_member

DAYS = 35


def pattern(active_days: list[int] | range, n: int = DAYS, per_day: int = 1) -> np.ndarray:
    """Daily messages: ``per_day`` on the listed day indexes, none elsewhere."""
    messages = np.zeros(n, dtype=np.int64)
    messages[list(active_days)] = per_day
    return messages


def no_voice(n: int = DAYS) -> np.ndarray:
    return np.zeros(n, dtype=np.int64)


WEEKDAYS_THEN_SILENT = pattern([d for d in range(26) if d % 7 < 5])  # 5 of 7 days, then days 26-34 silent
WEEKDAYS_ALWAYS = pattern([d for d in range(DAYS) if d % 7 < 5])
TWICE_A_WEEK_THEN_SILENT = pattern([d for d in range(22) if d % 7 in (0, 3)])


class TestRules:
    def test_regular_member_gone_silent_is_high(self) -> None:
        # Last active day 25 (a Friday in this pattern), so 9 silent days. The baseline is the 3 whole
        # weeks before that day, days 4-24: 15 active days of 21, 5 of 7.
        # Chance of such a silence at that rate: (2/7) ** 9 ≈ 1e-5.
        risk = assess_member(WEEKDAYS_THEN_SILENT, no_voice())
        assert (risk.level, risk.rule, risk.silent_days) == (RiskLevel.HIGH, RiskRule.SILENT_REGULAR, 9)
        assert risk.reason == "usually active about 5 of 7 days, none in the last 9 days"
        assert risk.level.word == "high"

    def test_risk_does_not_fade_while_the_member_stays_away(self) -> None:
        levels = []
        for extra in range(0, 30, 3):
            messages = np.concatenate([WEEKDAYS_THEN_SILENT, np.zeros(extra, dtype=np.int64)])
            risk = assess_member(messages, np.zeros_like(messages))
            levels.append(risk.level)
            assert risk.reason == f"usually active about 5 of 7 days, none in the last {9 + extra} days"
        assert levels == [RiskLevel.HIGH] * 10

    def test_steady_member_is_low(self) -> None:
        risk = assess_member(WEEKDAYS_ALWAYS, no_voice())
        assert (risk.level, risk.rule) == (RiskLevel.LOW, RiskRule.AS_USUAL)
        assert risk.reason == "active 5 of the last 7 days, usually about 5"

    def test_voice_alone_counts(self) -> None:
        voice = WEEKDAYS_THEN_SILENT * 600
        assert assess_member(no_voice(), voice).level is RiskLevel.HIGH
        assert assess_member(no_voice(), WEEKDAYS_THEN_SILENT * 59).rule is RiskRule.NO_ACTIVITY

    def test_new_member_is_never_flagged(self) -> None:
        # First activity 10 days ago, then silent for 8 days: history too short to compare.
        risk = assess_member(pattern([25, 26]), no_voice())
        assert (risk.level, risk.rule) == (RiskLevel.LOW, RiskRule.NEW_MEMBER)
        assert risk.reason == "new: only 10 days of history, too few to compare"

    def test_known_join_day_overrides_first_activity(self) -> None:
        # Joined before the window but first active only 5 days ago: not a new member.
        risk = assess_member(pattern([30, 31]), no_voice(), history_start=-5)
        assert (risk.level, risk.rule) == (RiskLevel.LOW, RiskRule.AS_USUAL)
        assert risk.reason == "active 2 of the last 7 days, more than their usual 0"
        assert assess_member(pattern([31]), no_voice(), history_start=0).rule is RiskRule.OCCASIONAL
        joined_late = assess_member(WEEKDAYS_THEN_SILENT, no_voice(), history_start=25)
        assert joined_late.rule is RiskRule.NEW_MEMBER

    def test_occasional_member_is_low(self) -> None:
        # Active on days 0, 9, 18, 27: 4 of the 28 baseline days (1 a week); silent 7 days: (6/7) ** 7 ≈ 0.34.
        risk = assess_member(pattern([0, 9, 18, 27]), no_voice())
        assert (risk.level, risk.rule) == (RiskLevel.LOW, RiskRule.OCCASIONAL)
        assert risk.reason == "rarely active (about 1 of 7 days), nothing unusual"

    def test_coming_back_reads_as_more_than_usual(self) -> None:
        # Days 0-6 active, away for three weeks, back on 5 of the last 7: usual 7 of 28 days, 1.75 a week.
        risk = assess_member(pattern([*range(7), 28, 29, 31, 33, 34]), no_voice())
        assert (risk.level, risk.rule) == (RiskLevel.LOW, RiskRule.AS_USUAL)
        assert risk.reason == "active 5 of the last 7 days, more than their usual 2"

    def test_long_silence_of_a_twice_a_week_member_is_medium(self) -> None:
        # Days 0, 3, 7, 10, 14, 17, 21, then nothing: 13 silent days. The baseline is the 3 weeks
        # before day 21: 6 active of 21 (2 a week). Chance (5/7) ** 13 ≈ 0.013 ≤ 2 % → medium.
        risk = assess_member(TWICE_A_WEEK_THEN_SILENT, no_voice())
        assert (risk.level, risk.rule, risk.silent_days) == (RiskLevel.MEDIUM, RiskRule.LONG_SILENCE, 13)
        assert risk.reason == "no activity in the last 13 days, a long gap for them (usually about 2 of 7 days)"
        # Silent 10 days instead: (5/7) ** 10 ≈ 0.035, not unusual enough.
        assert assess_member(pattern([d for d in range(25) if d % 7 in (0, 3)]), no_voice()).level is RiskLevel.LOW

    def test_less_regular_members_need_a_longer_silence_for_high(self) -> None:
        three_a_week = [d for d in range(42) if d % 7 in (0, 2, 4)]
        # Active 3 of 7 days up to day 25, then 9 silent days: (4/7) ** 9 ≈ 0.0065, above 0.1 % → medium.
        risk = assess_member(pattern([d for d in three_a_week if d < 26]), no_voice())
        assert (risk.silent_days, risk.level, risk.rule) == (9, RiskLevel.MEDIUM, RiskRule.LONG_SILENCE)
        # The same member silent for 13 days (42-day window): (4/7) ** 13 ≈ 0.0007 → high.
        risk = assess_member(pattern([d for d in three_a_week if d < 29], n=42), no_voice(42))
        assert (risk.silent_days, risk.level) == (13, RiskLevel.HIGH)
        assert risk.reason == "usually active about 3 of 7 days, none in the last 13 days"

    def test_a_week_of_silence_is_medium_at_most(self) -> None:
        # Every day up to day 27, then 7 silent days: (0/7) ** 7 = 0, but under 9 days is never high.
        risk = assess_member(pattern(range(28)), no_voice())
        assert (risk.silent_days, risk.level, risk.rule) == (7, RiskLevel.MEDIUM, RiskRule.LONG_SILENCE)

    def test_gone_quiet_soon_after_joining(self) -> None:
        # 40 days of history, but only days 0-9 active before a 30-day silence: one whole week of baseline.
        risk = assess_member(pattern(range(10), n=40), no_voice(40))
        assert (risk.level, risk.rule) == (RiskLevel.LOW, RiskRule.NEW_MEMBER)
        assert risk.reason == "silent for 30 days, but only 7 days of history before that, too few to compare"

    def test_fewer_active_days_than_usual_is_medium(self) -> None:
        # 5 of 7 days as usual, but only today in the last week: binomial chance of ≤ 1 of 7 at 5/7 ≈ 0.003.
        messages = pattern([*(d for d in range(28) if d % 7 < 5), 34])
        risk = assess_member(messages, no_voice())
        assert (risk.level, risk.rule, risk.silent_days) == (RiskLevel.MEDIUM, RiskRule.FEWER_DAYS, 0)
        assert risk.reason == "active 1 of the last 7 days, usually about 5"

    def test_three_of_seven_at_a_five_day_rate_is_not_unusual(self) -> None:
        # 3 days is more than half of 5, and P(≤ 3 of 7 at 5/7) ≈ 0.12: no flag.
        messages = pattern([*(d for d in range(28) if d % 7 < 5), 28, 30, 34])
        assert assess_member(messages, no_voice()).rule is RiskRule.AS_USUAL

    def test_volume_alone_is_not_a_drop_off(self) -> None:
        # Every day as usual, just far fewer messages: the trend word shows it, the risk does not.
        messages = np.full(DAYS, 20)
        messages[-7:] = 1
        assert assess_member(messages, no_voice()).rule is RiskRule.AS_USUAL

    def test_nothing_at_all(self) -> None:
        risk = assess_member(no_voice(), no_voice())
        assert (risk.level, risk.rule, risk.reason) == (
            RiskLevel.LOW,
            RiskRule.NO_ACTIVITY,
            "no activity in the period",
        )

    def test_short_window_flags_nobody(self) -> None:
        assert assess_member(pattern([0, 1, 2], n=7), no_voice(7)).rule is RiskRule.NEW_MEMBER

    def test_shapes_must_match(self) -> None:
        with pytest.raises(ValueError, match="same shape"):
            assess_guild(np.zeros((2, 35)), np.zeros((2, 34)))


class TestWatchlist:
    def test_order_is_risk_then_silence_then_id(self) -> None:
        high_9 = WEEKDAYS_THEN_SILENT
        high_12 = pattern([d for d in range(23) if d % 7 < 5])
        medium_13 = TWICE_A_WEEK_THEN_SILENT
        low = WEEKDAYS_ALWAYS
        another_high_9 = WEEKDAYS_THEN_SILENT
        messages = np.stack([high_9, high_12, medium_13, low, another_high_9])
        risk = assess_guild(messages, np.zeros_like(messages), member_ids=[40, 10, 30, 20, 5])
        entries = risk.watchlist()
        assert [(e.member_id, e.level, e.silent_days) for e in entries] == [
            (10, RiskLevel.HIGH, 12),
            (5, RiskLevel.HIGH, 9),
            (40, RiskLevel.HIGH, 9),
            (30, RiskLevel.MEDIUM, 13),
        ]
        # Last active day 22; the baseline is days 1-21: 15 active of 21.
        assert entries[0].reason == "usually active about 5 of 7 days, none in the last 12 days"
        assert [e.member_id for e in risk.watchlist(limit=2)] == [10, 5]
        assert len(risk) == 5

    def test_member_and_guild_agree(self) -> None:
        rng = np.random.default_rng(3)
        messages = rng.poisson(1, (50, 60)) * (rng.random((50, 60)) < rng.random((50, 1)))
        voice = rng.integers(0, 200, (50, 60))
        risk = assess_guild(messages, voice)
        for i in range(50):
            assert assess_member(messages[i], voice[i]) == risk.assessment(i)

    def test_empty_guild(self) -> None:
        assert assess_guild(np.zeros((0, 35)), np.zeros((0, 35))).watchlist() == []


class TestInvariants:
    @given(
        hnp.arrays(np.bool_, st.integers(21, 70)),
        st.integers(1, 7),
        st.integers(0, 3),
    )
    def test_quieter_recent_days_never_lower_the_risk(self, days: np.ndarray, k: int, heavy: int) -> None:
        n = days.size
        # Active the day before the recent week: the baseline stays the same whatever happens after.
        days[n - 8] = True
        messages = days.astype(np.int64) * (1 + heavy)
        quieter = messages.copy()
        quieter[n - k :] = 0
        before = assess_member(messages, np.zeros(n)).level
        after = assess_member(quieter, np.zeros(n)).level
        assert after >= before

    @given(hnp.arrays(np.bool_, st.integers(1, 60)))
    def test_silence_alone_never_makes_an_irregular_member_high(self, days: np.ndarray) -> None:
        risk = assess_guild(days[np.newaxis, :].astype(np.int64), np.zeros((1, days.size)))
        if risk.level[0] == RiskLevel.HIGH:
            assert risk.usual_days_per_week[0] >= 3 - 1e-9
            assert risk.history_days[0] >= 14

    @given(hnp.arrays(np.bool_, st.integers(1, 60)), st.integers(0, 59))
    def test_new_members_are_low(self, days: np.ndarray, start: int) -> None:
        n = days.size
        start = min(start, n)
        risk = assess_member(days.astype(np.int64), np.zeros(n), history_start=max(start, n - 13))
        assert risk.level is RiskLevel.LOW


@pytest.mark.parametrize("n_days", [30, 90])
def test_speed_for_a_large_guild(n_days: int) -> None:
    rng = np.random.default_rng(11)
    messages = rng.poisson(2, (20_000, n_days)) * (rng.random((20_000, n_days)) < rng.random((20_000, 1)))
    voice = rng.integers(0, 4_000, (20_000, n_days)) * (rng.random((20_000, n_days)) < 0.1)
    assess_guild(messages, voice)
    started = time.perf_counter()
    risk = assess_guild(messages, voice)
    risk.watchlist(limit=25)
    assert time.perf_counter() - started < 0.1
