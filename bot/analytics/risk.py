"""Drop-off risk: is a member drifting away from their own usual rhythm?

Each member is compared with themselves, never with the rest of the guild. The
input is their daily activity over the local days of a window, today last (pass
at least 35 days: 28 to learn the rhythm, 7 to compare). A day is active as in
``activity`` (a message, or 60 s of active voice).

The figures behind the rules, for each member:

- *history*: days since the member's first day in the guild, or, when that is
  not known, since their first active day in the window;
- *silence*: days since their last active day (0 when active today);
- *baseline*: the up to 4 whole weeks of history before the last 7 days or, for
  a member silent for longer, before their last active day (so that a long
  silence does not wear down the rate it is judged by, and the risk of a member
  who stays away does not go down as days pass); whole weeks, so that a member
  who is never around at weekends is not judged on weekdays alone;
- *usual rate*: the share of active days in the baseline; "usually about 5 of 7
  days" is that rate × 7;
- *recent*: active days in the last 7 days;
- *chance of the silence*: (1 - usual rate) ^ silence, how often a silence this
  long would happen by chance to someone with their usual rate.

The rules, first match wins:

1. no active day in the window: ``low`` (nothing to drift away from);
2. a baseline under 2 weeks: ``low``, too little history to compare with (a new
   member: under 3 weeks since joining, or one who went quiet soon after);
3. ``high``: usually active at least 3 of 7 days, silent for at least 9 days,
   and the chance of that silence at most 0.1 %
   ("usually active about 5 of 7 days, none in the last 9 days"; at 3 of 7 days
   a week it takes 13 silent days);
4. ``medium``: silent for at least 7 days and the chance of that silence at most
   2 %: a gap that is long for them, whatever their usual rate (at 1 of 7 days a
   week that takes 26 silent days);
5. ``medium``: usually active at least 3 of 7 days, active on at most half as many
   days as usual in the last 7, and a week that quiet has at most a 1 % chance at
   their usual rate (binomial) ("active 1 of the last 7 days, usually about 5");
6. otherwise ``low``: rarely active members (under 2 of 7 days, and at most 1 in
   the last 7) are expected to come and go, and everyone else is behaving as
   usual or better (a member coming back reads "more than their usual").

The chance bars are strict because the test runs on every member at once: at a
5 % bar, one steady or occasional member in twenty would be on the watchlist by
chance alone. In synthetic guilds of steady, fading, returning, new and
irregular members (``tests/unit/analytics/test_cohort.py``), these bars catch
over 90 % of the fading members with over 85 % of the watchlist being fading
ones. A steady member who really does go silent for 10 days can still be
flagged ``high``: from the outside that is what drifting away looks like.

So a new member is never flagged, and a member who was never regular can only
reach ``medium``, and only for a silence that is unusually long for them. Making
recent days quieter never lowers the risk while the baseline stays the same.

Only *days* count, not how much was said on them: a member's weekly volume swings
with a single long voice evening, and rules on it flagged steady members in
synthetic guilds several times more often than real drops. A fall in volume shows
on the mentor card as the trend word instead (``activity.trend``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

import numpy as np
import numpy.typing as npt

from db.days import active_days_mask

RECENT_DAYS: Final = 7
BASELINE_DAYS: Final = 28
MIN_BASELINE_DAYS: Final = 14
MIN_SILENCE_DAYS: Final = 7
REGULAR_RATE: Final = 3 / 7
OCCASIONAL_RATE: Final = 2 / 7
HIGH_SILENCE_CHANCE: Final = 0.001
MIN_HIGH_SILENCE_DAYS: Final = 9
MEDIUM_SILENCE_CHANCE: Final = 0.02
FEWER_DAYS_CHANCE: Final = 0.01
FEWER_DAYS_SHARE: Final = 0.5

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class RiskLevel(IntEnum):
    """Drop-off risk, ordered so that a higher value is a higher risk."""

    LOW = 0
    MEDIUM = 1
    HIGH = 2

    @property
    def word(self) -> str:
        """The level as shown to mentors: ``low``, ``medium`` or ``high``."""
        return self.name.lower()


class RiskRule(IntEnum):
    """Which rule of the module docstring decided a member's risk."""

    NO_ACTIVITY = 1
    NEW_MEMBER = 2
    SILENT_REGULAR = 3
    LONG_SILENCE = 4
    FEWER_DAYS = 5
    OCCASIONAL = 6
    AS_USUAL = 7


