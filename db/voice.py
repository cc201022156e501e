"""Reads of stored voice sessions (writes go through the counter buffer)."""

from __future__ import annotations

from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db import tables as t


class StoredSession(NamedTuple):
    """A session as stored: times in whole epoch seconds; ``ended_at`` is its last checkpoint while open."""

    user_id: int
    started_at: int
    channel_id: int
    ended_at: int


async def open_sessions(engine: AsyncEngine, guild_id: int) -> list[StoredSession]:
    """The sessions of a guild still marked open (left by a previous run, or by this one)."""
    vs = t.voice_sessions
    stmt = sa.select(vs.c.user_id, vs.c.started_at, vs.c.channel_id, vs.c.ended_at).where(
        vs.c.guild_id == guild_id, vs.c.open.is_(True)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [StoredSession(int(u), int(s.timestamp()), int(c), int(e.timestamp())) for u, s, c, e in rows]
