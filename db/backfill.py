"""Reads of message-history import progress (writes go through the counter buffer)."""

from __future__ import annotations

from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db import tables as t
from db.types import UTCDateTime


class Progress(NamedTuple):
    """Where a channel's import stands: count below ``boundary_id``, continue below ``cursor_id``."""

    boundary_id: int
    cursor_id: int
    done: bool


async def progress(engine: AsyncEngine, guild_id: int) -> dict[int, Progress]:
    """The import progress of every channel of a guild, by channel id."""
    bp = t.backfill_progress
    stmt = sa.select(bp.c.channel_id, bp.c.boundary_id, bp.c.cursor_id, bp.c.done).where(bp.c.guild_id == guild_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return {int(c): Progress(int(b), int(cur), bool(d)) for c, b, cur, d in rows}


async def first_counted_hour(engine: AsyncEngine, guild_id: int, channel_id: int) -> int | None:
    """The first hour with stored message counts in a channel (epoch seconds), None when none."""
    mh = t.message_hourly
    stmt = sa.select(sa.func.min(mh.c.hour)).where(mh.c.guild_id == guild_id, mh.c.channel_id == channel_id)
    async with engine.connect() as conn:
        first = (await conn.execute(stmt)).scalar_one_or_none()
    if first is None:
        return None
    if isinstance(first, str):  # SQLite's min() bypasses the column type
        first = UTCDateTime().process_result_value(first, engine.dialect)
    return int(first.timestamp())
