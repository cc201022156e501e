"""Catch-up and coverage (#16): high-water marks, ranges to catch up, live intervals and gaps.

Writes come through the counter buffer as records (``db.series.MARK``, ``CATCHUP``, ``LIVE``,
``GAP``) and land in the flush transaction of the counts they cover (``write_records``); the
reads here are what catch-up, ``/backfill``, reports and ``/export dataset:coverage`` need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db import tables as t
from db.dialect import insert_for
from db.series import CATCHUP, GAP, LIVE, MARK
from db.types import UTCDateTime, utc


class Range(NamedTuple):
    """A stretch of one channel's history to import: ids above ``cursor_id``, below ``until_id``."""

    channel_id: int
    until_id: int
    cursor_id: int


class Gap(NamedTuple):
    """A gap in a guild's live tracking and what catch-up recovered for it."""

    from_at: datetime
    to_at: datetime
    kind: str
    messages_recovered: int


def _epoch(value: Any, engine: AsyncEngine | AsyncConnection) -> int:
    """Epoch seconds of a stored time (SQLite's aggregates bypass the column type)."""
    if isinstance(value, str):
        value = UTCDateTime().process_result_value(value, engine.dialect)
    return int(value.timestamp())


# -- writes (inside the flush transaction) ----------------------------------------------------


async def write_records(conn: AsyncConnection, by_kind: Mapping[str, list[dict[str, Any]]]) -> None:
    """Merge a batch's coverage records: ranges first (their cursor reads the stored mark
    before this batch moves it), then marks (min first, max last), live intervals, gaps."""
    pg = conn.dialect.name == "postgresql"
    ranges = by_kind.get(CATCHUP.code)
    if ranges:
        await conn.execute(sa.text(_range_sql(pg)), ranges)
    insert = insert_for(conn)
    least = sa.func.least if pg else sa.func.min
    greatest = sa.func.greatest if pg else sa.func.max
    marks = by_kind.get(MARK.code)
    if marks:
        m = t.channel_marks
        stmt = insert(m)
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["guild_id", "channel_id"],
                set_={
                    "first_id": least(m.c.first_id, stmt.excluded.first_id),
                    "last_id": greatest(m.c.last_id, stmt.excluded.last_id),
                },
            ),
            marks,
        )
    live = by_kind.get(LIVE.code)
    if live:
        lv = t.coverage_live
        stmt = insert(lv)
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["guild_id", "started_at"],
                set_={"last_at": greatest(lv.c.last_at, stmt.excluded.last_at)},
            ),
            live,
        )
    gaps = by_kind.get(GAP.code)
    if gaps:
        g = t.coverage_gaps
        stmt = insert(g)
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["guild_id", "from_at"],
                set_={
                    "to_at": stmt.excluded.to_at,
                    "kind": stmt.excluded.kind,
                    "messages_recovered": greatest(g.c.messages_recovered, stmt.excluded.messages_recovered),
                },
            ),
            gaps,
        )


def _range_sql(pg: bool) -> str:
    """A range's upsert: a new range starts at least at the channel's stored mark; a cursor only moves on."""
    greatest = "GREATEST" if pg else "MAX"
    return (
        "INSERT INTO catchup_ranges (guild_id, channel_id, until_id, cursor_id, done) "
        "SELECT CAST(:guild_id AS BIGINT), CAST(:channel_id AS BIGINT), CAST(:until_id AS BIGINT), "
        f"{greatest}(CAST(:cursor_id AS BIGINT), COALESCE((SELECT m.last_id FROM channel_marks m "
        "WHERE m.guild_id = CAST(:guild_id AS BIGINT) AND m.channel_id = CAST(:channel_id AS BIGINT)), 0)), "
        "CAST(:done AS BOOLEAN) WHERE true "
        "ON CONFLICT (guild_id, channel_id, until_id) DO UPDATE SET "
        # The cursor as written, not the one raised to the mark: the mark has moved past the range.
        f"cursor_id = {greatest}(catchup_ranges.cursor_id, CAST(:cursor_id AS BIGINT)), "
        "done = (catchup_ranges.done OR excluded.done)"
    )


# -- reads -------------------------------------------------------------------------------------


async def marks(engine: AsyncEngine, guild_ids: Sequence[int] | None = None) -> dict[tuple[int, int], tuple[int, int]]:
    """Stored marks ``(guild, channel) -> (first_id, last_id)``, of some guilds or all."""
    m = t.channel_marks
    stmt = sa.select(m.c.guild_id, m.c.channel_id, m.c.first_id, m.c.last_id)
    if guild_ids is not None:
        stmt = stmt.where(m.c.guild_id.in_(list(guild_ids)))
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return {(int(g), int(c)): (int(f), int(la)) for g, c, f, la in rows}


