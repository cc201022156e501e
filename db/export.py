"""CSV export reads (``/export``): one dataset's rows of one guild in a period, streamed in chunks.

Rows come from a server-side cursor (asyncpg) or an incremental cursor (SQLite),
``CHUNK_ROWS`` at a time, in a stable order. Members who opted out (any mode) are
left out; an inviter who opted out is left out of the ``inviter_id`` cell.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db import tables as t
from db.coverage import gaps_query
from db.privacy import not_opted_out, opted_out

CHUNK_ROWS: Final = 5000
# Credentials (signed links, sessions), not data about the member: never put into a file that
# may be passed on. Everything else with the member's id is exported by ``member_export``.
NOT_EXPORTED: Final = frozenset({"dashboard_sessions", "dashboard_tokens"})
_HOURLY: Final = {"messages": "msg", "voice": "voice", "emojis": "emoji", "apps": "app"}


def export_query(dataset: str, guild_id: int, start: datetime, end: datetime) -> sa.Select[Any]:
    """A dataset's CSV columns, in CSV order, for rows whose hour (or join time) lies in ``[start, end)``."""
    if dataset == "coverage":
        # Guild-level rows (no member): every gap overlapping the period.
        return gaps_query(guild_id, start, end)
    if dataset == "invites":
        j = t.member_joins
        inviter = sa.case((opted_out(guild_id, j.c.inviter_id), sa.null()), else_=j.c.inviter_id).label("inviter_id")
        return (
            sa.select(j.c.joined_at, j.c.user_id, j.c.invite_code, inviter, j.c.left_at)
            .where(j.c.guild_id == guild_id, j.c.joined_at >= start, j.c.joined_at < end)
            .where(not_opted_out(guild_id, j.c.user_id))
            .order_by(j.c.joined_at, j.c.user_id)
        )
    table = t.HOURLY[_HOURLY[dataset]]
    keys = [c for c in table.primary_key.columns if c.name != "guild_id"]
    values = [c for c in table.columns if not c.primary_key]
    return (
        sa.select(*keys, *values)
        .where(table.c.guild_id == guild_id, table.c.hour >= start, table.c.hour < end)
        .where(not_opted_out(guild_id, table.c.user_id))
        .order_by(*keys)
    )


async def stream_rows(
    engine: AsyncEngine, dataset: str, guild_id: int, start: datetime, end: datetime, *, chunk: int = CHUNK_ROWS
) -> AsyncIterator[Sequence[tuple[Any, ...]]]:
    """The dataset's rows in chunks of at most ``chunk``, without holding them all."""
    stmt = export_query(dataset, guild_id, start, end).execution_options(yield_per=chunk)
    async with engine.connect() as conn:
        result = await conn.stream(stmt)
        async for part in result.partitions(chunk):
            yield [tuple(row) for row in part]


@dataclass(frozen=True, slots=True)
class MemberTable:
    """One table's rows about one member: its name, its column names and the rows, in key order."""

    name: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def member_tables() -> list[tuple[sa.Table, str]]:
    """Every table with rows about a member of a guild, and the column that names the member.

    Found from the schema, so that a table added later is exported without being listed here:
    a table with ``guild_id`` and ``user_id`` (the member's own rows), else with ``inviter_id``
    (the invites the member created). Other members' joins through the member's invites are
    theirs, not the member's: ``member_joins`` is exported by its ``user_id`` only.
    """
    found: list[tuple[sa.Table, str]] = []
    for table in t.metadata.sorted_tables:
        if table.name in NOT_EXPORTED or "guild_id" not in table.c:
            continue
        if "user_id" in table.c:
            found.append((table, "user_id"))
        elif "inviter_id" in table.c:
            found.append((table, "inviter_id"))
    return sorted(found, key=lambda pair: pair[0].name)


async def member_export(engine: AsyncEngine, guild_id: int, user_id: int) -> list[MemberTable]:
    """Every stored row about one member in one guild (``/privacy export``), table by table.

    A member who opted out with ``hide`` still has rows, and gets them: they are stored.
    """
    out: list[MemberTable] = []
    async with engine.connect() as conn:
        for table, column in member_tables():
            order = list(table.primary_key.columns) or list(table.columns)
            result = await conn.execute(
                sa.select(table).where(table.c.guild_id == guild_id, table.c[column] == user_id).order_by(*order)
            )
            out.append(MemberTable(table.name, tuple(result.keys()), [tuple(row) for row in result]))
    return out
