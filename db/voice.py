"""Reads of stored voice sessions (writes go through the counter buffer)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db import tables as t
from db.privacy import not_opted_out


class StoredSession(NamedTuple):
    """A session as stored: times in whole epoch seconds; ``ended_at`` is its last checkpoint while open."""

    user_id: int
    started_at: int
    channel_id: int
    ended_at: int


class Interval(NamedTuple):
    """One stretch of a member in one voice channel, ``[start, end)`` in epoch seconds."""

    user_id: int
    channel_id: int
    start: int
    end: int


async def open_sessions(engine: AsyncEngine, guild_id: int) -> list[StoredSession]:
    """The sessions of a guild still marked open (left by a previous run, or by this one)."""
    vs = t.voice_sessions
    stmt = sa.select(vs.c.user_id, vs.c.started_at, vs.c.channel_id, vs.c.ended_at).where(
        vs.c.guild_id == guild_id, vs.c.open.is_(True)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [StoredSession(int(u), int(s.timestamp()), int(c), int(e.timestamp())) for u, s, c, e in rows]


async def sessions_between(engine: AsyncEngine, guild_id: int, start: datetime, end: datetime) -> list[Interval]:
    """Voice sessions overlapping ``[start, end)`` of members who did not opt out, as intervals.

    A session still open counts up to ``end`` when its last checkpoint is earlier: the
    member is still in the channel (the voice tracker closes stale ones at start).
    """
    vs = t.voice_sessions
    async with engine.connect() as conn:
        # The database hands back epoch seconds: converting each row's datetime in Python was
        # most of the query's cost on a busy guild.
        started_s, ended_s = (_epoch(conn.dialect.name, c) for c in (vs.c.started_at, vs.c.ended_at))
        stmt = sa.select(vs.c.user_id, vs.c.channel_id, started_s, ended_s, vs.c.open)
        rows = (await conn.execute(stmt.where(*_overlapping(guild_id, start, end)))).all()
    end_s = int(end.timestamp())
    return [
        Interval(int(user_id), int(channel_id), int(started), max(int(ended), end_s) if is_open else int(ended))
        for user_id, channel_id, started, ended, is_open in rows
    ]


async def sessions_version(engine: AsyncEngine, guild_id: int, start: datetime, end: datetime) -> tuple[int, ...]:
    """A value that moves whenever what ``sessions_between`` returns for ``[start, end)`` changes: the count
    of those sessions and the sums of their members, channels, start and end seconds and open flags (a
    session added, cut, closed, erased or hidden by an opt-out moves at least one), without reading them."""
    vs = t.voice_sessions
    async with engine.connect() as conn:
        started_s, ended_s = (_epoch(conn.dialect.name, c) for c in (vs.c.started_at, vs.c.ended_at))
        sums = (
            sa.func.coalesce(sa.func.sum(column), 0)
            for column in (vs.c.user_id % 1_000_003, vs.c.channel_id % 1_000_003, started_s, ended_s)
        )
        opened = sa.func.coalesce(sa.func.sum(sa.case((vs.c.open.is_(True), 1), else_=0)), 0)
        stmt = sa.select(sa.func.count(), *sums, opened).where(*_overlapping(guild_id, start, end))
        return tuple(int(v) for v in (await conn.execute(stmt)).one())


def _overlapping(guild_id: int, start: datetime, end: datetime) -> tuple[sa.ColumnElement[bool], ...]:
    """Voice sessions overlapping ``[start, end)`` (open ones from their start on) of members who did not opt out."""
    vs = t.voice_sessions
    return (
        vs.c.guild_id == guild_id,
        vs.c.started_at < end,
        sa.or_(vs.c.ended_at > start, vs.c.open.is_(True)),
        not_opted_out(guild_id, vs.c.user_id),
    )


def _epoch(dialect: str, column: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    """A stored time as whole epoch seconds, truncated as ``int(datetime.timestamp())`` does."""
    if dialect == "sqlite":
        # Stored as naive UTC text "YYYY-MM-DD HH:MM:SS.ffffff": strftime rounds to milliseconds,
        # so the fraction is cut off first to truncate exactly.
        return sa.cast(sa.func.strftime("%s", sa.func.substr(column, 1, 19)), sa.BigInteger)
    return sa.cast(sa.func.floor(sa.extract("epoch", column)), sa.BigInteger)
