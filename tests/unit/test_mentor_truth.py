"""The mentor card tells the truth: regularity from the join, a heatmap of messages, no text past its panel."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from bot.analytics import parse_period
from bot.render import samples
from bot.render.alt import alt_mentor
from bot.reports.mentor import RISK_WINDOW_DAYS, assess, build_card, risk_window
from db.mentor import ActiveDays, DailyActivity, MemberHours
from tests.unit.render.textboxes import drawn, escapes

NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")


def card_of_newcomer(joined: datetime | None, first_data_days_ago: int | None = None):  # type: ignore[no-untyped-def]
    """A member active every day for the last 10 days of a 30-day period; the other member from ``first_data``."""
    n = RISK_WINDOW_DAYS
    first = (NOW - timedelta(days=n - 1)).date()
    messages = np.zeros((2, n))
    messages[0, -10:] = 3
    other_from = n - (first_data_days_ago if first_data_days_ago is not None else n)
    messages[1, other_from:] = 1
    data = DailyActivity(first, np.array([10, 20], dtype=np.int64), messages, np.zeros((2, n)))
    epochs = np.array(
        [
            int(datetime(d.year, d.month, d.day, 10, tzinfo=UTC).timestamp())
            for d in (first + timedelta(days=i) for i in range(n - 10, n))
        ],
        dtype=np.int64,
    )
    hours = MemberHours(epochs, np.full(epochs.size, 3.0), np.zeros(epochs.size))
    period = parse_period("30d", NOW, UTC_ZONE)
    window = risk_window(period)
    active = ActiveDays(first, data.member_ids, messages > 0)
    risk = assess(active, {}, period)
    return build_card(
        guild_name="G",
        display_name="newcomer",
        user_id=10,
        period=period,
        data=data,
        hours=hours,
        period_days=window.period_days,
        risk=risk,
        joined=joined,
    )


def test_regularity_counts_only_the_days_since_the_member_joined() -> None:
    # Joined 10 days ago (today included) and active on each of them: fully regular.
    model = card_of_newcomer(NOW - timedelta(days=9))
    assert (model.active_days, model.period_days, model.regularity) == (10, 10, 1.0)
    assert "Active days: 10 of 10" in alt_mentor(model)
    # Joined long before the period: every day of the period counts.
    old = card_of_newcomer(NOW - timedelta(days=400))
    assert (old.active_days, old.period_days) == (10, 30)
    assert old.regularity == pytest.approx(10 / 30)


def test_without_a_known_join_days_before_the_first_recorded_day_do_not_count() -> None:
    # The bot's data starts 15 days ago (the other member's first day): 10 of 15.
    model = card_of_newcomer(None, first_data_days_ago=15)
    assert (model.active_days, model.period_days) == (10, 15)


def test_the_heatmap_holds_messages_as_its_label_says() -> None:
    model = card_of_newcomer(NOW - timedelta(days=9))
    assert model.heatmap.sum() == pytest.approx(30.0)  # 10 days × 3 messages, no voice mixed in
    # Ten days fill each weekday at 10:00 once, and three of them twice: the busiest cell holds 6 messages.
    assert model.heatmap.max() == pytest.approx(6.0)
    assert "10:00 with 6 messages" in alt_mentor(model)


def test_the_voice_tile_does_not_repeat_its_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    for minutes in (39.0, 185.0):
        model = dataclasses.replace(samples.mentor(), voice_minutes=minutes)
        texts = [t.text for t in drawn(monkeypatch, "mentor", model).texts]
        assert "39 min" not in texts and not any(t.startswith("39 /") for t in texts)
        if minutes >= 60:
            assert any("3 h 05 min" in t for t in texts)


def test_no_text_of_the_mentor_card_leaves_its_panel(monkeypatch: pytest.MonkeyPatch) -> None:
    for engagement in (7, 64, 100):
        model = dataclasses.replace(samples.mentor(), engagement=engagement)
        drawing = drawn(monkeypatch, "mentor", model)
        assert any("standing in the guild" in t.text for t in drawing.texts)
        assert escapes(drawing) == []
