"""Reads of stored voice sessions (writes go through the counter buffer)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db import tables as t
from db.privacy import not_opted_out
from db.types import aware


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
    stmt = sa.select(vs.c.user_id, vs.c.channel_id, vs.c.started_at, vs.c.ended_at, vs.c.open).where(
        vs.c.guild_id == guild_id,
        vs.c.started_at < end,
        sa.or_(vs.c.ended_at > start, vs.c.open.is_(True)),
        not_opted_out(guild_id, vs.c.user_id),
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    end_s = int(end.timestamp())
    out = []
    for user_id, channel_id, started, ended, is_open in rows:
        stop = max(int(aware(ended).timestamp()), end_s) if is_open else int(aware(ended).timestamp())
        out.append(Interval(int(user_id), int(channel_id), int(aware(started).timestamp()), stop))
    return out
