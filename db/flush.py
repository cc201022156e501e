"""Writing a frozen batch into the database, exactly once.

One transaction per batch: insert the batch id into ``flush_ledger`` (a batch
already there is skipped: it was committed before a crash and is being
replayed), then the counters, then the records, then the history version of
every month of a guild whose earlier days the batch changed (``db.history``). Each series' hourly rows are
loaded into a temporary staging table (``COPY`` on PostgreSQL, one
``executemany`` on SQLite); set-based ``INSERT … SELECT … ON CONFLICT`` statements
then merge the stage into the hourly table, its daily rollup and the per-member
daily rollup, so the rollups are always exactly the sums of the hourly rows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.buffer.codec import Rows
from bot.buffer.store import Batch
from bot.series import (
    APPS,
    EMOJIS,
    MEMBER_LEAVE,
    MESSAGES,
    RECORD_KINDS,
    SERIES,
    VOICE,
    VOICE_BUCKETS,
    VOICE_SESSION,
    RecordKind,
    Series,
)
from db import history
from db import tables as t
from db.types import UTCDateTime, utc

log = logging.getLogger(__name__)

Row = tuple[Any, ...]

# A batch of at least ``parallel_min_rows`` counter rows is written as this many parts
# at once (PostgreSQL only). Changing it changes the ledger ids of the parts: deploy a
# change only with no batch pending in the store.
PARALLEL_PARTS = 4
FaultHook = Callable[[str], None]


def no_fault(_step: str) -> None:
    """The fault hook of a real flush: nothing happens at any step."""
    return None


class TableRows:
    """The hourly rows of one series in a batch."""

    __slots__ = ("keys", "rows", "series", "table", "values")

    def __init__(self, series: Series, rows: list[Row]) -> None:
        self.series = series
        self.table = t.HOURLY[series.code]
        self.keys = ("guild_id", "hour", *series.dims)
        self.values = series.fields
        self.rows = rows

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.keys, *self.values)


def past_months(batch: Batch, before: int) -> set[tuple[int, int]]:
    """``(guild, month)`` of the batch's counter rows for an hour before epoch ``before``."""
    hours: set[tuple[int, int]] = set()
    for rows in batch.grouped().values():
        for key in rows:
            if int(key[1]) < before:
                hours.add((int(key[0]), int(key[1])))
    return {(guild, history.month_of(hour)) for guild, hour in hours}


def hourly_rows(batch: Batch) -> list[TableRows]:
    """The batch's counters as hourly rows, per series present (hours as aware datetimes)."""
    stamps: dict[int, datetime] = {}
    out = []
    for code, rows in batch.grouped().items():
        if not rows:
            continue
        table_rows: list[Row] = []
        for (guild, hour, *dims), vals in rows.items():
            stamp = stamps.get(int(hour))
            if stamp is None:
                stamp = stamps[int(hour)] = utc(int(hour))
            table_rows.append((guild, stamp, *dims, *vals))
        out.append(TableRows(SERIES[code], table_rows))
    return out


# How each series feeds the per-member daily rollup: member_daily column -> SQL over the hourly row.
MEMBER_SOURCES: dict[str, dict[str, str]] = {
    MESSAGES.code: {"messages": "messages", "characters": "characters"},
    VOICE.code: {"voice_s": " + ".join(VOICE_BUCKETS), "active_s": "active_s"},
    EMOJIS.code: {"emojis": "count"},
    APPS.code: {"commands": "count"},
}


