"""How a report reads a period: whole UTC days from the rollups, partial days from hourly rows.

A row counts when its hour lies in ``[start, end)``; the daily rollups are the exact
sums of the hourly rows by UTC day, so both paths give the same answers. Every
source is scoped by ``guild_id`` and can leave out members who opted out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import sqlalchemy as sa

from db.privacy import not_opted_out
from db.series import VOICE_BUCKETS

DAY: Final = timedelta(days=1)
# Periods longer than this read the daily rollups for their whole UTC days.
ROLLUP_AFTER: Final = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Span:
    """How a period is read: whole UTC days ``[day_start, day_end)`` from rollups, the rest from hourly rows."""

    start: datetime
    end: datetime
    day_start: datetime | None = None
    day_end: datetime | None = None

    @property
    def uses_rollups(self) -> bool:
        """Whether any whole day is read from the daily rollups."""
        return self.day_start is not None


def split_period(start: datetime, end: datetime, rollups: bool | None = None) -> Span:
    """The reading plan of ``[start, end)``: rollups for long periods (or as ``rollups`` forces)."""
    if rollups is None:
        rollups = end - start > ROLLUP_AFTER
    if not rollups:
        return Span(start, end)
    first = _floor_day(start)
    if first < start:
        first += DAY
    last = _floor_day(end)
    if last <= first:
        return Span(start, end)
    return Span(start, end, first, last)


def _floor_day(moment: datetime) -> datetime:
    """The UTC midnight at or before ``moment``."""
    utc = moment.astimezone(UTC)
    return utc.replace(hour=0, minute=0, second=0, microsecond=0)


# -- building blocks ------------------------------------------------------------------------


def hour_ranges(span: Span) -> list[tuple[datetime, datetime]]:
    """The stretches of the span read from hourly rows: all of it, or its partial days at each edge.

    Separate ranges rather than one OR, so that TimescaleDB excludes the chunks in between.
    """
    if span.day_start is None or span.day_end is None:
        return [(span.start, span.end)]
    return [(a, b) for a, b in ((span.start, span.day_start), (span.day_end, span.end)) if a < b]


def whole_days(span: Span) -> Span | None:
    """The span's whole UTC days read from the rollups, as a span of its own (None without)."""
    if span.day_start is None or span.day_end is None:
        return None
    return Span(span.day_start, span.day_end, span.day_start, span.day_end)


def edges(span: Span) -> list[Span]:
    """The parts of the span read from hourly rows, as spans of their own."""
    return [Span(a, b) for a, b in hour_ranges(span)]


@dataclass(frozen=True, slots=True)
class Only:
    """Filters on a series' rows: some channels, one member."""

    channels: Sequence[int] | None = None
    user_id: int | None = None

    def on(self, table: sa.Table) -> list[sa.ColumnElement[bool]]:
        """The conditions against ``table``."""
        out: list[sa.ColumnElement[bool]] = []
        if self.channels is not None:
            out.append(table.c.channel_id.in_(list(self.channels)))
        if self.user_id is not None:
            out.append(table.c.user_id == self.user_id)
        return out


def series_rows(
    hourly: sa.Table,
    daily: sa.Table | None,
    guild_id: int,
    span: Span,
    columns: dict[str, str],
    only: Only = Only(),
    *,
    optouts: bool = True,
) -> sa.Subquery:
    """Rows ``(ts, <columns>…)`` of a series over the span: hourly edges plus daily rollups.

    ``columns`` maps an output name to an expression over the row (same column names
    in the hourly and daily tables). ``optouts=False`` leaves the opt-out filter to
    the caller, who applies it once per member after grouping (far fewer lookups).
    """
    parts = [
        select_rows(hourly, "hour", guild_id, columns, only.on(hourly), optouts).where(
            hourly.c.hour >= a, hourly.c.hour < b
        )
        for a, b in hour_ranges(span)
    ]
    if daily is not None and span.day_start is not None and span.day_end is not None:
        sel = select_rows(daily, "day", guild_id, columns, only.on(daily), optouts)
        parts.append(sel.where(daily.c.day >= span.day_start, daily.c.day < span.day_end))
    if not parts:  # an empty span: an empty row set of the right shape
        parts.append(select_rows(hourly, "hour", guild_id, columns, only.on(hourly), optouts).where(sa.false()))
    if len(parts) == 1:
        return parts[0].subquery()
    return sa.union_all(*parts).subquery()


def select_rows(
    table: sa.Table,
    time_col: str,
    guild_id: int,
    columns: dict[str, str],
    where: Sequence[sa.ColumnElement[bool]],
    optouts: bool = True,
) -> sa.Select[tuple[object, ...]]:
    """One side of ``_rows``: the guild's rows of one table with the named expressions."""
    exprs = [table.c[time_col].label("ts")]
    for name, expr in columns.items():
        exprs.append(sum_expr(table, expr).label(name))
    sel = sa.select(*exprs).where(table.c.guild_id == guild_id, *where)
    if optouts and "user_id" in table.c:
        sel = sel.where(not_opted_out(guild_id, table.c.user_id))
    return sel


def sum_expr(table: sa.Table, expr: str) -> sa.ColumnElement[int]:
    """A column, a sum of columns (``a+b``) or a literal ``0`` of ``table``."""
    if expr == "0":
        return sa.literal(0, sa.BigInteger)
    names = expr.split("+")
    result: sa.ColumnElement[int] = table.c[names[0]]
    for name in names[1:]:
        result = result + table.c[name]
    return result


VOICE_SUM: Final = "+".join(VOICE_BUCKETS)
