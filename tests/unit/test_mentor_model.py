"""The mentor card model, its embed figures, the watchlist text and the active-day bit masks, without Discord or SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from bot.analytics import (
    RiskLevel,
    WatchlistEntry,
    current_streak,
    longest_streak,
    parse_period,
)
from bot.render.alt import alt_mentor
from bot.render.models import MentorReport
from bot.reports.mentor import (
    RISK_WINDOW_DAYS,
    assess,
    build_card,
    card_figures,
    risk_window,
    watchlist_text,
)
from db.mentor import ActiveDays, DailyActivity, MemberHours, _unpack_words, history_columns

NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")


def _guild(n_days: int = RISK_WINDOW_DAYS) -> tuple[DailyActivity, MemberHours]:
    """Three members over the window; member 10's hourly rows (10:00 messages, 08:00 voice) match their row."""
    first = (NOW - timedelta(days=n_days - 1)).date()
    messages = np.zeros((3, n_days))
    voice = np.zeros((3, n_days))
    messages[0, ::2] = 5  # member 10: every other day
    voice[0, ::3] = 600
    messages[1, :] = 1  # member 20: daily, a message a day
    messages[2, : n_days - 12] = 20  # member 30: silent for 12 days
    data = DailyActivity(first, np.array([10, 20, 30], dtype=np.int64), messages, voice)
    starts = [datetime(first.year, first.month, first.day, tzinfo=UTC) + timedelta(days=i) for i in range(n_days)]
    msg_epochs = [int((s + timedelta(hours=10)).timestamp()) for s, m in zip(starts, messages[0], strict=True) if m]
    voice_epochs = [int((s + timedelta(hours=8)).timestamp()) for s, v in zip(starts, voice[0], strict=True) if v]
    epochs = np.array(msg_epochs + voice_epochs, dtype=np.int64)
    hours = MemberHours(
        epochs,
        np.array([5.0] * len(msg_epochs) + [0.0] * len(voice_epochs)),
        np.array([0.0] * len(msg_epochs) + [600.0] * len(voice_epochs)),
    )
    return data, hours


def _card(user_id: int = 10, period_value: str = "30d") -> tuple[DailyActivity, MentorReport]:
    period = parse_period(period_value, NOW, UTC_ZONE)
    data, hours = _guild()
    window = risk_window(period)
    active = ActiveDays(data.first_day, data.member_ids, (data.messages > 0) | (data.active_s >= 60))
    risk = assess(active, {}, period)
    model = build_card(
        guild_name="G",
        display_name="alice",
        user_id=user_id,
        period=period,
        data=data,
        hours=hours,
        period_days=window.period_days,
        risk=risk,
    )
    return data, model


def test_risk_window_reads_at_least_42_days_ending_today() -> None:
    for value, period_days in (("7d", 7), ("30d", 30), ("90d", 90)):
        period = parse_period(value, NOW, UTC_ZONE)
        window = risk_window(period)
        assert window.period_days == period_days
        assert window.start == datetime(2026, 11, 22, tzinfo=UTC) - timedelta(days=max(period_days, 42) - 1)


def test_card_figures_are_the_analytics_figures() -> None:
    data, model = _card()
    assert isinstance(model.messages, int)
    row = data.messages[0, -30:], data.active_s[0, -30:]
    active = (row[0] > 0) | (row[1] >= 60)
    assert model.messages == int(row[0].sum())
    assert model.voice_minutes == pytest.approx(row[1].sum() / 60)
    assert model.active_days == int(active.sum()) and model.period_days == 30
    assert model.current_streak == current_streak(active)
    assert model.longest_streak == longest_streak(active)
    assert model.heatmap.shape == (7, 24) and model.heatmap.sum() == pytest.approx(row[0].sum())
    assert model.daily_activity.shape == (30,)
    # Member 30 has the most points over the period's days: 100; member 10 lies between.
    assert 0 < model.engagement < 100
    figures = card_figures(model)
    for name in ("Messages", "Voice minutes", "Active days", "Current streak", "Longest streak", "Engagement", "Risk"):
        assert name in figures
    assert figures["Risk"] == model.risk == "low"
    alt = alt_mentor(model)
    assert f"Active days: {model.active_days} of 30." in alt and f"Engagement score: {model.engagement}" in alt


def test_a_member_silent_for_12_days_is_high_risk_with_the_reason() -> None:
    _, model = _card(user_id=30)
    assert model.risk == "high"
    assert "none in the last 12 days" in model.risk_reason
    assert model.trend_word == "falling" and model.trend_pct == pytest.approx(-100.0)


def test_history_columns_use_join_dates_or_the_first_active_day() -> None:
    ids = np.array([1, 2, 3], dtype=np.int64)
    active = np.array([[False, True, True], [False, False, True], [False, False, False]])
    joined = {1: datetime(2026, 11, 1, 23, 30, tzinfo=UTC)}
    first = date(2026, 11, 20)
    assert history_columns(ids, joined, first, UTC_ZONE, active).tolist() == [-19, 2, 3]
    # In Berlin, 23:30 UTC on the 1st is already the 2nd.
    assert history_columns(ids, joined, first, ZoneInfo("Europe/Berlin"), active)[0] == -18


def test_bit_masks_unpack_into_the_active_matrix() -> None:
    rows = [(7, 0, (1 << 0) | (1 << 62)), (7, 1, 1 << 3), (5, 0, 1 << 1)]
    ids, active = _unpack_words(rows, 70)
    assert ids.tolist() == [5, 7]
    assert np.flatnonzero(active[0]).tolist() == [1]
    assert np.flatnonzero(active[1]).tolist() == [0, 62, 66]
    empty_ids, empty = _unpack_words([], 5)
    assert empty_ids.size == 0 and empty.shape == (0, 5)


def test_watchlist_text_is_one_line_per_member_and_says_how_many_were_cut() -> None:
    entries = [
        WatchlistEntry(member_id=1000 + i, level=RiskLevel.HIGH, silent_days=20, reason="x" * 90) for i in range(80)
    ]
    text = watchlist_text(entries[:2])
    assert text.splitlines() == [f"<@1000> — high: {'x' * 90}", f"<@1001> — high: {'x' * 90}"]
    cut = watchlist_text(entries)
    lines = cut.splitlines()
    assert len(cut) <= 4000
    shown = len(lines) - 1
    assert lines[-1] == f"…and {80 - shown} more" and all(line.startswith("<@") for line in lines[:-1])
    assert watchlist_text([]) == ""
