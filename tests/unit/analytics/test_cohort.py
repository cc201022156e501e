"""A synthetic guild with known behaviour: the watchlist must find the members who fade away."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from bot.analytics.activity import engagement_scores
from bot.analytics.risk import RiskLevel, assess_guild

DAYS = 60


def _cohort(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Messages and active voice seconds (members × days, today last) and each member's label."""
    rng = np.random.default_rng(seed)
    rows: list[np.ndarray] = []
    labels: list[str] = []

    def add(label: str, probability: np.ndarray) -> None:
        active = rng.random(DAYS) < probability
        rows.append(active)
        labels.append(label)

    day = np.arange(DAYS)
    for _ in range(120):  # steady: the same rate all along
        add("steady", np.full(DAYS, rng.uniform(0.45, 0.95)))
    for _ in range(30):  # fading: a usual rate, a few days of decline, then at least 9 silent days
        rate = rng.uniform(0.45, 0.95)
        fade_start = int(rng.integers(40, 47))
        ramp = np.clip(1.0 - (day - fade_start) / 5.0, 0.0, 1.0)
        add("fading", rate * ramp)
    for _ in range(25):  # returning: active, away for three weeks, back for the last two
        rate = rng.uniform(0.5, 0.9)
        add("returning", np.where((day < 20) | (day >= 45), rate, 0.0))
    for _ in range(25):  # new: joined in the last 12 days, active since
        joined = int(rng.integers(48, 58))
        add("new", np.where(day >= joined, rng.uniform(0.5, 0.9), 0.0))
    for _ in range(40):  # irregular: now and then, without a rhythm
        add("irregular", np.full(DAYS, rng.uniform(0.03, 0.2)))

    active = np.array(rows)
    # Some days are voice-only, and voice below a minute does not make a day active.
    messages = active * rng.poisson(6, active.shape)
    voice_only = active & (messages == 0)
    voice = np.where(voice_only, rng.integers(60, 3600, active.shape), rng.integers(0, 59, active.shape))
    voice = np.where(active & (rng.random(active.shape) < 0.3), rng.integers(60, 7200, active.shape), voice)
    return messages, voice, np.array(labels)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_watchlist_finds_the_fading_members(seed: int) -> None:
    messages, voice, labels = _cohort(seed)
    ids = np.arange(labels.size) + 1000
    risk = assess_guild(messages, voice, member_ids=ids)
    watched = {entry.member_id for entry in risk.watchlist()}
    fading = set(ids[labels == "fading"].tolist())
    true_positives = len(watched & fading)
    precision = true_positives / max(len(watched), 1)
    recall = true_positives / len(fading)
    assert precision >= 0.8, (precision, sorted(zip(labels[np.isin(ids, list(watched - fading))], strict=False)))
    assert recall >= 0.8, recall
    steady_levels = risk.level[labels == "steady"]
    assert (steady_levels < RiskLevel.HIGH).all()
    assert (risk.level[labels == "new"] == RiskLevel.LOW).all()
    assert (risk.level[labels == "irregular"] < RiskLevel.HIGH).all()


def test_watchlist_puts_the_longest_silent_high_risk_members_first() -> None:
    messages, voice, _ = _cohort(9)
    risk = assess_guild(messages, voice)
    entries = risk.watchlist()
    levels = [entry.level for entry in entries]
    assert levels == sorted(levels, reverse=True)
    for before, after in pairwise(entries):
        if before.level == after.level:
            assert before.silent_days >= after.silent_days
    assert all(entry.reason for entry in entries)


def test_engagement_ranks_steady_members_above_the_silent_ones() -> None:
    messages, voice, labels = _cohort(6)
    scores = engagement_scores(messages[:, -30:], voice[:, -30:])
    assert np.median(scores[labels == "steady"]) > np.median(scores[labels == "irregular"])
    assert ((scores >= 0) & (scores <= 100)).all()
