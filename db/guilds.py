"""Guild settings: timezone, report channel, mentor role, weekly schedule, retention."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db import tables as t
from db.dialect import insert_for


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

Row = TypeVar("Row")  # a frozen settings dataclass: ``guild_id`` and fields with defaults


async def read_row(
    engine: AsyncEngine, table: sa.Table, kind: Callable[..., Row], names: tuple[str, ...], guild_id: int
) -> Row:
    """A guild's row of a settings table as ``kind`` with its ``names`` (the defaults when none was saved)."""
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(table).where(table.c.guild_id == guild_id))).first()
    if row is None:
        return kind(guild_id=guild_id)
    return kind(guild_id=guild_id, **{k: v for k, v in row._mapping.items() if k in names})


async def save_row(engine: AsyncEngine, table: sa.Table, names: tuple[str, ...], guild_id: int, **values: Any) -> None:
    """Save some columns of a guild's settings row (creating it with the defaults for the rest)."""
    unknown = set(values) - set(names)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}")
    stmt = insert_for(engine)(table).values(guild_id=guild_id, **values)
    stmt = (
        stmt.on_conflict_do_update(index_elements=["guild_id"], set_=values)
        if values
        else stmt.on_conflict_do_nothing()
    )
    async with engine.begin() as conn:
        await conn.execute(stmt)


async def guilds_where(engine: AsyncEngine, flag: sa.Column[Any]) -> frozenset[int]:
    """The guilds whose settings row has the boolean column ``flag`` on."""
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(flag.table.c.guild_id).where(flag.is_(True)))
        return frozenset(int(g) for g in rows.scalars())


async def get_settings(engine: AsyncEngine, guild_id: int) -> GuildSettings:
    """The guild's settings (defaults when none were saved)."""
    return await read_row(engine, t.guild_settings, GuildSettings, SETTING_NAMES, guild_id)


async def update_settings(engine: AsyncEngine, guild_id: int, **values: Any) -> GuildSettings:
    """Save some settings of a guild (creating its row), returning them all."""
    await save_row(engine, t.guild_settings, SETTING_NAMES, guild_id, **values)
    return await get_settings(engine, guild_id)


async def presence_guilds(engine: AsyncEngine) -> frozenset[int]:
    """The guilds whose admins enabled Rich Presence tracking."""
    return await guilds_where(engine, t.guild_settings.c.presence_tracking)