def record_rows(batch: Batch) -> dict[str, list[dict[str, Any]]]:
    """Group a batch's records by kind into column dictionaries, times as datetimes."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for key, value in batch.records.items():
        kind = RECORD_KINDS[str(key[0])]
        row: dict[str, Any] = {"guild_id": key[1]}
        row.update(zip(kind.identity, key[2:], strict=True))
        row.update(zip(kind.values, value, strict=True))
        out[kind.code].append(_typed(kind, row))
    return out


def _typed(kind: RecordKind, row: dict[str, Any]) -> dict[str, Any]:
    table = t.metadata.tables[kind.table]
    for name, v in row.items():
        if v is None or name not in table.c:
            continue
        typ = table.c[name].type
        if isinstance(typ, UTCDateTime):
            row[name] = utc(int(v))
        elif isinstance(typ, sa.Boolean):
            row[name] = bool(v)
    return row


class BatchWriter:
    """Applies batches to the database in one transaction each, skipping replays."""

    def __init__(
        self, engine: AsyncEngine, *, parallel_min_rows: int = 20_000, clock: Callable[[], float] = time.time
    ) -> None:
        self.engine = engine
        self.parallel_min_rows = parallel_min_rows
        # What "now" is for the ledger and for telling the guild's past from today.
        self.clock = clock
        self._pg = engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if self._pg else sqlite.insert
        # The UTC day of an hourly row, in each dialect (SQLite keeps times as naive UTC text).
        self._day = (
            "(date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"
            if self._pg
            else "(substr(hour, 1, 10) || ' 00:00:00.000000')"
        )

    async def apply(self, batch: Batch, fault: FaultHook = no_fault) -> bool:
        """Write ``batch``; False when the ledger shows it was written before.

        A large batch on PostgreSQL is written as ``PARALLEL_PARTS`` parts, split by
        member so that no two parts touch the same row, each in its own transaction
        with its own ledger id, on separate connections at once. The batch is only
        dropped from the store once every part committed; a replay skips the parts
        already in the ledger, so the batch still lands exactly once.
        """
        parts = self.split(batch)
        if len(parts) == 1:
            return await self._apply_one(batch, fault)
        results = await asyncio.gather(*(self._apply_one(p, fault) for p in parts), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return any(results)

    def split(self, batch: Batch) -> list[Batch]:
        """The parts a batch is written in (itself when small, or on SQLite, which has one writer)."""
        rows = batch.grouped()
        n_rows = sum(len(r) for r in rows.values())
        if not self._pg or n_rows < self.parallel_min_rows:
            return [batch]
        n = PARALLEL_PARTS
        split_rows: list[Rows] = [{code: {} for code in rows} for _ in range(n)]
        for code, series_rows in rows.items():
            user_at = 2 + SERIES[code].dims.index("user_id")
            for key, vals in series_rows.items():
                split_rows[int(key[user_at]) % n][code][key] = vals
        # The part ids depend only on the batch and PARALLEL_PARTS: a replay splits the same way.
        return [
            Batch(f"{batch.batch_id}#{k}/{n}", rows=part, records=batch.records if k == 0 else {})
            for k, part in enumerate(split_rows)
        ]

    async def _apply_one(self, batch: Batch, fault: FaultHook) -> bool:
        async with self.engine.begin() as conn:
            stmt = (
                self._insert(t.flush_ledger)
                .values(
                    batch_id=batch.batch_id,
                    applied_at=utc(self.clock()),
                    counters=len(batch) - len(batch.records),
                    records=len(batch.records),
                )
                .on_conflict_do_nothing(index_elements=["batch_id"])
                .returning(t.flush_ledger.c.batch_id)
            )
            if (await conn.execute(stmt)).first() is None:
                log.info("batch %s was already written; skipping the replay", batch.batch_id)
                return False
            await self._write_counters(conn, hourly_rows(batch))
            await self._write_records(conn, record_rows(batch))
            # Last, so that parts written at once hold the version rows only until they commit.
            await history.bump(conn, past_months(batch, history.past_before(self.clock())))
            fault("in_transaction")
        return True

    async def _write_counters(self, conn: AsyncConnection, tables: list[TableRows]) -> None:
        """Stage each series' hourly rows, then merge them into the hourly, daily and member tables."""
        if not tables:
            return
        day = self._day
        member_parts = []
        for rows in tables:
            stage = f"stage_{rows.table.name}"
            dims = rows.series.dims
            await self._stage(conn, rows)
            await conn.exec_driver_sql(self._merge_sql(rows.table.name, rows.keys, rows.values, stage))
            sums = ", ".join(f"sum({v})" for v in rows.values)
            group = ", ".join(("guild_id", day, *dims))
            daily = f"(SELECT {group}, {sums} FROM {stage} WHERE true GROUP BY {group})"
            await conn.exec_driver_sql(
                self._merge_sql(rows.series.daily_table, ("guild_id", "day", *dims), rows.values, daily)
            )
            feeds = MEMBER_SOURCES.get(rows.series.code)
            if feeds is None:  # a series that does not count as member activity (presence)
                continue
            exprs = ", ".join(f"{feeds.get(f, '0')} AS {f}" for f in t.MEMBER_DAILY_FIELDS)
            member_parts.append(f"SELECT guild_id, {day} AS day, user_id, {exprs} FROM {stage}")
        if not member_parts:
            return
        sums = ", ".join(f"sum({f})" for f in t.MEMBER_DAILY_FIELDS)
        union = " UNION ALL ".join(member_parts)
        member = f"(SELECT guild_id, day, user_id, {sums} FROM ({union}) u WHERE true GROUP BY guild_id, day, user_id)"
        await conn.exec_driver_sql(
            self._merge_sql("member_daily", ("guild_id", "day", "user_id"), t.MEMBER_DAILY_FIELDS, member)
        )

    @staticmethod
    def _merge_sql(table: str, keys: Sequence[str], values: Sequence[str], source: str) -> str:
        """Add ``source``'s rows into ``table``: insert new keys, sum values into existing ones."""
        cols = ", ".join((*keys, *values))
        if not source.startswith("("):
            source = f"(SELECT {cols} FROM {source} WHERE true)"
        updates = ", ".join(f"{v} = {table}.{v} + excluded.{v}" for v in values)
        # In key order: index pages are then touched once each, not at random.
        order = ", ".join(f"{i + 1}" for i in range(len(keys)))
        return (
            f"INSERT INTO {table} ({cols}) SELECT * FROM {source} s WHERE true ORDER BY {order} "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
        )

    async def _stage(self, conn: AsyncConnection, rows: TableRows) -> None:
        """Load rows into a temporary table named ``stage_<table>``, emptied first."""
        name = rows.table.name
        stage = f"stage_{name}"
        if self._pg:
            # Not cached per connection: a rolled-back transaction takes a new temp table with it.
            await conn.exec_driver_sql(
                f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.copy_records_to_table(stage, records=rows.rows, columns=list(rows.columns))
            return
        await conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {stage} AS SELECT * FROM {name} WHERE 0")
        await conn.exec_driver_sql(f"DELETE FROM {stage}")
        stage_table = sa.Table(stage, sa.MetaData(), *(sa.Column(c.name, c.type) for c in rows.table.columns))
        await conn.execute(sa.insert(stage_table), [dict(zip(rows.columns, r, strict=True)) for r in rows.rows])

    async def _write_records(self, conn: AsyncConnection, by_kind: dict[str, list[dict[str, Any]]]) -> None:
        # Joins before leaves: a leave closes the join rows written before it.
        for code in ("channel", "invite", "backfill", "join", "vsess"):
            rows = by_kind.get(code)
            if rows:
                await self._upsert_records(conn, RECORD_KINDS[code], rows)
        leaves = by_kind.get(MEMBER_LEAVE.code)
        if leaves:
            j = t.member_joins
            stmt = (
                sa.update(j)
                .where(
                    j.c.guild_id == sa.bindparam("g"),
                    j.c.user_id == sa.bindparam("u"),
                    j.c.left_at.is_(None),
                    j.c.joined_at <= sa.bindparam("l", type_=UTCDateTime),
                )
                .values(left_at=sa.bindparam("l", type_=UTCDateTime))
            )
            await conn.execute(stmt, [{"g": r["guild_id"], "u": r["user_id"], "l": r["left_at"]} for r in leaves])

    async def _upsert_records(self, conn: AsyncConnection, kind: RecordKind, rows: list[dict[str, Any]]) -> None:
        table = t.metadata.tables[kind.table]
        keys = ["guild_id", *kind.identity]
        stmt = self._insert(table)
        ex = stmt.excluded
        set_: dict[str, Any] = {v: ex[v] for v in kind.values}
        if kind is VOICE_SESSION:
            # A spilled batch can land before older ones: a session only moves forward,
            # and once closed it stays closed (a session is never reopened).
            greatest = sa.func.greatest if self._pg else sa.func.max
            set_ = {
                "channel_id": ex.channel_id,
                "ended_at": greatest(table.c.ended_at, ex.ended_at),
                "open": sa.and_(table.c.open, ex.open),
            }
        await conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=set_), rows)
