"""How active a member is: active days, streaks, regularity, weekly rhythm, trend and engagement score.

All inputs are numpy arrays aligned to the guild's *local* calendar days of a
period, oldest first, the last element being today (see ``db.days.local_days``;
``db.days.daily_matrix`` builds them from hourly rows). The method, for a mentor:

Active day
    A day on which the member sent at least one message, or spent at least 60
    seconds in voice in the ``active`` state (not muted, deafened or alone). Idling
    muted in a channel does not make a day active.

Activity points
    One point per message and one per minute of active voice, so that one message
    and one minute of talking weigh the same, as they do for an active day.

Streaks
    The longest streak is the longest run of consecutive active days. The current
    streak is the run that ends today, or yesterday when today has no activity yet:
    today is not over, so a streak is only broken once a whole day has passed
    without activity.

Regularity
    ``share_active`` is the share of the period's days that were active.
    ``weekday_spread`` says how evenly the active days spread over the days of the
    week: for each weekday, the share of its occurrences in the period that were
    active; those seven rates, normalised to sum to one, have a Shannon entropy
    which is divided by its maximum. 1 means every weekday is equally likely to be
    active; 0 means all activity falls on one weekday. Only weekdays that occur in
    the period count, so a three-day period can still score 1.

Hour-of-week profile
    168 sums, Monday 00:00-01:00 local first, for a heatmap (``reshape(7, 24)``).

Trend
    Activity points of the last 7 days (today included) against the member's mean
    over up to 4 earlier complete weeks of their history: ``rising`` at 1.25 times
    or more, ``falling`` at 0.8 times or less, ``steady`` between. ``new`` when there
    is no earlier complete week to compare with (or nothing happened in it while
    the last 7 days have activity); ``inactive`` when both are empty.

Last seen
    The start of the latest hour with any activity (hourly data, so to the hour).

Engagement score (0-100)
    The member's standing among the guild's active members over the period (those
    with at least one active day): the mid-rank percentile of their activity
    points. 100 means more points than every other active member, 0 fewer than all
    of them, and members with equal points get the same score (half of the ties are
    counted below), whatever their order in the input. A lone active member scores
    100; members with no active day score 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final, Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from bot.analytics.periods import HOURS_PER_WEEK
from db.days import ACTIVE_VOICE_SECONDS, HOUR_SECONDS, active_days_mask, local_hour_index

VOICE_SECONDS_PER_POINT: Final = 60
RISING_RATIO: Final = 1.25
FALLING_RATIO: Final = 0.8
TREND_WINDOW_DAYS: Final = 7
TREND_BASELINE_WEEKS: Final = 4

TrendWord = Literal["rising", "steady", "falling", "new", "inactive"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Regularity:
    """How regularly a member shows up: share of days active and spread over the weekdays, both 0..1."""

    share_active: float
    weekday_spread: float


@dataclass(frozen=True, slots=True)
class Trend:
    """The last 7 days against the member's earlier weeks: the ratio (None when undefined) and its word."""

    ratio: float | None
    word: TrendWord
    recent_points: float
    baseline_points: float | None


@dataclass(frozen=True, slots=True)
class MemberActivity:
    """The day-based figures of a mentor card for one member over one period."""

    days: int
    active_days: int
    current_streak: int
    longest_streak: int
    regularity: Regularity
    trend: Trend
    last_active_day: int | None


def activity_points(messages: npt.ArrayLike, voice_active_s: npt.ArrayLike) -> FloatArray:
    """Activity points, element-wise: one per message plus one per minute of active voice."""
    voice_minutes = np.asarray(voice_active_s, dtype=np.float64) / float(VOICE_SECONDS_PER_POINT)
    points: FloatArray = np.asarray(messages, dtype=np.float64) + voice_minutes
    return points


def current_streak(active: npt.ArrayLike) -> int:
    """Consecutive active days ending today, or ending yesterday when today is not active yet."""
    days = np.asarray(active, dtype=bool)
    if days.size == 0:
        return 0
    if not days[-1]:
        days = days[:-1]
    inactive = np.flatnonzero(~days)
    return int(days.size if inactive.size == 0 else days.size - 1 - inactive[-1])


def longest_streak(active: npt.ArrayLike) -> int:
    """The longest run of consecutive active days."""
    days = np.asarray(active, dtype=bool)
    if not days.any():
        return 0
    # Run lengths from the positions where the mask switches on and off.
    edges = np.diff(np.concatenate(([False], days, [False])).astype(np.int8))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max())


def last_active_day(active: npt.ArrayLike) -> int | None:
    """Index of the last active day, or None when no day is active."""
    indexes = np.flatnonzero(np.asarray(active, dtype=bool))
    return int(indexes[-1]) if indexes.size else None


def regularity(active: npt.ArrayLike, first_day: date) -> Regularity:
    """Share of days active and how evenly the active days spread over the weekdays (normalised entropy)."""
    days = np.asarray(active, dtype=bool)
    if days.size == 0 or not days.any():
        return Regularity(0.0, 0.0)
    weekdays = (np.arange(days.size) + first_day.weekday()) % 7
    occurrences = np.bincount(weekdays, minlength=7).astype(np.float64)
    hits = np.bincount(weekdays, weights=days.astype(np.float64), minlength=7)
    present = occurrences > 0
    rates = hits[present] / occurrences[present]
    share = float(days.mean())
    if rates.size < 2:
        return Regularity(share, 1.0)
    p = rates / rates.sum()
    nonzero = p[p > 0]
    entropy = float(-(nonzero * np.log(nonzero)).sum())
    # Rounded so that a perfectly even spread reads 1.0, not 0.9999999999999999.
    spread = round(entropy / float(np.log(rates.size)), 9)
    return Regularity(share, min(1.0, max(0.0, spread)))


