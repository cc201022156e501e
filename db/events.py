"""Event-hour and weekly-report reads, and the posted_reports claims that make each post go out once.

Reads the ``events`` table (written by /config event) and ``posted_reports``: a
scheduler claims a report by inserting its row (insert-if-absent) before posting;
only the process whose insert succeeded posts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from db import tables as t


@dataclass(frozen=True, slots=True)
class EventConfig:
    """A configured event: local start, length, weekdays and which voice channels count."""

    id: int
    guild_id: int
    start_time: str
    minutes: int
    days: int
    channel_ids: tuple[int, ...] = ()
    pattern: str | None = None


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
    stmt = sa.select(e.c.id, e.c.start_time, e.c.minutes, e.c.days, e.c.channels).where(e.c.guild_id == guild_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt.order_by(e.c.id))).all()
    out = []
    for event_id, start_time, minutes, days, channels in rows:
        ids, pattern = parse_channels(channels)
        out.append(EventConfig(int(event_id), guild_id, start_time, int(minutes), int(days), ids, pattern))
    return out


async def stored_channel_names(engine: AsyncEngine, guild_id: int) -> dict[int, str]:
    """Channel names the bot stored for the guild (channels deleted since keep theirs)."""
    c = t.channels
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(c.c.channel_id, c.c.name).where(c.c.guild_id == guild_id))).all()
    return {int(i): str(n) for i, n in rows}


# -- posted_reports ---------------------------------------------------------------------------


async def claim(engine: AsyncEngine, guild_id: int, kind: str, key: str, now: datetime) -> bool:
    """Claim the right to post a report: True only for the one caller whose row went in."""
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(t.posted_reports)
        .values(guild_id=guild_id, kind=kind, key=key, posted_at=now, message_id=None)
        .on_conflict_do_nothing(index_elements=["guild_id", "kind", "key"])
    )
    async with engine.begin() as conn:
        result = await conn.execute(stmt)
    return bool(result.rowcount == 1)


async def release(engine: AsyncEngine, guild_id: int, kind: str, key: str) -> None:
    """Drop a claim whose post failed, so the report is tried again."""
    p = t.posted_reports
    async with engine.begin() as conn:
        await conn.execute(sa.delete(p).where(p.c.guild_id == guild_id, p.c.kind == kind, p.c.key == key))


async def record_message(engine: AsyncEngine, guild_id: int, kind: str, key: str, message_id: int) -> None:
    """Note the message that carried a claimed report."""
    p = t.posted_reports
    stmt = sa.update(p).where(p.c.guild_id == guild_id, p.c.kind == kind, p.c.key == key).values(message_id=message_id)
    async with engine.begin() as conn:
        await conn.execute(stmt)


async def posted_keys(engine: AsyncEngine, guild_id: int, kind: str, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` were already claimed (posted or being posted)."""
    if not keys:
        return set()
    p = t.posted_reports
    stmt = sa.select(p.c.key).where(p.c.guild_id == guild_id, p.c.kind == kind, p.c.key.in_(list(keys)))
    async with engine.connect() as conn:
        return {str(k) for k in (await conn.execute(stmt)).scalars()}
