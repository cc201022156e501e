"""Activity-role rules (``/roles``): stored rules, and the daily activity a rule is evaluated on.

A rule is one row of ``role_rules`` (one rule per role). The metrics come from the
set-based reads the mentor views already use: ``MentorData.guild_days`` (members ×
local days of messages and active voice seconds, from ``member_daily`` for whole
UTC days and the hourly tables otherwise) and the voice sessions of the window
(``db.voice.sessions_between``) for event minutes. Opted-out members are left out
by those reads; stores no member data of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from db import tables as t
from db.days import ACTIVE_VOICE_SECONDS, active_days_mask, local_days
from db.mentor import DailyActivity, MentorData, _local_hour_rows, is_utc
from db.privacy import opted_out_ids
from db.rollups import day_start
from db.voice import Interval, sessions_between

__all__ = [
    "DailyActivity",
    "Interval",
    "PeriodSums",
    "RoleRule",
    "add_rule",
    "enable_rules",
    "get_rule",
    "list_rules",
    "period_sums",
    "remove_rule",
    "rule_guilds",
    "window_sessions",
]  # fmt: skip


IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RoleRule:
    """A stored activity-role rule."""

    id: int
    guild_id: int
    role_id: int
    metric: str
    kind: str
    value: int
    days: int
    weeks: int | None
    enabled: bool = False


def _rule(row: Any) -> RoleRule:
    m = row._mapping
    weeks = m["weeks"]
    return RoleRule(
        int(m["id"]), int(m["guild_id"]), int(m["role_id"]), str(m["metric"]), str(m["kind"]),
        int(m["value"]), int(m["days"]), None if weeks is None else int(weeks), bool(m["enabled"]),
    )  # fmt: skip


_COLUMNS = (
    t.role_rules.c.id,
    t.role_rules.c.guild_id,
    t.role_rules.c.role_id,
    t.role_rules.c.metric,
    t.role_rules.c.kind,
    t.role_rules.c.value,
    t.role_rules.c.days,
    t.role_rules.c.weeks,
    t.role_rules.c.enabled,
)


async def add_rule(
    engine: AsyncEngine,
    guild_id: int,
    role_id: int,
    *,
    metric: str,
    kind: str,
    value: int,
    days: int,
    weeks: int | None,
    now: datetime,
) -> RoleRule | None:
    """Store a rule; None when the role already has one."""
    r = t.role_rules
    values = {"guild_id": guild_id, "role_id": role_id, "metric": metric, "kind": kind, "value": value,
              "days": days, "weeks": weeks, "created_at": now}  # fmt: skip
    try:
        async with engine.begin() as conn:
            result = await conn.execute(sa.insert(r).values(**values).returning(r.c.id))
            rule_id = int(result.scalar_one())
    except IntegrityError:
        return None
    return RoleRule(rule_id, guild_id, role_id, metric, kind, value, days, weeks)


async def list_rules(engine: AsyncEngine, guild_id: int) -> list[RoleRule]:
    """The guild's rules, oldest first."""
    r = t.role_rules
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(*_COLUMNS).where(r.c.guild_id == guild_id).order_by(r.c.id))).all()
    return [_rule(row) for row in rows]


async def get_rule(engine: AsyncEngine, guild_id: int, rule_id: int) -> RoleRule | None:
    """One rule of the guild (never another guild's)."""
    r = t.role_rules
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(*_COLUMNS).where(r.c.guild_id == guild_id, r.c.id == rule_id))).first()
    return None if row is None else _rule(row)


async def remove_rule(engine: AsyncEngine, guild_id: int, rule_id: int) -> RoleRule | None:
    """Delete a rule of the guild; the rule it was, or None."""
    rule = await get_rule(engine, guild_id, rule_id)
    if rule is not None:
        r = t.role_rules
        async with engine.begin() as conn:
            await conn.execute(sa.delete(r).where(r.c.guild_id == guild_id, r.c.id == rule_id))
    return rule


async def enable_rules(engine: AsyncEngine, guild_id: int, rule_ids: list[int]) -> None:
    """Turn rules on (the first /roles apply of a rule): the hourly pass applies them from then on."""
    r = t.role_rules
    async with engine.begin() as conn:
        await conn.execute(sa.update(r).where(r.c.guild_id == guild_id, r.c.id.in_(rule_ids)).values(enabled=True))


async def rule_guilds(engine: AsyncEngine) -> frozenset[int]:
    """The guilds with at least one enabled rule (what the hourly pass visits)."""
    r = t.role_rules
    stmt = sa.select(r.c.guild_id).where(r.c.enabled.is_(True)).distinct()
    async with engine.connect() as conn:
        return frozenset(int(g) for g in (await conn.execute(stmt)).scalars())


RULE_METRICS: Final = ("messages", "voice", "active_days")


@dataclass(frozen=True, slots=True)
class PeriodSums:
    """One metric per member and period of a rule's window, oldest period first (voice in seconds)."""

    member_ids: IntArray
    values: FloatArray


