"""Activity-role rules: which members a rule selects from members × local-days matrices, and the role changes.

A rule reads one metric per member and local day (the last column is today):

- ``threshold`` without ``weeks``: the metric summed over the last ``days`` days
  reaches ``value``;
- ``threshold`` with ``weeks``: it reaches ``value`` in each of the last ``weeks``
  consecutive periods of ``days`` days (``days:7 weeks:5``: every one of the last
  five weeks);
- ``top``: the ``value`` members with the largest sum over the last ``days`` days
  (above zero; ties go to the smaller member id, as on the /top leaderboard).

No Discord, no SQL: the cog fetches the matrices (db/mentor.py, the event sessions)
and applies the changes.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from bot.analytics.periods import AnalyticsError

METRICS: Final = ("messages", "voice", "active_days", "event_minutes")
KINDS: Final = ("threshold", "top")
METRIC_UNITS: Final = {"messages": "messages", "voice": "voice minutes", "active_days": "active days",
                       "event_minutes": "event minutes"}  # fmt: skip
MAX_WINDOW_DAYS: Final = 365
MAX_TOP: Final = 1000


class InvalidRule(AnalyticsError):
    """A rule's options do not make a rule (the message says why, for the admin)."""


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What a rule asks of a member; ``weeks`` only for thresholds."""

    metric: str
    kind: str
    value: int
    days: int
    weeks: int | None = None

    @property
    def window_days(self) -> int:
        """How many local days, ending today, the rule reads."""
        return self.days * (self.weeks or 1)

    def describe(self) -> str:
        """The rule in words, e.g. ``at least 10 messages in each of the last 5 periods of 7 days``."""
        unit = METRIC_UNITS[self.metric]
        span = "today" if self.days == 1 else f"the last {self.days} days"
        if self.kind == "top":
            return f"top {self.value} by {unit} over {span}"
        if self.weeks:
            period = "week" if self.days == 7 else f"period of {self.days} days"
            return f"at least {self.value} {unit} in each of the last {self.weeks} {period}s"
        return f"at least {self.value} {unit} over {span}"


def validate(spec: RuleSpec) -> RuleSpec:
    """The spec if it makes a rule, else ``InvalidRule`` with one sentence saying why."""
    if spec.metric not in METRICS:
        raise InvalidRule("The metric must be messages, voice, active_days or event_minutes.")
    if spec.kind not in KINDS:
        raise InvalidRule("The kind must be threshold or top.")
    if spec.days < 1:
        raise InvalidRule("days must be at least 1.")
    if spec.kind == "top":
        if spec.weeks is not None:
            raise InvalidRule("weeks only applies to threshold rules; a top rule ranks over the last days.")
        if not 1 <= spec.value <= MAX_TOP:
            raise InvalidRule(f"A top rule needs a value from 1 to {MAX_TOP} (how many members get the role).")
    elif spec.value < 1:
        raise InvalidRule("A threshold must be at least 1.")
    if spec.weeks is not None and spec.weeks < 1:
        raise InvalidRule("weeks must be at least 1.")
    if spec.metric == "active_days" and spec.kind == "threshold" and spec.value > spec.days:
        raise InvalidRule(f"Nobody can be active on {spec.value} of {spec.days} days; lower the value.")
    if spec.window_days > MAX_WINDOW_DAYS:
        raise InvalidRule(f"A rule can look back at most {MAX_WINDOW_DAYS} days (days × weeks).")
    return spec


def select(spec: RuleSpec, member_ids: npt.ArrayLike, per_day: npt.ArrayLike) -> frozenset[int]:
    """The members the rule selects: ``per_day`` is members × local days of the metric, today last.

    Fewer columns than the rule's window means the days before had nothing.
    """
    ids = np.asarray(member_ids, dtype=np.int64)
    values = np.atleast_2d(np.asarray(per_day, dtype=np.float64))
    if ids.size == 0:
        return frozenset()
    window = spec.window_days
    if values.shape[1] < window:
        values = np.pad(values, ((0, 0), (window - values.shape[1], 0)))
    values = values[:, values.shape[1] - window :]
    return select_periods(spec, ids, values.reshape(ids.size, spec.weeks or 1, spec.days).sum(axis=2))


def select_periods(spec: RuleSpec, member_ids: npt.ArrayLike, per_period: npt.ArrayLike) -> frozenset[int]:
    """The members the rule selects from their sums per period of ``days`` days: members × (``weeks`` or 1)
    columns, the oldest period first (what the database sums for a rule)."""
    ids = np.asarray(member_ids, dtype=np.int64)
    if ids.size == 0:
        return frozenset()
    sums = np.asarray(per_period, dtype=np.float64).reshape(ids.size, spec.weeks or 1)
    if spec.kind == "top":
        totals = sums.sum(axis=1)
        order = np.lexsort((ids, -totals))
        return frozenset(int(ids[i]) for i in order[: spec.value] if totals[i] > 0)
    # A small tolerance: voice minutes are seconds / 60.
    meets = (sums >= spec.value - 1e-9).all(axis=1)
    return frozenset(int(u) for u in ids[meets])


@dataclass(frozen=True, slots=True)
class RoleChanges:
    """Who gains and who loses a role now (sorted member ids)."""

    gain: tuple[int, ...]
    lose: tuple[int, ...]

    def __bool__(self) -> bool:
        return bool(self.gain or self.lose)


def role_changes(selected: Collection[int], holders: Collection[int], eligible: Collection[int]) -> RoleChanges:
    """What applying a rule changes: ``eligible`` members (in the guild, not bots) selected but without
    the role gain it; holders no longer selected lose it. Members outside ``eligible`` are never touched."""
    chosen, have, members = set(selected), set(holders), set(eligible)
    return RoleChanges(tuple(sorted((chosen & members) - have)), tuple(sorted((have & members) - chosen)))