_RULE_LEVEL: Final = {
    RiskRule.NO_ACTIVITY: RiskLevel.LOW,
    RiskRule.NEW_MEMBER: RiskLevel.LOW,
    RiskRule.SILENT_REGULAR: RiskLevel.HIGH,
    RiskRule.LONG_SILENCE: RiskLevel.MEDIUM,
    RiskRule.FEWER_DAYS: RiskLevel.MEDIUM,
    RiskRule.OCCASIONAL: RiskLevel.LOW,
    RiskRule.AS_USUAL: RiskLevel.LOW,
}


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    """One member's drop-off risk, the rule that decided it and the reason in words."""

    level: RiskLevel
    rule: RiskRule
    reason: str
    silent_days: int


@dataclass(frozen=True, slots=True)
class WatchlistEntry:
    """A member at medium or high risk, for the mentor watchlist."""

    member_id: int
    level: RiskLevel
    silent_days: int
    reason: str


@dataclass(frozen=True, slots=True)
class GuildRisk:
    """Drop-off risk of every member of a guild, one array element per member; reasons are built on demand."""

    member_ids: IntArray
    level: IntArray
    rule: IntArray
    silent_days: IntArray
    history_days: IntArray
    baseline_days: IntArray
    recent_active_days: IntArray
    usual_days_per_week: FloatArray

    def __len__(self) -> int:
        """Number of members assessed."""
        return int(self.member_ids.size)

    def reason(self, index: int) -> str:
        """The reason in words for the member at ``index``."""
        rule = RiskRule(int(self.rule[index]))
        silent = int(self.silent_days[index])
        usual = _per_week(float(self.usual_days_per_week[index]))
        recent = int(self.recent_active_days[index])
        if rule is RiskRule.NO_ACTIVITY:
            return "no activity in the period"
        if rule is RiskRule.NEW_MEMBER:
            history = int(self.history_days[index])
            if silent < MIN_SILENCE_DAYS or history < MIN_BASELINE_DAYS + RECENT_DAYS:
                return f"new: only {_days(history)} of history, too few to compare"
            baseline = _days(int(self.baseline_days[index]))
            return f"silent for {_days(silent)}, but only {baseline} of history before that, too few to compare"
        if rule is RiskRule.SILENT_REGULAR:
            return f"usually active about {usual} of 7 days, none in the last {_days(silent)}"
        if rule is RiskRule.LONG_SILENCE:
            return f"no activity in the last {_days(silent)}, a long gap for them (usually about {usual} of 7 days)"
        if rule is RiskRule.FEWER_DAYS:
            return f"active {recent} of the last 7 days, usually about {usual}"
        if rule is RiskRule.OCCASIONAL:
            return f"rarely active (about {usual} of 7 days), nothing unusual"
        if recent >= float(self.usual_days_per_week[index]) + 2:
            return f"active {recent} of the last 7 days, more than their usual {usual}"
        return f"active {recent} of the last 7 days, usually about {usual}"

    def assessment(self, index: int) -> RiskAssessment:
        """The full assessment of the member at ``index``."""
        return RiskAssessment(
            level=RiskLevel(int(self.level[index])),
            rule=RiskRule(int(self.rule[index])),
            reason=self.reason(index),
            silent_days=int(self.silent_days[index]),
        )

    def watchlist(self, limit: int | None = None) -> list[WatchlistEntry]:
        """Members at medium or high risk: high first, then the longest silent, then by member id."""
        flagged = np.flatnonzero(self.level >= RiskLevel.MEDIUM)
        order = np.lexsort((self.member_ids[flagged], -self.silent_days[flagged], -self.level[flagged]))
        chosen = flagged[order][:limit]
        return [
            WatchlistEntry(
                member_id=int(self.member_ids[i]),
                level=RiskLevel(int(self.level[i])),
                silent_days=int(self.silent_days[i]),
                reason=self.reason(int(i)),
            )
            for i in chosen
        ]


