"""Acting on activity: the digest and nudge settings of a guild, the nudge log, and who turned nudges off.

``acting_settings`` holds one row per guild that changed a default (digest off,
nudges off, interval 14 days). ``nudge_log`` keeps every nudge attempt, ``sent`` or
``refused`` (Discord would not deliver the DM), and is erased with the member's
other rows (db/privacy.py ``MEMBER_TABLES``); ``nudge_optouts`` keeps the members
who asked not to be nudged.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db import tables as t
from db.dialect import insert_for
from db.guilds import guilds_where, read_row, save_row
from db.types import aware

SENT: Final = "sent"
REFUSED: Final = "refused"
DEFAULT_INTERVAL_DAYS: Final = 14


@dataclass(frozen=True, slots=True)
class ActingSettings:
    """One guild's digest and nudge settings (the defaults when never configured)."""

    guild_id: int
    digest_enabled: bool = False
    digest_channel_id: int | None = None
    nudges_enabled: bool = False
    nudge_after_days: int | None = None
    nudge_interval_days: int = DEFAULT_INTERVAL_DAYS
    nudge_text: str | None = None


ACTING_NAMES: Final = tuple(f.name for f in fields(ActingSettings) if f.name != "guild_id")


async def get_acting(engine: AsyncEngine, guild_id: int) -> ActingSettings:
    """The guild's digest and nudge settings."""
    return await read_row(engine, t.acting_settings, ActingSettings, ACTING_NAMES, guild_id)


async def update_acting(engine: AsyncEngine, guild_id: int, **values: Any) -> ActingSettings:
    """Save some digest or nudge settings of a guild, returning them all."""
    await save_row(engine, t.acting_settings, ACTING_NAMES, guild_id, **values)
    return await get_acting(engine, guild_id)


async def guilds_with(engine: AsyncEngine, column: str) -> frozenset[int]:
    """The guilds with ``digest_enabled`` or ``nudges_enabled`` on."""
    return await guilds_where(engine, t.acting_settings.c[column])


# -- nudges ------------------------------------------------------------------------------------


async def last_nudges(engine: AsyncEngine, guild_id: int) -> dict[int, tuple[datetime, str]]:
    """Each member's latest nudge attempt in the guild: when, and ``sent`` or ``refused``."""
    n = t.nudge_log
    latest = (
        sa.select(n.c.user_id, sa.func.max(n.c.sent_at).label("at"))
        .where(n.c.guild_id == guild_id)
        .group_by(n.c.user_id)
    ).subquery()
    stmt = (
        sa.select(n.c.user_id, n.c.sent_at, n.c.outcome)
        .join(latest, sa.and_(n.c.user_id == latest.c.user_id, n.c.sent_at == latest.c.at))
        .where(n.c.guild_id == guild_id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return {int(u): (aware(at), str(outcome)) for u, at, outcome in rows}


async def last_sent(engine: AsyncEngine, guild_id: int, user_id: int) -> datetime | None:
    """When the member was last nudged successfully in the guild (the mentor card's "nudged N days ago")."""
    n = t.nudge_log
    stmt = sa.select(sa.func.max(n.c.sent_at)).where(
        n.c.guild_id == guild_id, n.c.user_id == user_id, n.c.outcome == SENT
    )
    async with engine.connect() as conn:
        value = await conn.scalar(stmt)
    return None if value is None else aware(value)


async def record_nudge(engine: AsyncEngine, guild_id: int, user_id: int, at: datetime, outcome: str) -> None:
    """Log one nudge attempt (a second one at the same instant is the same attempt)."""
    stmt = (
        insert_for(engine)(t.nudge_log)
        .values(guild_id=guild_id, user_id=user_id, sent_at=at, outcome=outcome)
        .on_conflict_do_nothing(index_elements=["guild_id", "user_id", "sent_at"])
    )
    async with engine.begin() as conn:
        await conn.execute(stmt)


async def nudge_count(engine: AsyncEngine, guild_id: int, user_id: int | None = None) -> dict[str, int]:
    """How many nudge attempts per outcome (of one member, or the whole guild): for status and tests."""
    n = t.nudge_log
    stmt = sa.select(n.c.outcome, sa.func.count()).where(n.c.guild_id == guild_id).group_by(n.c.outcome)
    if user_id is not None:
        stmt = stmt.where(n.c.user_id == user_id)
    async with engine.connect() as conn:
        return {str(o): int(c) for o, c in (await conn.execute(stmt)).all()}


async def set_nudges(engine: AsyncEngine, guild_id: int, user_id: int, enabled: bool, now: datetime) -> bool:
    """Turn a member's nudges on or off; whether that changed anything."""
    o = t.nudge_optouts
    where = (o.c.guild_id == guild_id, o.c.user_id == user_id)
    async with engine.begin() as conn:
        if enabled:
            result = await conn.execute(sa.delete(o).where(*where))
            return bool(result.rowcount)
        stmt = (
            insert_for(engine)(o)
            .values(guild_id=guild_id, user_id=user_id, created_at=now)
            .on_conflict_do_nothing(index_elements=["guild_id", "user_id"])
        )
        result = await conn.execute(stmt)
        return bool(result.rowcount)


async def nudges_off(engine: AsyncEngine, guild_id: int) -> frozenset[int]:
    """The members of the guild who turned nudges off."""
    o = t.nudge_optouts
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(o.c.user_id).where(o.c.guild_id == guild_id))
        return frozenset(int(u) for u in rows.scalars())
