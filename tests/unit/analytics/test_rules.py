"""Activity-role rules: which members a rule selects, the changes it makes, and the options it refuses."""

from __future__ import annotations

import numpy as np
import pytest

from bot.analytics.rules import InvalidRule, RuleSpec, role_changes, select, select_periods, validate


def days(*values: int) -> list[int]:
    """A per-day row, oldest first, today last."""
    return list(values)


def test_a_threshold_over_weeks_needs_the_value_in_every_period() -> None:
    spec = RuleSpec("messages", "threshold", 10, 7, 2)
    week = [0] * 6
    rows = np.array(
        [
            days(10, *week, 0, 0, 0, 0, 0, 0, 10),  # 10 in each week
            days(*week, 10, 0, 0, 0, 0, 0, 0, 9),  # 9 in the last one
            days(5, 5, 0, 0, 0, 0, 0, 5, 5, 0, 0, 0, 0, 0),  # spread out, still 10 each
            days(0, 0, 0, 0, 0, 0, 0, 30, 0, 0, 0, 0, 0, 0),  # a burst does not carry over
        ]
    )
    assert select(spec, [1, 2, 3, 4], rows) == {1, 3}


def test_days_before_the_window_do_not_count_and_short_histories_are_padded() -> None:
    spec = RuleSpec("messages", "threshold", 5, 3)
    assert select(spec, [1, 2], np.array([[9, 0, 0, 5], [5, 0, 0, 0]])) == {1}
    assert select(spec, [1], np.array([[5]])) == {1}  # one day of history only: the rest was nothing
    assert select(spec, [], np.zeros((0, 3))) == frozenset()


def test_top_takes_the_largest_above_zero_ties_to_the_smaller_id() -> None:
    spec = RuleSpec("voice", "top", 2, 3)
    rows = np.array([[0, 0, 0, 5], [0, 1, 1, 3], [0, 0, 5, 0], [0, 0, 0, 0], [100, 0, 0, 0]])
    assert select(spec, [40, 30, 20, 10, 5], rows) == {30, 20}  # 5 each for 40, 30, 20; member 5's day is older
    assert select(RuleSpec("voice", "top", 10, 3), [1, 2], np.array([[0, 0, 0], [0, 0, 1]])) == {2}


def test_sums_per_period_select_the_same_members_as_the_days() -> None:
    rng = np.random.default_rng(7)
    rows = rng.integers(0, 4, size=(50, 21))
    ids = np.arange(100, 150)
    for spec in (RuleSpec("messages", "threshold", 8, 7, 3), RuleSpec("messages", "top", 5, 21)):
        periods = rows.reshape(50, spec.weeks or 1, -1).sum(axis=2)
        assert select(spec, ids, rows) == select_periods(spec, ids, periods)


def test_changes_give_and_take_only_among_eligible_members() -> None:
    changes = role_changes(selected={1, 2, 9}, holders={2, 3, 8}, eligible={1, 2, 3, 4})
    assert changes.gain == (1,) and changes.lose == (3,)  # 9 left the guild; 8 is a bot: untouched
    assert not role_changes({1}, {1}, {1})


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (RuleSpec("posts", "threshold", 1, 7), "metric"),
        (RuleSpec("messages", "rank", 1, 7), "kind"),
        (RuleSpec("messages", "threshold", 0, 7), "at least 1"),
        (RuleSpec("messages", "threshold", 1, 0), "days"),
        (RuleSpec("voice", "top", 5, 30, 2), "weeks only applies"),
        (RuleSpec("voice", "top", 0, 30), "from 1 to"),
        (RuleSpec("active_days", "threshold", 8, 7), "8 of 7 days"),
        (RuleSpec("messages", "threshold", 1, 100, 4), "at most 365"),
    ],
)
def test_options_that_make_no_rule_are_refused_with_a_reason(spec: RuleSpec, words: str) -> None:
    with pytest.raises(InvalidRule, match=words):
        validate(spec)


def test_rules_in_words() -> None:
    assert RuleSpec("messages", "threshold", 10, 7, 5).describe() == "at least 10 messages in each of the last 5 weeks"
    assert RuleSpec("voice", "top", 10, 30).describe() == "top 10 by voice minutes over the last 30 days"
    assert (
        RuleSpec("event_minutes", "threshold", 60, 14).describe() == "at least 60 event minutes over the last 14 days"
    )