async def period_sums(
    data: MentorData, guild_id: int, start: datetime, end: datetime, tz: ZoneInfo, period_days: int, metric: str
) -> PeriodSums:
    """Every member's ``metric`` (messages, active voice seconds or active days) per period of ``period_days``
    local days of ``[start, end)`` (``start`` a local midnight, the newest period ending on the last day),
    opted-out members left out: what a threshold or top rule compares.

    On PostgreSQL the server sums, one row per member with one filtered sum per period
    (a group per member, not per member and day): whole UTC days from ``member_daily``
    when the guild's days are UTC days, the hourly tables (summed per local day first)
    otherwise and for today. Only the rule's metric is summed. SQLite folds the day
    matrices the mentor views read.
    """
    if metric not in RULE_METRICS:
        raise ValueError(f"not a rule metric read from activity: {metric}")
    n_days = len(local_days(start, end, tz))
    n_periods = max(1, -(-n_days // period_days))
    shift = n_days - n_periods * period_days  # <= 0: the oldest period may start before the window
    await data.days.close_through(guild_id, day_start(end.timestamp()))
    if data.engine.dialect.name != "postgresql":
        return _folded(await data.guild_days(guild_id, start, end, tz), period_days, n_periods, metric)
    hidden = sorted(await opted_out_ids(data.engine, guild_id))
    first = start.astimezone(tz).date()
    # Local day indexes [lo, hi) of each period, counted from ``first``.
    bounds = [(shift + p * period_days, shift + (p + 1) * period_days) for p in range(n_periods)]
    parts: list[PeriodSums] = []
    cut = start
    async with data.engine.connect() as conn:
        if is_utc(tz):
            cut = max(start, min(end, datetime.fromtimestamp(day_start(end.timestamp()), UTC)))
            if cut > start:
                d = t.member_daily
                at = [(start + timedelta(days=lo), start + timedelta(days=hi)) for lo, hi in bounds]
                sums = [
                    _metric_sum(metric, d.c.messages, d.c.active_s, sa.and_(d.c.day >= a, d.c.day < b)) for a, b in at
                ]
                stmt = (
                    sa.select(d.c.user_id, *sums)
                    .where(d.c.guild_id == guild_id, d.c.day >= start, d.c.day < cut, d.c.user_id.not_in(hidden))
                    .group_by(d.c.user_id)
                )
                parts.append(_from_rows((await conn.execute(stmt)).all(), n_periods))
        if cut < end:
            # Hourly rows (today, or every day of a guild in another timezone) summed per local day first.
            hours = _local_hour_rows(guild_id, cut, end, tz, hidden, first)
            per_day = (
                sa.select(
                    hours.c.user_id,
                    hours.c.idx,
                    sa.func.sum(hours.c.messages).label("messages"),
                    sa.func.sum(hours.c.active_s).label("active_s"),
                )
                .group_by(hours.c.user_id, hours.c.idx)
                .subquery()
            )
            idx = per_day.c.idx
            sums = [
                _metric_sum(metric, per_day.c.messages, per_day.c.active_s, sa.and_(idx >= lo, idx < hi))
                for lo, hi in bounds
            ]
            stmt = sa.select(per_day.c.user_id, *sums).group_by(per_day.c.user_id)
            parts.append(_from_rows((await conn.execute(stmt)).all(), n_periods))
    return _combined(parts, n_periods)


def _metric_sum(
    metric: str, messages: sa.ColumnElement[Any], active_s: sa.ColumnElement[Any], within: sa.ColumnElement[bool]
) -> sa.ColumnElement[Any]:
    """The metric summed over the rows of one period (each row one member's day)."""
    if metric == "active_days":
        return sa.func.count().filter(sa.and_(within, sa.or_(messages > 0, active_s >= ACTIVE_VOICE_SECONDS)))
    column = messages if metric == "messages" else active_s
    # Integer sums: a sum of bigint is numeric in PostgreSQL, several times slower per row.
    return sa.func.sum(sa.cast(column, sa.Integer)).filter(within)


def _from_rows(rows: Sequence[Sequence[Any]], n_periods: int) -> PeriodSums:
    """Member ids and the members × periods matrix of ``(user_id, sum_0, …)`` rows."""
    ids = np.fromiter((int(r[0]) for r in rows), np.int64, len(rows))
    flat = np.fromiter((float(v or 0) for r in rows for v in r[1:]), np.float64, len(rows) * n_periods)
    return PeriodSums(ids, flat.reshape(len(rows), n_periods))


def _combined(parts: list[PeriodSums], n_periods: int) -> PeriodSums:
    """The sums of parts (whole days and hourly edges) per member."""
    if not parts:
        return PeriodSums(np.zeros(0, dtype=np.int64), np.zeros((0, n_periods)))
    if len(parts) == 1:
        return parts[0]
    ids = np.concatenate([p.member_ids for p in parts])
    member_ids, at = np.unique(ids, return_inverse=True)
    values = np.zeros((member_ids.size, n_periods))
    np.add.at(values, at, np.concatenate([p.values for p in parts]))
    return PeriodSums(member_ids.astype(np.int64), values)


def _folded(days: DailyActivity, period_days: int, n_periods: int, metric: str) -> PeriodSums:
    """The metric per period from the day matrices, the newest period ending on the last day."""
    width = period_days * n_periods
    if metric == "active_days":
        matrix = np.asarray(active_days_mask(days.messages, days.active_s), dtype=np.float64)
    else:
        matrix = np.asarray(days.messages if metric == "messages" else days.active_s, dtype=np.float64)
    if matrix.shape[1] < width:
        matrix = np.pad(matrix, ((0, 0), (width - matrix.shape[1], 0)))
    matrix = matrix[:, matrix.shape[1] - width :]
    return PeriodSums(days.member_ids, matrix.reshape(matrix.shape[0], n_periods, period_days).sum(axis=2))


async def window_sessions(engine: AsyncEngine, guild_id: int, start: datetime, end: datetime) -> list[Interval]:
    """The voice sessions of members who did not opt out overlapping ``[start, end)``: one read for every
    event occurrence of a rule's window."""
    return await sessions_between(engine, guild_id, start, end)
