"""Small reads and writes the Bot itself needs at start and for privacy."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db import tables as t


async def optouts(engine: AsyncEngine) -> list[tuple[int, int]]:
    """Every (guild_id, user_id) that opted out."""
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(t.optouts.c.guild_id, t.optouts.c.user_id))
        return [(int(g), int(u)) for g, u in rows]