def hour_of_week_profile(hour_epochs: npt.ArrayLike, values: npt.ArrayLike, tz: ZoneInfo) -> FloatArray:
    """The 168 hour-of-week sums (Monday 00 local first) of hourly values, for a heatmap."""
    epochs = np.asarray(hour_epochs, dtype=np.int64)
    weights = np.asarray(values, dtype=np.float64)
    if epochs.size == 0:
        return np.zeros(HOURS_PER_WEEK, dtype=np.float64)
    # Any day serves as the anchor: only the hour of the week is used.
    _, how = local_hour_index(epochs, tz, date(1970, 1, 1))
    profile: FloatArray = np.bincount(how, weights=weights, minlength=HOURS_PER_WEEK).astype(np.float64)
    return profile


def trend(points: npt.ArrayLike, history_start: int = 0) -> Trend:
    """The last 7 days' activity points against the mean of up to 4 earlier complete weeks since ``history_start``.

    ``points`` are daily activity points, today last. ``history_start`` is the index
    of the first day the member belongs to the guild (0 if unknown or earlier);
    weeks that begin before it are not compared against.
    """
    daily = np.asarray(points, dtype=np.float64)
    n = daily.size
    recent = float(daily[max(0, n - TREND_WINDOW_DAYS) :].sum())
    weeks: list[float] = []
    end = n - TREND_WINDOW_DAYS
    while len(weeks) < TREND_BASELINE_WEEKS and end - TREND_WINDOW_DAYS >= max(0, history_start):
        weeks.append(float(daily[end - TREND_WINDOW_DAYS : end].sum()))
        end -= TREND_WINDOW_DAYS
    if not weeks:
        return Trend(None, "inactive" if recent == 0 else "new", recent, None)
    baseline = sum(weeks) / len(weeks)
    if baseline == 0:
        return Trend(None, "inactive" if recent == 0 else "new", recent, baseline)
    ratio = recent / baseline
    word: TrendWord = "rising" if ratio >= RISING_RATIO else "falling" if ratio <= FALLING_RATIO else "steady"
    return Trend(ratio, word, recent, baseline)


def first_active_index(active: npt.ArrayLike) -> int | None:
    """Index of the first active day, or None when no day is active."""
    indexes = np.flatnonzero(np.asarray(active, dtype=bool))
    return int(indexes[0]) if indexes.size else None


def summarise_member(
    messages: npt.ArrayLike,
    voice_active_s: npt.ArrayLike,
    first_day: date,
    history_start: int | None = None,
) -> MemberActivity:
    """The day-based mentor-card figures for one member from their daily messages and active voice seconds.

    ``history_start`` is the index of the member's first day in the guild; when it
    is unknown, their first active day stands in for it in the trend.
    """
    active = active_days_mask(messages, voice_active_s)
    points = activity_points(messages, voice_active_s)
    start = history_start if history_start is not None else (first_active_index(active) or 0)
    return MemberActivity(
        days=int(active.size),
        active_days=int(active.sum()),
        current_streak=current_streak(active),
        longest_streak=longest_streak(active),
        regularity=regularity(active, first_day),
        trend=trend(points, history_start=start),
        last_active_day=last_active_day(active),
    )


def last_seen(hour_epochs: npt.ArrayLike, values: npt.ArrayLike) -> datetime | None:
    """The start (aware UTC) of the latest hour with a positive value, or None when there is none."""
    epochs = np.asarray(hour_epochs, dtype=np.int64)
    weights = np.asarray(values, dtype=np.float64)
    seen = epochs[weights > 0]
    if seen.size == 0:
        return None
    latest = int(seen.max()) // HOUR_SECONDS * HOUR_SECONDS
    return datetime.fromtimestamp(latest, UTC)


def engagement_scores(messages: npt.ArrayLike, voice_active_s: npt.ArrayLike) -> FloatArray:
    """Engagement score 0..100 of every member (rows of members × days matrices): mid-rank percentile of points."""
    msg = np.asarray(messages)
    voice = np.asarray(voice_active_s)
    active = (msg > 0).any(axis=-1) | (voice >= ACTIVE_VOICE_SECONDS).any(axis=-1)
    # Summing before converting keeps this to one pass over each matrix.
    points = activity_points(msg.sum(axis=-1), voice.sum(axis=-1))
    return percentile_scores(points, active)


def percentile_scores(totals: npt.ArrayLike, eligible: npt.ArrayLike) -> FloatArray:
    """Mid-rank percentile (0..100) of each eligible total among the eligible ones; 0 for the others.

    Score = 100 × (eligible totals below + half the other equal ones) / (eligible − 1),
    so equal totals always share a score, and a lone eligible member gets 100.
    """
    values = np.asarray(totals, dtype=np.float64)
    mask = np.asarray(eligible, dtype=bool)
    scores = np.zeros(values.shape, dtype=np.float64)
    pool = np.sort(values[mask])
    n = pool.size
    if n == 0:
        return scores
    if n == 1:
        scores[mask] = 100.0
        return scores
    chosen = values[mask]
    below = np.searchsorted(pool, chosen, side="left")
    equal_others = np.searchsorted(pool, chosen, side="right") - below - 1
    scores[mask] = 100.0 * (below + 0.5 * equal_others) / (n - 1)
    return scores