async def first_marked(engine: AsyncEngine, guild_id: int, channel_id: int) -> int | None:
    """The first message id counted live or by catch-up in a channel, None when none was."""
    m = t.channel_marks
    stmt = sa.select(m.c.first_id).where(m.c.guild_id == guild_id, m.c.channel_id == channel_id)
    async with engine.connect() as conn:
        first = (await conn.execute(stmt)).scalar_one_or_none()
    return None if first is None else int(first)


async def last_live(engine: AsyncEngine) -> dict[int, int]:
    """Per guild, the end of its latest live interval (epoch seconds)."""
    lv = t.coverage_live
    stmt = sa.select(lv.c.guild_id, sa.func.max(lv.c.last_at)).group_by(lv.c.guild_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return {int(g): _epoch(last, engine) for g, last in rows}


async def open_ranges(engine: AsyncEngine, guild_id: int) -> list[Range]:
    """The ranges of a guild still to import, by channel and ``until_id``."""
    r = t.catchup_ranges
    stmt = (
        sa.select(r.c.channel_id, r.c.until_id, r.c.cursor_id)
        .where(r.c.guild_id == guild_id, sa.not_(r.c.done))
        .order_by(r.c.channel_id, r.c.until_id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [Range(int(c), int(u), int(cur)) for c, u, cur in rows]


def gaps_query(guild_id: int, start: datetime, end: datetime) -> sa.Select[Any]:
    """The gaps of a guild that overlap ``[start, end)``, oldest first (the CSV's columns)."""
    g = t.coverage_gaps
    return (
        sa.select(g.c.from_at, g.c.to_at, g.c.kind, g.c.messages_recovered)
        .where(g.c.guild_id == guild_id, g.c.from_at < end, g.c.to_at > start)
        .order_by(g.c.from_at)
    )


async def gaps(engine: AsyncEngine, guild_id: int, start: datetime, end: datetime) -> list[Gap]:
    """The gaps of a guild overlapping ``[start, end)``."""
    async with engine.connect() as conn:
        rows = (await conn.execute(gaps_query(guild_id, start, end))).all()
    return [Gap(f, to, str(k), int(n)) for f, to, k, n in rows]


async def recent_gaps(engine: AsyncEngine, since: int) -> dict[int, list[tuple[int, int, str, int]]]:
    """Per guild, the gaps ending after ``since`` (epoch seconds) as ``(from, to, kind, recovered)``, oldest first."""
    g = t.coverage_gaps
    stmt = (
        sa.select(g.c.guild_id, g.c.from_at, g.c.to_at, g.c.kind, g.c.messages_recovered)
        .where(g.c.to_at > utc(since))
        .order_by(g.c.guild_id, g.c.from_at)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    out: dict[int, list[tuple[int, int, str, int]]] = {}
    for guild_id, f, to, kind, n in rows:
        out.setdefault(int(guild_id), []).append((int(f.timestamp()), int(to.timestamp()), str(kind), int(n)))
    return out


class KnownMembers(NamedTuple):
    """What the stored joins say of a guild's members: every (member, joined_at), who is in, and since when
    the joins are meant to be complete (``tracked_from``, epoch seconds; None before the first live interval)."""

    joins: set[tuple[int, int]]
    present: set[int]
    tracked_from: int | None


async def known_members(engine: AsyncEngine, guild_id: int, now: int) -> KnownMembers:
    """The join rows of a guild: each (member, joined_at), and the members whose latest join is still open.

    Compared with the member list after a gap: a member in the list who joined after
    ``tracked_from`` with no row of their ``joined_at`` joined during a gap (this one or an
    earlier one whose recovery never finished); a member in ``present`` who is not in the list
    left. ``tracked_from`` is the start of the guild's first live interval, or the guild's
    retention cutoff when later (joins before it were deleted, not missed).
    """
    j, lv, gs = t.member_joins, t.coverage_live, t.guild_settings
    stmt = sa.select(j.c.user_id, j.c.joined_at, j.c.left_at).where(j.c.guild_id == guild_id)
    first = sa.select(sa.func.min(lv.c.started_at)).where(lv.c.guild_id == guild_id)
    days = sa.select(gs.c.retention_days).where(gs.c.guild_id == guild_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt.order_by(j.c.user_id, j.c.joined_at))).all()
        started = (await conn.execute(first)).scalar_one_or_none()
        retention_days = (await conn.execute(days)).scalar_one_or_none()
    joins: set[tuple[int, int]] = set()
    latest: dict[int, bool] = {}
    for user_id, joined_at, left_at in rows:
        joins.add((int(user_id), _epoch(joined_at, engine)))
        latest[int(user_id)] = left_at is None  # rows come oldest first: the last one wins
    tracked_from = None if started is None else _epoch(started, engine)
    if tracked_from is not None and retention_days:
        tracked_from = max(tracked_from, now - int(retention_days) * 86400)
    return KnownMembers(joins, {u for u, is_open in latest.items() if is_open}, tracked_from)
