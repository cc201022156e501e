"""Retention: dropping data older than each guild's ``/config retention`` days.

A plain DELETE per guild and table: retention is per guild, while TimescaleDB's
``drop_chunks`` drops whole chunks across guilds, and the DELETE works on every
edition and on SQLite alike. The flush ledger is pruned here too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db import history
from db import tables as t

# A batch id must stay in the ledger for as long as that batch could still be replayed.
LEDGER_KEEP = timedelta(days=30)

# Every table holding member data with a time, and the column that dates a row.
DATED: tuple[tuple[sa.Table, str], ...] = (
    *((tb, "hour") for tb in t.HOURLY.values()),
    *((tb, "day") for tb in t.DAILY.values()),
    (t.member_daily, "day"),
    (t.voice_sessions, "ended_at"),
    (t.member_joins, "joined_at"),
)


async def apply_retention(
    engine: AsyncEngine, now: datetime, owns: Callable[[int], bool] = lambda _guild_id: True
) -> int:
    """Delete what the retention of every guild ``owns`` accepts no longer keeps; returns the rows deleted.

    With several processes each passes the guilds of its own shards, so that every guild's
    rows are deleted by one process (no two transactions deleting the same rows at once).
    The ledger is shared by all guilds: every process prunes it (an idempotent DELETE).
    """
    deleted = 0
    async with engine.begin() as conn:
        rows = await conn.execute(
            sa.select(t.guild_settings.c.guild_id, t.guild_settings.c.retention_days).where(
                t.guild_settings.c.retention_days > 0
            )
        )
        for guild_id, days in rows.all():
            if not owns(int(guild_id)):
                continue
            cutoff = now - timedelta(days=int(days))
            gone = 0
            for table, col in DATED:
                result = await conn.execute(sa.delete(table).where(table.c.guild_id == guild_id, table.c[col] < cutoff))
                gone += result.rowcount or 0
            if gone:
                await history.bump_guild(conn, guild_id)
            deleted += gone
        await conn.execute(sa.delete(t.flush_ledger).where(t.flush_ledger.c.applied_at < now - LEDGER_KEEP))
    return deleted
