"""Nudges: who is due one, at most once per interval and once per silence, and the text with its placeholders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pytest

from bot.analytics import GuildRisk, assess_guild
from bot.analytics.nudges import DEFAULT_TEXT, InvalidNudge, check_text, due_nudges, nudge_text, nudged_ago

TODAY = datetime(2026, 11, 23, tzinfo=UTC)
NOW = TODAY + timedelta(hours=10)
WINDOW = 42


def active(days_ago: range) -> list[int]:
    """A row of the window (oldest first, today last) with activity on the given days."""
    return [1 if WINDOW - 1 - i in days_ago else 0 for i in range(WINDOW)]


def cohort() -> tuple[list[int], npt.NDArray[np.int64]]:
    """Members 1 fading (silent 12 days after daily activity), 2 steady, 3 regular but silent 5 days."""
    rows = np.array([active(range(12, 42)), active(range(42)), active(range(5, 42))])
    return [1, 2, 3], rows


def risk() -> GuildRisk:
    ids, rows = cohort()
    return assess_guild(rows, np.zeros_like(rows), ids, np.zeros(len(ids), dtype=np.int64))


def due(**kwargs: object) -> list[int]:
    options: dict[str, object] = {"after_days": None, "interval_days": 14, "last_attempts": {}, "excluded": ()}
    options.update(kwargs)
    return [d.member_id for d in due_nudges(risk(), NOW, TODAY, **options)]  # type: ignore[arg-type]


def test_high_risk_members_are_due_and_after_days_adds_silent_regulars() -> None:
    assert due() == [1]
    assert due(after_days=5) == [1, 3]
    assert due(after_days=6) == [1]
    assert due(excluded={1}) == []


def test_one_attempt_per_interval_and_per_silence() -> None:
    assert due(last_attempts={1: NOW - timedelta(days=3)}) == []  # within the interval
    # Beyond the interval but during the same silence (it began 11 days ago): still not again.
    assert due(last_attempts={1: NOW - timedelta(days=11)}, interval_days=7) == []
    # Nudged before this silence began, and long enough ago: due again.
    assert due(last_attempts={1: NOW - timedelta(days=20)}) == [1]


def test_the_text_fills_its_placeholders_and_refuses_unknown_ones() -> None:
    assert nudge_text("Hi {member} of {guild}, {days} days!", member="Ann", guild="G", days=9) == "Hi Ann of G, 9 days!"
    assert "Ann" in nudge_text(None, member="Ann", guild="G", days=9) and "{member}" in DEFAULT_TEXT
    for bad, words in (("Hi {name}", "Unknown placeholder {name}"), ("Hi {member", "Unbalanced"), ("  ", "empty")):
        with pytest.raises(InvalidNudge, match=words):
            check_text(bad)


def test_nudged_ago_in_words() -> None:
    assert nudged_ago(NOW - timedelta(hours=5), NOW) == "nudged today"
    assert nudged_ago(NOW - timedelta(days=1, hours=1), NOW) == "nudged 1 day ago"
    assert nudged_ago(NOW - timedelta(days=3), NOW) == "nudged 3 days ago"
