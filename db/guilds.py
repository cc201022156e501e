"""Guild settings: timezone, report channel, mentor role, weekly schedule, retention."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from db import tables as t


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """One guild's settings; a guild never configured has the defaults."""

    guild_id: int
    timezone: str = "UTC"
    report_channel_id: int | None = None
    mentor_role_id: int | None = None
    weekly_weekday: int = 0  # Monday
    weekly_time: str = "00:00"
    retention_days: int = 0  # keep forever
    presence_tracking: bool = False


SETTING_NAMES = tuple(f.name for f in fields(GuildSettings) if f.name != "guild_id")


async def get_settings(engine: AsyncEngine, guild_id: int) -> GuildSettings:
    """The guild's settings (defaults when none were saved)."""
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(t.guild_settings).where(t.guild_settings.c.guild_id == guild_id))).first()
    if row is None:
        return GuildSettings(guild_id)
    return GuildSettings(**{k: v for k, v in row._mapping.items() if k in {"guild_id", *SETTING_NAMES}})


async def update_settings(engine: AsyncEngine, guild_id: int, **values: Any) -> GuildSettings:
    """Save some settings of a guild (creating its row), returning them all."""
    unknown = set(values) - set(SETTING_NAMES)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}")
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(t.guild_settings).values(guild_id=guild_id, **values)
    stmt = (
        stmt.on_conflict_do_update(index_elements=["guild_id"], set_=values)
        if values
        else stmt.on_conflict_do_nothing()
    )
    async with engine.begin() as conn:
        await conn.execute(stmt)
    return await get_settings(engine, guild_id)


async def presence_guilds(engine: AsyncEngine) -> list[int]:
    """The guilds whose admins enabled Rich Presence tracking."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(t.guild_settings.c.guild_id).where(t.guild_settings.c.presence_tracking.is_(True))
        )
        return [int(g) for g in rows.scalars()]
