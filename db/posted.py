"""Posted reports: the exactly-once claims of every scheduled post (event-hour, weekly, mentor digest, nudges).

A poster claims a report by inserting its ``posted_reports`` row (insert-if-absent)
before building it; only the caller whose insert went in posts. A failed post gives
its claim back (``release``) so that a later pass tries again; a successful one
records the message that carried it. ``kind`` names the poster, ``key`` the
occurrence (an event's start, an ISO week, …); keys are unique per guild and kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db import tables as t
from db.dialect import insert_for


async def claim(engine: AsyncEngine, guild_id: int, kind: str, key: str, now: datetime) -> bool:
    """Claim the right to post a report: True only for the one caller whose row went in."""
    insert = insert_for(engine)
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
