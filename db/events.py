"""The event configuration (``/config event``) and its history.

``events`` holds the events configured now, read by the event-hour scheduler and
``/config event list``; ``event_history`` keeps every version of every event with the
time it was in force, so that a past week is judged (and named) by the events of that
week. ``add_event`` and ``remove_events`` write both tables in one transaction. The
exactly-once claims of the posts are in db/posted.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db import tables as t


@dataclass(frozen=True, slots=True)
class EventConfig:
    """A configured event: local start, length, weekdays, which voice channels count, and its name."""

    id: int
    guild_id: int
    start_time: str
    minutes: int
    days: int
    channel_ids: tuple[int, ...] = ()
    pattern: str | None = None
    name: str | None = None  # shown in its reports; None: "Event 07:00 (60 min)"


def parse_channels(text: str) -> tuple[tuple[int, ...], str | None]:
    """The ``channels`` JSON: ``{"ids": [...]}`` or ``{"pattern": "..."}`` (anything else: no channels)."""
    try:
        data: Any = json.loads(text)
    except ValueError:
        return (), None
    if not isinstance(data, dict):
        return (), None
    ids = data.get("ids")
    pattern = data.get("pattern")
    channel_ids = tuple(int(i) for i in ids) if isinstance(ids, list) else ()
    return channel_ids, pattern if isinstance(pattern, str) and pattern else None


async def list_events(engine: AsyncEngine, guild_id: int) -> list[EventConfig]:
    """The guild's configured events, by id."""
    e = t.events
    stmt = sa.select(e.c.id, e.c.start_time, e.c.minutes, e.c.days, e.c.channels, e.c.name)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt.where(e.c.guild_id == guild_id).order_by(e.c.id))).all()
    return [_config(guild_id, *row) for row in rows]


def _config(
    guild_id: int, event_id: int, start_time: str, minutes: int, days: int, channels: str, name: str | None
) -> EventConfig:
    """An ``events`` or ``event_history`` row as an EventConfig."""
    ids, pattern = parse_channels(channels)
    return EventConfig(int(event_id), guild_id, start_time, int(minutes), int(days), ids, pattern, name or None)


@dataclass(frozen=True, slots=True)
class EventVersion:
    """An event as it was configured from ``valid_from`` until ``valid_to`` (None: still in force)."""

    event: EventConfig
    valid_from: datetime
    valid_to: datetime | None

    def in_force(self, moment: datetime) -> bool:
        """Whether this version was the configuration at ``moment``."""
        return self.valid_from <= moment and (self.valid_to is None or moment < self.valid_to)


async def add_event(
    engine: AsyncEngine,
    guild_id: int,
    *,
    start_time: str,
    minutes: int,
    days: int,
    channels: dict[str, Any],
    now: datetime,
    name: str | None = None,
) -> int:
    """Store an event and the start of its history in one transaction; returns its id."""
    e, h = t.events, t.event_history
    values = {
        "guild_id": guild_id,
        "start_time": start_time,
        "minutes": minutes,
        "days": days,
        "channels": json.dumps(channels),
        "name": name,
    }
    async with engine.begin() as conn:
        event_id = int((await conn.execute(sa.insert(e).values(**values).returning(e.c.id))).scalar_one())
        await conn.execute(sa.insert(h).values(event_id=event_id, valid_from=now, valid_to=None, **values))
    return event_id


async def remove_events(engine: AsyncEngine, guild_id: int, start_time: str, now: datetime) -> int:
    """Delete the guild's events starting at ``start_time`` (HH:MM) and end their history at ``now``; how many."""
    e, h = t.events, t.event_history
    async with engine.begin() as conn:
        ids = [
            int(i)
            for i in (
                await conn.execute(sa.select(e.c.id).where(e.c.guild_id == guild_id, e.c.start_time == start_time))
            ).scalars()
        ]
        if not ids:
            return 0
        await conn.execute(sa.delete(e).where(e.c.guild_id == guild_id, e.c.id.in_(ids)))
        # The history keeps the removed events, so that past weeks are judged and named by them.
        await conn.execute(
            sa.update(h)
            .where(h.c.guild_id == guild_id, h.c.event_id.in_(ids), h.c.valid_to.is_(None))
            .values(valid_to=now)
        )
    return len(ids)


async def event_versions(engine: AsyncEngine, guild_id: int, start: datetime, end: datetime) -> list[EventVersion]:
    """The event versions of the guild in force at some moment of ``[start, end)``, oldest first."""
    h = t.event_history
    stmt = (
        sa.select(
            h.c.event_id, h.c.start_time, h.c.minutes, h.c.days, h.c.channels, h.c.name, h.c.valid_from, h.c.valid_to
        )
        .where(
            h.c.guild_id == guild_id,
            h.c.valid_from < end,
            sa.or_(h.c.valid_to.is_(None), h.c.valid_to > start),
        )
        .order_by(h.c.valid_from, h.c.id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [EventVersion(_config(guild_id, *row[:6]), row.valid_from, row.valid_to) for row in rows]


async def stored_channel_names(engine: AsyncEngine, guild_id: int) -> dict[int, str]:
    """Channel names the bot stored for the guild (channels deleted since keep theirs)."""
    c = t.channels
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(c.c.channel_id, c.c.name).where(c.c.guild_id == guild_id))).all()
    return {int(i): str(n) for i, n in rows}
