"""Opt-outs and erasure: who opted out of recording in a guild, and deleting one member's data in one guild.

Every read of the opt-outs lives here: the set the bot holds in memory, the ids of
one guild, one member's mode, and the filter every report, export and mentor query
applies (``not_opted_out``).
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db import history
from db import tables as t
from db.dialect import insert_for

log = logging.getLogger(__name__)

# Every table holding rows of one member (keyed by user_id) in a guild.
MEMBER_TABLES: tuple[sa.Table, ...] = (
    *t.HOURLY.values(),
    *t.DAILY.values(),
    t.member_daily,
    t.voice_sessions,
    t.member_joins,
    t.member_names,  # the member's last known name (#13)
    t.nudge_log,  # the nudges sent to the member (#18)
    # The dashboard (#15): the name, roles and access the bot saw, the member's sign-in links and sessions.
    t.dashboard_members,
    t.dashboard_tokens,
    t.dashboard_sessions,
)


def opted_out(guild_id: int, user_col: sa.ColumnElement[int]) -> sa.ColumnElement[bool]:
    """The member in ``user_col`` opted out of this guild (any mode); NULL for a NULL member."""
    o = t.optouts
    return user_col.in_(sa.select(o.c.user_id).where(o.c.guild_id == guild_id).scalar_subquery())


def not_opted_out(guild_id: int, user_col: sa.ColumnElement[int]) -> sa.ColumnElement[bool]:
    """The member in ``user_col`` did not opt out of this guild; false for a NULL member.

    ``NOT IN`` over the guild's few opt-outs becomes one hashed lookup per row; a
    correlated ``NOT EXISTS`` was planned as a nested loop.
    """
    o = t.optouts
    return user_col.not_in(sa.select(o.c.user_id).where(o.c.guild_id == guild_id).scalar_subquery())


async def all_optouts(engine: AsyncEngine) -> list[tuple[int, int]]:
    """Every (guild_id, user_id) that opted out: what the bot holds in memory for the event path."""
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(t.optouts.c.guild_id, t.optouts.c.user_id))
        return [(int(g), int(u)) for g, u in rows]


async def opted_out_ids(db: AsyncEngine | AsyncConnection, guild_id: int) -> frozenset[int]:
    """The members of the guild who opted out (any mode), on a connection already open or a new one."""
    o = t.optouts
    stmt = sa.select(o.c.user_id).where(o.c.guild_id == guild_id)
    if isinstance(db, AsyncEngine):
        async with db.connect() as conn:
            return frozenset(int(u) for u in (await conn.execute(stmt)).scalars())
    return frozenset(int(u) for u in (await db.execute(stmt)).scalars())


async def is_opted_out(engine: AsyncEngine, guild_id: int, user_id: int) -> bool:
    """Whether one member opted out of this guild (any mode)."""
    return await get_mode(engine, guild_id, user_id) is not None


async def get_mode(engine: AsyncEngine, guild_id: int, user_id: int) -> str | None:
    """The member's opt-out mode (``hide`` or ``delete``), or None when recorded."""
    o = t.optouts
    async with engine.connect() as conn:
        mode = await conn.scalar(sa.select(o.c.mode).where(o.c.guild_id == guild_id, o.c.user_id == user_id))
    return None if mode is None else str(mode)


async def set_optout(engine: AsyncEngine, guild_id: int, user_id: int, mode: str, now: datetime) -> None:
    """Store (or change) the member's opt-out."""
    stmt = insert_for(engine)(t.optouts).values(guild_id=guild_id, user_id=user_id, mode=mode, created_at=now)
    stmt = stmt.on_conflict_do_update(index_elements=["guild_id", "user_id"], set_={"mode": mode})
    async with engine.begin() as conn:
        await conn.execute(stmt)
        await history.bump_guild(conn, guild_id)  # who is hidden changed: snapshots of past days too


async def remove_optout(engine: AsyncEngine, guild_id: int, user_id: int) -> str | None:
    """Delete the member's opt-out; returns the mode it had, or None when there was none."""
    o = t.optouts
    where = (o.c.guild_id == guild_id, o.c.user_id == user_id)
    async with engine.begin() as conn:
        mode = await conn.scalar(sa.select(o.c.mode).where(*where))
        await conn.execute(sa.delete(o).where(*where))
        if mode is not None:
            await history.bump_guild(conn, guild_id)
    return None if mode is None else str(mode)


async def erase_member(engine: AsyncEngine, guild_id: int, user_id: int) -> int:
    """Delete every stored row of one member in one guild, and forget them as an inviter; returns rows touched.

    Other members' joins keep their invite code but lose the inviter's id; the
    invites the member created keep their code and counts, without the inviter.
    """
    touched = 0
    async with engine.begin() as conn:
        for table in MEMBER_TABLES:
            result = await conn.execute(
                sa.delete(table).where(table.c.guild_id == guild_id, table.c.user_id == user_id)
            )
            touched += result.rowcount or 0
        for table in (t.member_joins, t.invites):
            result = await conn.execute(
                sa.update(table)
                .where(table.c.guild_id == guild_id, table.c.inviter_id == user_id)
                .values(inviter_id=None)
            )
            touched += result.rowcount or 0
        await history.bump_guild(conn, guild_id)
    log.info("erased %d rows of member %s in guild %s", touched, user_id, guild_id)
    return touched


async def member_rows(engine: AsyncEngine, guild_id: int, user_id: int) -> dict[str, int]:
    """How many rows reference the member in each table (user_id or inviter_id): for status and tests."""
    counts: dict[str, int] = {}
    async with engine.connect() as conn:
        for table in MEMBER_TABLES:
            counts[table.name] = int(
                await conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(table)
                    .where(table.c.guild_id == guild_id, table.c.user_id == user_id)
                )
                or 0
            )
        for table in (t.member_joins, t.invites):
            key = f"{table.name}.inviter_id"
            counts[key] = int(
                await conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(table)
                    .where(table.c.guild_id == guild_id, table.c.inviter_id == user_id)
                )
                or 0
            )
    return counts
