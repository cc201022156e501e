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

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db import tables as t
from db.dialect import insert_for
from db.series import APPS, DAY, EMOJIS, MESSAGES, SERIES, VOICE, VOICE_BUCKETS, Series
from db.types import UTCDateTime, utc

# How each series feeds the per-member daily rollup: member_daily column -> SQL over an hourly row.
MEMBER_SOURCES: dict[str, dict[str, str]] = {
    MESSAGES.code: {"messages": "messages", "characters": "characters"},
    VOICE.code: {"voice_s": " + ".join(VOICE_BUCKETS), "active_s": "active_s"},
    EMOJIS.code: {"emojis": "count"},
    APPS.code: {"commands": "count"},
}


def merge_sql(table: str, keys: Sequence[str], values: Sequence[str], source: str, *, replace: bool = False) -> str:
    """Merge ``source``'s rows into ``table``: insert new keys; on a key already there add the values
    (or, with ``replace``, overwrite them)."""
    cols = ", ".join((*keys, *values))
    updates = ", ".join(f"{v} = excluded.{v}" if replace else f"{v} = {table}.{v} + excluded.{v}" for v in values)
    # In key order: index pages are then touched once each, not at random.
    order = ", ".join(f"{i + 1}" for i in range(len(keys)))
    return (
        f"INSERT INTO {table} ({cols}) SELECT * FROM {source} s WHERE true ORDER BY {order} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


def rollup_statements(
    sources: Sequence[tuple[Series, str]], where: str, day: str, stored: Callable[[str], str], *, replace: bool
) -> list[str]:
    """Merges of hourly rows into the daily rollups and ``member_daily``: what a rollup is, in one place.

    ``sources`` name, per series, the table holding its hourly rows (the hourly
    table, or a flush's staging table); ``where`` picks the rows (of alias ``s``);
    ``day`` is the SQL of a row's UTC day and ``stored`` turns a day expression into
    the time stored in the rollups. ``replace`` overwrites rollup rows instead of adding.
    """
    out = []
    member_parts = []
    for series, source in sources:
        dims = ", ".join(series.dims)
        sums = ", ".join(f"sum({v})" for v in series.fields)
        daily = (
            f"(SELECT guild_id, {stored(day)}, {dims}, {sums} FROM {source} s WHERE {where} "
            f"GROUP BY guild_id, {day}, {dims})"
        )
        keys = ("guild_id", "day", *series.dims)
        out.append(merge_sql(series.daily_table, keys, series.fields, daily, replace=replace))
        feeds = MEMBER_SOURCES.get(series.code)
        if feeds is None:  # a series that does not count as member activity (presence)
            continue
        exprs = ", ".join(f"{feeds.get(f, '0')} AS {f}" for f in t.MEMBER_DAILY_FIELDS)
        member_parts.append(f"SELECT guild_id, {day} AS d, user_id, {exprs} FROM {source} s WHERE {where}")
    if member_parts:
        sums = ", ".join(f"sum({f})" for f in t.MEMBER_DAILY_FIELDS)
        union = " UNION ALL ".join(member_parts)
        member = (
            f"(SELECT guild_id, {stored('d')}, user_id, {sums} FROM ({union}) u WHERE true "
            "GROUP BY guild_id, d, user_id)"
        )
        keys = ("guild_id", "day", "user_id")
        out.append(merge_sql("member_daily", keys, t.MEMBER_DAILY_FIELDS, member, replace=replace))
    return out


def closing_statements(pg: bool) -> list[sa.TextClause]:
    """Statements that (re)write the rollup rows of ``[:start, :end)`` of guild ``:guild`` from its hourly rows.

    A rollup row of an open day may exist (written while the day was still
    closed, before it was opened): it is replaced, not added to.
    """
    day = "date_trunc('day', hour, 'UTC')" if pg else "(substr(hour, 1, 10) || ' 00:00:00.000000')"
    where = "guild_id = :guild AND hour >= :start AND hour < :end"
    sources = [(series, series.hourly_table) for series in SERIES.values()]
    return [
        sa.text(sql).bindparams(sa.bindparam("start", type_=UTCDateTime), sa.bindparam("end", type_=UTCDateTime))
        for sql in rollup_statements(sources, where, day, lambda when: when, replace=True)
    ]


async def open_from(conn: AsyncConnection, guild_id: int) -> int | None:
    """The guild's ``open_from`` (None: every day of it closed)."""
    o = t.open_days
    found = (await conn.execute(sa.select(o.c.open_from).where(o.c.guild_id == guild_id))).scalar()
    return None if found is None else int(found)


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
        insert = insert_for(conn)(o).values(guild_id=guild_id, open_from=until)
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
        await self._advance(guild_id, until, open_rest=False)

    async def open_today(self, guild_id: int, now: float) -> None:
        """Close the guild's days before today (UTC) and keep today open."""
        await self._advance(guild_id, day_start(now), open_rest=True)

    async def _advance(self, guild_id: int, until: int, *, open_rest: bool) -> None:
        """``close_days`` when the database may need it: a read first, the locks only to move ``open_from`` on."""
        if self._open_from.get(guild_id, -1) >= until:
            return
        async with self.engine.connect() as conn:
            seen = await open_from(conn, guild_id)
        if seen is None and not open_rest:
            return
        if seen is None or seen < until:
            async with self.engine.begin() as conn:
                seen = await close_days(conn, guild_id, until, open_rest=open_rest)
        if seen is not None:
            self._open_from[guild_id] = max(self._open_from.get(guild_id, -1), seen)
