"""Configured events (``/config event``): add, list and remove rows of the ``events`` table.

The other settings live in ``guild_settings`` (db/guilds.py); reads of events for the
scheduler are in db/events.py.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db import tables as t
from db.events import EventConfig, list_events

__all__ = ["EventConfig", "add_event", "list_events", "remove_events"]


async def add_event(
    engine: AsyncEngine, guild_id: int, *, start_time: str, minutes: int, days: int, channels: dict[str, Any]
) -> int:
    """Store an event; returns its id."""
    e = t.events
    async with engine.begin() as conn:
        result = await conn.execute(
            sa.insert(e)
            .values(guild_id=guild_id, start_time=start_time, minutes=minutes, days=days, channels=json.dumps(channels))
            .returning(e.c.id)
        )
        return int(result.scalar_one())


async def remove_events(engine: AsyncEngine, guild_id: int, start_time: str) -> int:
    """Delete the guild's events starting at ``start_time`` (HH:MM); returns how many."""
    e = t.events
    async with engine.begin() as conn:
        result = await conn.execute(sa.delete(e).where(e.c.guild_id == guild_id, e.c.start_time == start_time))
    return result.rowcount or 0
