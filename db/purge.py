"""Removed guilds: when the bot left a guild, and purging every row of a guild once its grace period is over.

``removed_guilds`` holds one row per guild the bot was removed from (``on_guild_remove``),
cleared when the bot is back. A guild is purged in one transaction that first deletes its
``removed_guilds`` row: that row is the claim, so that of several processes purging at
once exactly one does the work (on PostgreSQL the others wait for its row lock and then
find nothing; on SQLite the write lock orders them), and a purge that fails half-way rolls
back whole, claim included, to be retried at the next pass.

The tables purged are found in the schema: every table with a ``guild_id`` column, so that
a table added later is purged too. ``guild_history`` is not deleted but moved on, so that
no report snapshot of the guild survives (a deleted version would start again at a number
a snapshot may have been read under).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db import history
from db import tables as t
from db.dialect import insert_for
from db.types import aware

log = logging.getLogger(__name__)

# Kept through a purge: the claim itself, and the versions that invalidate snapshots.
_KEPT = frozenset({t.removed_guilds.name, t.guild_history.name})


def guild_tables() -> list[sa.Table]:
    """Every table with rows of one guild (a ``guild_id`` column), ``open_days`` first, dependents before parents.

    ``open_days`` first: a flush into the guild locks that row before it writes counters, and
    taking the locks in the same order keeps a purge and a late flush from deadlocking.
    """
    tables = [tb for tb in reversed(t.metadata.sorted_tables) if "guild_id" in tb.c and tb.name not in _KEPT]
    return sorted(tables, key=lambda tb: tb.name != t.open_days.name)


async def mark_removed(engine: AsyncEngine, guild_id: int, at: datetime) -> None:
    """Record that the bot was removed from the guild at ``at`` (a second removal keeps the first time)."""
    stmt = (
        insert_for(engine)(t.removed_guilds)
        .values(guild_id=guild_id, removed_at=at)
        .on_conflict_do_nothing(index_elements=["guild_id"])
    )
    async with engine.begin() as conn:
        await conn.execute(stmt)


async def clear_removed(engine: AsyncEngine, guild_ids: Iterable[int]) -> int:
    """Forget the removal of guilds the bot is in again; returns how many were recorded as removed."""
    ids = sorted({int(g) for g in guild_ids})
    if not ids:
        return 0
    r = t.removed_guilds
    cleared = 0
    async with engine.begin() as conn:
        # In slices: a process may serve many thousand guilds, and SQLite limits bound parameters.
        for i in range(0, len(ids), 500):
            result = await conn.execute(sa.delete(r).where(r.c.guild_id.in_(ids[i : i + 500])))
            cleared += result.rowcount or 0
    return cleared


async def removed_guilds(engine: AsyncEngine) -> dict[int, datetime]:
    """Every guild recorded as removed, with when."""
    r = t.removed_guilds
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(r.c.guild_id, r.c.removed_at))
        return {int(g): aware(at) for g, at in rows.all()}


async def due_for_purge(engine: AsyncEngine, removed_before: datetime) -> list[int]:
    """The guilds removed before ``removed_before`` (now minus the grace period), oldest first."""
    r = t.removed_guilds
    stmt = sa.select(r.c.guild_id).where(r.c.removed_at <= removed_before).order_by(r.c.removed_at, r.c.guild_id)
    async with engine.connect() as conn:
        return [int(g) for g in (await conn.execute(stmt)).scalars()]


async def purge_in(conn: AsyncConnection, guild_id: int, removed_before: datetime) -> dict[str, int] | None:
    """Inside the caller's transaction: claim the guild's removal and delete every row of the guild.

    Returns the rows deleted per table, or None when the guild is not (or no longer) due:
    it came back, or another process purged it first.
    """
    r = t.removed_guilds
    claimed = await conn.execute(sa.delete(r).where(r.c.guild_id == guild_id, r.c.removed_at <= removed_before))
    if not claimed.rowcount:
        return None
    deleted: dict[str, int] = {}
    for table in guild_tables():
        result = await conn.execute(sa.delete(table).where(table.c.guild_id == guild_id))
        deleted[table.name] = result.rowcount or 0
    await history.bump_guild(conn, guild_id)
    return deleted


async def purge_guild(engine: AsyncEngine, guild_id: int, removed_before: datetime) -> dict[str, int] | None:
    """Purge one guild removed before ``removed_before`` in one transaction (all or nothing); None if not due."""
    async with engine.begin() as conn:
        deleted = await purge_in(conn, guild_id, removed_before)
    if deleted is not None:
        log.info("purged guild %s, removed before %s: %d rows", guild_id, removed_before, sum(deleted.values()))
    return deleted


async def guild_row_counts(engine: AsyncEngine, guild_id: int) -> dict[str, int]:
    """How many rows of the guild each purged table holds (for tests and checks)."""
    async with engine.connect() as conn:
        return {
            tb.name: int(
                await conn.scalar(sa.select(sa.func.count()).select_from(tb).where(tb.c.guild_id == guild_id)) or 0
            )
            for tb in guild_tables()
        }
