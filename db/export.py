"""CSV export reads (``/export``): one dataset's rows of one guild in a period, streamed in chunks.

Rows come from a server-side cursor (asyncpg) or an incremental cursor (SQLite),
``CHUNK_ROWS`` at a time, in a stable order. Members who opted out (any mode) are
left out; an inviter who opted out is left out of the ``inviter_id`` cell.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db import tables as t
from db.privacy import not_opted_out, opted_out

CHUNK_ROWS: Final = 5000
_HOURLY: Final = {"messages": "msg", "voice": "voice", "emojis": "emoji", "apps": "app"}


def export_query(dataset: str, guild_id: int, start: datetime, end: datetime) -> sa.Select[Any]:
    """A dataset's CSV columns, in CSV order, for rows whose hour (or join time) lies in ``[start, end)``."""
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