def assess_guild(
    messages: npt.ArrayLike,
    voice_active_s: npt.ArrayLike,
    member_ids: npt.ArrayLike | None = None,
    history_start: npt.ArrayLike | None = None,
) -> GuildRisk:
    """Drop-off risk of every member from members × local-days matrices of messages and active voice seconds.

    The last column is today. ``member_ids`` label the rows (default 0..n-1).
    ``history_start`` gives, per member, the column of their first day in the
    guild (negative when before the window); without it each member's first
    active day stands in.
    """
    msg = np.atleast_2d(np.asarray(messages))
    voice = np.atleast_2d(np.asarray(voice_active_s))
    if msg.shape != voice.shape:
        raise ValueError("messages and voice_active_s must have the same shape")
    active = active_days_mask(msg, voice)
    n_members, n_days = active.shape
    ids = np.arange(n_members, dtype=np.int64) if member_ids is None else np.asarray(member_ids, dtype=np.int64)
    rows = np.arange(n_members)

    any_active = active.any(axis=1)
    first_active = np.where(any_active, np.argmax(active, axis=1), n_days)
    last_active = np.where(any_active, n_days - 1 - np.argmax(active[:, ::-1], axis=1), -1)
    silent = (n_days - 1 - last_active).astype(np.int64)
    known_start = None if history_start is None else np.clip(np.asarray(history_start, dtype=np.int64), 0, n_days)
    start = first_active if known_start is None else known_start
    history = (n_days - start).astype(np.int64)

    # Cumulative active days with a leading zero column: days in [a, b) = cum[b] - cum[a].
    active_cum = np.zeros((n_members, n_days + 1), dtype=np.int32)
    np.cumsum(active, axis=1, out=active_cum[:, 1:])

    recent_start = max(0, n_days - RECENT_DAYS)
    recent_days = active_cum[:, n_days] - active_cum[:, recent_start]
    # The baseline ends where the recent week begins or, for a longer silence, just
    # before the last active day: a long silence must not wear down the rate it is
    # judged by, and a window chosen to end on an active day would overstate it.
    base_end = np.maximum(np.where(last_active >= recent_start - 1, recent_start, last_active), 0)
    available = np.clip(base_end - np.maximum(start, 0), 0, BASELINE_DAYS)
    # Whole weeks only, so that every weekday weighs the same in the rate.
    base_len = (available // 7 * 7).astype(np.int64)
    base_start = base_end - base_len
    base_active = active_cum[rows, base_end] - active_cum[rows, base_start]
    rate = np.where(base_len > 0, base_active / np.maximum(base_len, 1), 0.0)
    silence_chance = np.power(1.0 - rate, silent)

    regular = rate >= REGULAR_RATE
    long_silence = silent >= MIN_SILENCE_DAYS
    conditions = [
        ~any_active,
        base_len < MIN_BASELINE_DAYS,
        regular & (silent >= MIN_HIGH_SILENCE_DAYS) & (silence_chance <= HIGH_SILENCE_CHANCE),
        long_silence & (silence_chance <= MEDIUM_SILENCE_CHANCE),
        regular
        & (recent_days <= FEWER_DAYS_SHARE * rate * RECENT_DAYS)
        & (_binomial_cdf(recent_days, RECENT_DAYS, rate) <= FEWER_DAYS_CHANCE),
        (rate < OCCASIONAL_RATE) & (recent_days <= 1),
    ]
    rules = [
        RiskRule.NO_ACTIVITY,
        RiskRule.NEW_MEMBER,
        RiskRule.SILENT_REGULAR,
        RiskRule.LONG_SILENCE,
        RiskRule.FEWER_DAYS,
        RiskRule.OCCASIONAL,
    ]
    rule = np.select(conditions, [int(r) for r in rules], default=int(RiskRule.AS_USUAL)).astype(np.int64)
    level_of_rule = np.zeros(max(RiskRule) + 1, dtype=np.int64)
    for r, lvl in _RULE_LEVEL.items():
        level_of_rule[r] = lvl
    return GuildRisk(
        member_ids=ids,
        level=level_of_rule[rule],
        rule=rule,
        silent_days=silent,
        history_days=history,
        baseline_days=base_len,
        recent_active_days=recent_days.astype(np.int64),
        usual_days_per_week=(rate * RECENT_DAYS).astype(np.float64),
    )


def assess_member(
    messages: npt.ArrayLike, voice_active_s: npt.ArrayLike, history_start: int | None = None
) -> RiskAssessment:
    """Drop-off risk of one member from their daily messages and active voice seconds, today last."""
    starts = None if history_start is None else [history_start]
    return assess_guild(
        np.asarray(messages)[np.newaxis, :], np.asarray(voice_active_s)[np.newaxis, :], history_start=starts
    ).assessment(0)


def _binomial_cdf(successes: IntArray, trials: int, rate: FloatArray) -> FloatArray:
    """P(X <= successes) for X ~ Binomial(trials, rate), element-wise."""
    total = np.zeros(rate.shape, dtype=np.float64)
    for k in range(trials + 1):
        term = math.comb(trials, k) * np.power(rate, k) * np.power(1.0 - rate, trials - k)
        total += np.where(successes >= k, term, 0.0)
    return total


def _per_week(days: float) -> str:
    """A days-per-week figure as mentors read it: ``5``, ``4.5``."""
    rounded = math.floor(days * 2 + 0.5) / 2
    return f"{rounded:.0f}" if rounded == int(rounded) else f"{rounded:.1f}"


def _days(count: int) -> str:
    """``1 day`` or ``N days``."""
    return "1 day" if count == 1 else f"{count} days"
