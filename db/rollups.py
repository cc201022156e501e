"""Open and closed days: when the daily and per-member rollups of a UTC day are written.

Every flush writes hourly rows. For a *closed* day it also adds to the day's
rollup rows (``*_daily``, ``member_daily``) in the same transaction, so a closed
day's rollups always equal the sums of its hourly rows. A guild's *open* days
(``open_days.open_from`` on: normally just today) have hourly rows only: nothing
reads rollups of a day that is not over (reports read the edges of a period from
hourly rows), and the flush of the open day, the bulk of all flushes, then costs
one upsert instead of three.

A day closes once (``close_days``): its rollup rows are computed from its hourly
rows and ``open_from`` moves past it, in one transaction. The two never race:
a flush holds a share lock on the guild's ``open_days`` row from before it decides
which of its rows are in closed days until it commits; closing takes the row's
update lock first, so it waits for those flushes and sees their rows, and a flush
that starts meanwhile waits for it and then finds the day closed. (SQLite has one
writer at a time, which gives the same order.)

The bot closes yesterday and opens today right after each UTC midnight; anything
about to read rollups of whole days closes them first (``DayCloser``), so a
report never misses a day, whatever the loop did.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.series import APPS, DAY, EMOJIS, MESSAGES, SERIES, VOICE, VOICE_BUCKETS
from db import tables as t
from db.types import UTCDateTime, utc

# How each series feeds the per-member daily rollup: member_daily column -> SQL over an hourly row.
MEMBER_SOURCES: dict[str, dict[str, str]] = {
    MESSAGES.code: {"messages": "messages", "characters": "characters"},
    VOICE.code: {"voice_s": " + ".join(VOICE_BUCKETS), "active_s": "active_s"},
    EMOJIS.code: {"emojis": "count"},
    APPS.code: {"commands": "count"},
}


def closing_statements(pg: bool) -> list[sa.TextClause]:
    """Statements that (re)write the rollup rows of ``[:start, :end)`` of guild ``:guild`` from its hourly rows.

    A rollup row of an open day may exist (written while the day was still
    closed, before it was opened): it is replaced, not added to.
    """
    day = "date_trunc('day', hour, 'UTC')" if pg else "(substr(hour, 1, 10) || ' 00:00:00.000000')"
    where = "guild_id = :guild AND hour >= :start AND hour < :end"
    out = []
    for series in SERIES.values():
        dims = ", ".join(series.dims)
        sums = ", ".join(f"sum({v})" for v in series.fields)
        cols = ", ".join(("guild_id", "day", *series.dims, *series.fields))
        sets = ", ".join(f"{v} = excluded.{v}" for v in series.fields)
        out.append(
            f"INSERT INTO {series.daily_table} ({cols}) "
            f"SELECT guild_id, {day}, {dims}, {sums} FROM {series.hourly_table} WHERE {where} "
            f"GROUP BY guild_id, {day}, {dims} "
            f"ON CONFLICT (guild_id, day, {dims}) DO UPDATE SET {sets}"
        )
    parts = []
    for code, feeds in MEMBER_SOURCES.items():
        exprs = ", ".join(f"{feeds.get(f, '0')} AS {f}" for f in t.MEMBER_DAILY_FIELDS)
        parts.append(f"SELECT guild_id, {day} AS day, user_id, {exprs} FROM {SERIES[code].hourly_table} WHERE {where}")
    fields = ", ".join(t.MEMBER_DAILY_FIELDS)
    sums = ", ".join(f"sum({f})" for f in t.MEMBER_DAILY_FIELDS)
    sets = ", ".join(f"{f} = excluded.{f}" for f in t.MEMBER_DAILY_FIELDS)
    out.append(
        f"INSERT INTO member_daily (guild_id, day, user_id, {fields}) "
        f"SELECT guild_id, day, user_id, {sums} FROM ({' UNION ALL '.join(parts)}) u WHERE true "
        f"GROUP BY guild_id, day, user_id ON CONFLICT (guild_id, day, user_id) DO UPDATE SET {sets}"
    )
    return [
        sa.text(sql).bindparams(sa.bindparam("start", type_=UTCDateTime), sa.bindparam("end", type_=UTCDateTime))
        for sql in out
    ]


def _params(guild_id: int, start: int, end: int) -> dict[str, Any]:
    return {"guild": guild_id, "start": utc(start), "end": utc(end)}


async def close_days(conn: AsyncConnection, guild_id: int, until: int, *, open_rest: bool) -> int | None:
    """Close the guild's open days before epoch ``until`` (a UTC midnight), in the caller's transaction.

    With ``open_rest``, a guild with every day closed gets its days from ``until``
    on opened. Returns the guild's ``open_from`` afterwards (None: every day closed).
    """
    o = t.open_days
    lock = sa.select(o.c.open_from).where(o.c.guild_id == guild_id)
    if conn.dialect.name == "postgresql":
        lock = lock.with_for_update()
    else:
        # SQLite: take the write lock before reading, so no flush commits between the read and the writes.
        await conn.execute(sa.update(o).where(o.c.guild_id == guild_id).values(open_from=o.c.open_from))
    open_from = (await conn.execute(lock)).scalar()
    if open_from is None:
        if not open_rest:
            return None
        dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        insert = dialect_insert(o).values(guild_id=guild_id, open_from=until)
        if (await conn.execute(insert.on_conflict_do_nothing().returning(o.c.open_from))).first() is not None:
            return until
        open_from = (await conn.execute(lock)).scalar_one()  # opened by another process meanwhile
    if open_from >= until:
        return int(open_from)
    for stmt in closing_statements(conn.dialect.name == "postgresql"):
        await conn.execute(stmt, _params(guild_id, int(open_from), until))
    await conn.execute(sa.update(o).where(o.c.guild_id == guild_id).values(open_from=until))
    return until


END_OF_TIME = 253_370_764_800  # 9999-01-01T00:00Z


def close_all_sync(conn: Connection) -> None:
    """Close every open day of every guild (a downgrade below the open days)."""
    pg = conn.dialect.name == "postgresql"
    rows = conn.execute(sa.text("SELECT guild_id, open_from FROM open_days")).all()
    for guild_id, open_from in rows:
        for stmt in closing_statements(pg):
            conn.execute(stmt, _params(int(guild_id), int(open_from), END_OF_TIME))


def day_start(epoch: float) -> int:
    """The UTC midnight at or before ``epoch``."""
    return int(epoch) // DAY * DAY


class DayCloser:
    """Closes a guild's days before they are read from the rollups, asking the database only when needed.

    ``open_from`` only ever moves forward once a guild has a row, so what was
    seen of it stays true; a guild without a row is asked again each time.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._open_from: dict[int, int] = {}

    async def close_through(self, guild_id: int, until: int) -> None:
        """Make sure every day of the guild before epoch ``until`` is closed."""
        if self._open_from.get(guild_id, -1) >= until:
            return
        o = t.open_days
        async with self.engine.connect() as conn:
            seen = (await conn.execute(sa.select(o.c.open_from).where(o.c.guild_id == guild_id))).scalar()
        if seen is None:
            return
        if seen < until:
            async with self.engine.begin() as conn:
                seen = await close_days(conn, guild_id, until, open_rest=False)
        if seen is not None:
            self._open_from[guild_id] = max(self._open_from.get(guild_id, -1), int(seen))

    async def open_today(self, guild_id: int, now: float) -> None:
        """Close the guild's days before today (UTC) and keep today open."""
        today = day_start(now)
        if self._open_from.get(guild_id, -1) >= today:
            return
        async with self.engine.begin() as conn:
            seen = await close_days(conn, guild_id, today, open_rest=True)
        if seen is not None:
            self._open_from[guild_id] = max(self._open_from.get(guild_id, -1), seen)
