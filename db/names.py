"""Members' last known display names, and when they joined and left (``member_names``).

Written in bulk by the member-name tracker (cogs/members.py) from what the gateway
shows: every member of a guild when it becomes available, joins, name changes and
leaves. Read by reports, so that a member who left is shown by the last name the bot
saw ("Ana (left)") and the weekly summary knows who was a member during an event.
Erased with the member's other rows on ``/privacy optout mode:delete`` (db/privacy.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db import tables as t
from db.dialect import insert_for
from db.privacy import not_opted_out
from db.types import aware


@dataclass(frozen=True, slots=True)
class MemberName:
    """One member as last seen: name, join time (None: unknown) and leave time (None: still a member)."""

    user_id: int
    name: str
    joined_at: datetime | None
    left_at: datetime | None
    seen_at: datetime


async def save_names(engine: AsyncEngine, guild_id: int, rows: Sequence[MemberName]) -> None:
    """Upsert the guild's seen members in one statement: the newest sighting of each wins."""
    if not rows:
        return
    n = t.member_names
    stmt = insert_for(engine)(n)
    ex = stmt.excluded
    newer = ex.seen_at >= n.c.seen_at
    stmt = stmt.on_conflict_do_update(
        index_elements=["guild_id", "user_id"],
        set_={
            "name": sa.case((newer, ex.name), else_=n.c.name),
            # A join time once known is kept when a later sighting does not carry one.
            "joined_at": sa.case((sa.and_(newer, ex.joined_at.is_not(None)), ex.joined_at), else_=n.c.joined_at),
            "left_at": sa.case((newer, ex.left_at), else_=n.c.left_at),
            "seen_at": sa.case((newer, ex.seen_at), else_=n.c.seen_at),
        },
    )
    values = [
        {
            "guild_id": guild_id,
            "user_id": r.user_id,
            "name": r.name,
            "joined_at": r.joined_at,
            "left_at": r.left_at,
            "seen_at": r.seen_at,
        }
        for r in rows
    ]
    async with engine.begin() as conn:
        await conn.execute(stmt, values)


async def names_of(engine: AsyncEngine, guild_id: int, user_ids: Iterable[int]) -> dict[int, MemberName]:
    """The stored sightings of ``user_ids`` in the guild (members never seen are absent)."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    n = t.member_names
    out: dict[int, MemberName] = {}
    async with engine.connect() as conn:
        # In chunks: SQLite caps the number of bound parameters of one statement.
        for i in range(0, len(wanted), 500):
            stmt = sa.select(n).where(n.c.guild_id == guild_id, n.c.user_id.in_(wanted[i : i + 500]))
            for r in (await conn.execute(stmt)).all():
                out[int(r.user_id)] = MemberName(int(r.user_id), str(r.name), r.joined_at, r.left_at, r.seen_at)
    return out


async def left_since(engine: AsyncEngine, guild_id: int, since: datetime) -> list[MemberName]:
    """Members of the guild seen leaving after ``since`` (and not seen back).

    A leave seen for a member discord.py had not cached carries no join time; the invite
    tracker's last recorded join before the leave stands in for it.
    """
    n, j = t.member_names, t.member_joins
    last_join = (
        sa.select(sa.func.max(j.c.joined_at))
        .where(j.c.guild_id == n.c.guild_id, j.c.user_id == n.c.user_id, j.c.joined_at <= n.c.left_at)
        .scalar_subquery()
    )
    joined = sa.func.coalesce(n.c.joined_at, last_join).label("joined")
    stmt = sa.select(n.c.user_id, n.c.name, joined, n.c.left_at, n.c.seen_at).where(
        n.c.guild_id == guild_id, n.c.left_at.is_not(None), n.c.left_at > since
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt.order_by(n.c.user_id))).all()
    return [
        MemberName(int(r.user_id), str(r.name), None if r.joined is None else aware(r.joined), r.left_at, r.seen_at)
        for r in rows
    ]


async def member_growth(engine: AsyncEngine, guild_id: int, start: datetime, end: datetime) -> tuple[int, int]:
    """Members who joined and who left the guild in ``[start, end)`` (bots and opted-out members never count).

    Joins are the joins the invite tracker recorded (``member_joins``); leaves the members
    seen leaving, by the invite tracker (the join row's ``left_at``) or by the name tracker
    (``member_names``, which also knows members who joined before the bot came), each once.
    """
    j, n = t.member_joins, t.member_names
    joins = (
        sa.select(sa.func.count())
        .select_from(j)
        .where(
            j.c.guild_id == guild_id, j.c.joined_at >= start, j.c.joined_at < end, not_opted_out(guild_id, j.c.user_id)
        )
    )
    left = sa.union(
        sa.select(j.c.user_id).where(j.c.guild_id == guild_id, j.c.left_at >= start, j.c.left_at < end),
        sa.select(n.c.user_id).where(n.c.guild_id == guild_id, n.c.left_at >= start, n.c.left_at < end),
    ).subquery()
    leaves = sa.select(sa.func.count()).select_from(left).where(not_opted_out(guild_id, left.c.user_id))
    async with engine.connect() as conn:
        return int(await conn.scalar(joins) or 0), int(await conn.scalar(leaves) or 0)
