"""Writing a frozen batch into the database, exactly once.

One transaction per batch: insert the batch id into ``flush_ledger`` (a batch
already there is skipped: it was committed before a crash and is being
replayed), then upsert the hourly rows, the daily rollups and the per-member
daily rollup in bulk, then the records. On PostgreSQL each counter table is
loaded by ``COPY`` into a temporary staging table and merged with one
``INSERT … SELECT … ON CONFLICT``; on SQLite one ``executemany`` upsert per table.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.buffer.codec import clean_text
from bot.buffer.store import Batch
from bot.series import (
    APPS,
    DAY,
    EMOJIS,
    MEMBER_LEAVE,
    MESSAGES,
    RECORD_KINDS,
    SERIES,
    VOICE,
    VOICE_BUCKETS,
    VOICE_SESSION,
    RecordKind,
)
from db import tables as t
from db.types import UTCDateTime, utc

log = logging.getLogger(__name__)

Row = tuple[Any, ...]
FaultHook = Callable[[str], None]


def _no_fault(_step: str) -> None:
    return None


class TableRows:
    """Rows for one counter table: key columns, summed value columns, the rows."""

    __slots__ = ("keys", "rows", "table", "values")

    def __init__(self, table: sa.Table, keys: Sequence[str], values: Sequence[str]) -> None:
        self.table = table
        self.keys = tuple(keys)
        self.values = tuple(values)
        self.rows: list[Row] = []

    @property
    def columns(self) -> tuple[str, ...]:
        return self.keys + self.values


def counter_rows(batch: Batch) -> list[TableRows]:
    """Group a batch's counters into rows of every table they feed (hourly, daily, member)."""
    hourly: dict[str, dict[tuple[Any, ...], list[int]]] = {code: {} for code in SERIES}
    field_pos = {code: {f: i for i, f in enumerate(s.fields)} for code, s in SERIES.items()}
    for key, n in batch.counters.items():
        code = str(key[0])
        row_key = tuple(clean_text(p) if isinstance(p, str) else p for p in key[1:-1])
        vals = hourly[code].get(row_key)
        if vals is None:
            vals = hourly[code][row_key] = [0] * len(SERIES[code].fields)
        vals[field_pos[code][str(key[-1])]] += n

    out: list[TableRows] = []
    member: dict[tuple[int, int, int], list[int]] = defaultdict(lambda: [0] * len(t.MEMBER_DAILY_FIELDS))
    stamps: dict[int, datetime] = {}

    def stamp(epoch: int) -> datetime:
        d = stamps.get(epoch)
        if d is None:
            d = stamps[epoch] = utc(epoch)
        return d

    for code, rows in hourly.items():
        if not rows:
            continue
        series = SERIES[code]
        h = TableRows(t.HOURLY[code], ("guild_id", "hour", *series.dims), series.fields)
        daily: dict[tuple[Any, ...], list[int]] = {}
        user_at = series.dims.index("user_id") + 2
        for (guild, hour, *dims), vals in rows.items():
            h.rows.append((guild, stamp(hour), *dims, *vals))
            day = hour - hour % DAY
            dkey = (guild, day, *dims)
            acc = daily.get(dkey)
            if acc is None:
                daily[dkey] = list(vals)
            else:
                for i, v in enumerate(vals):
                    acc[i] += v
            _add_member(member[(guild, day, dims[user_at - 2])], code, vals)
        d = TableRows(t.DAILY[code], ("guild_id", "day", *series.dims), series.fields)
        d.rows = [(g, stamp(day), *dims, *vals) for (g, day, *dims), vals in daily.items()]
        out += [h, d]
    if member:
        m = TableRows(t.member_daily, ("guild_id", "day", "user_id"), t.MEMBER_DAILY_FIELDS)
        m.rows = [(g, stamp(day), u, *vals) for (g, day, u), vals in member.items()]
        out.append(m)
    return out


_VOICE_TOTAL = [VOICE.fields.index(b) for b in VOICE_BUCKETS]
_VOICE_ACTIVE = VOICE.fields.index("active_s")
_MD = {f: i for i, f in enumerate(t.MEMBER_DAILY_FIELDS)}


def _add_member(acc: list[int], code: str, vals: list[int]) -> None:
    """Fold one hourly row of a series into the member's daily totals."""
    if code == MESSAGES.code:
        acc[_MD["messages"]] += vals[0]
        acc[_MD["characters"]] += vals[1]
    elif code == VOICE.code:
        acc[_MD["voice_s"]] += sum(vals[i] for i in _VOICE_TOTAL)
        acc[_MD["active_s"]] += vals[_VOICE_ACTIVE]
    elif code == EMOJIS.code:
        acc[_MD["emojis"]] += vals[0]
    elif code == APPS.code:
        acc[_MD["commands"]] += vals[0]


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

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._pg = engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if self._pg else sqlite.insert

    async def apply(self, batch: Batch, fault: FaultHook = _no_fault) -> bool:
        """Write ``batch``; False when the ledger shows it was written before."""
        async with self.engine.begin() as conn:
            stmt = (
                self._insert(t.flush_ledger)
                .values(
                    batch_id=batch.batch_id,
                    applied_at=utc(time.time()),
                    counters=len(batch.counters),
                    records=len(batch.records),
                )
                .on_conflict_do_nothing(index_elements=["batch_id"])
                .returning(t.flush_ledger.c.batch_id)
            )
            if (await conn.execute(stmt)).first() is None:
                log.info("batch %s was already written; skipping the replay", batch.batch_id)
                return False
            for rows in counter_rows(batch):
                if self._pg:
                    await self._copy_upsert(conn, rows)
                else:
                    await self._executemany_upsert(conn, rows)
            await self._write_records(conn, record_rows(batch))
            fault("in_transaction")
        return True

    async def _copy_upsert(self, conn: AsyncConnection, rows: TableRows) -> None:
        name = rows.table.name
        stage = f"stage_{name}"
        # Not cached per connection: a rolled-back transaction takes a new temp table with it.
        await conn.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table(stage, records=rows.rows, columns=list(rows.columns))
        cols = ", ".join(rows.columns)
        updates = ", ".join(f"{v} = {name}.{v} + EXCLUDED.{v}" for v in rows.values)
        await conn.exec_driver_sql(
            f"INSERT INTO {name} ({cols}) SELECT {cols} FROM {stage} "
            f"ON CONFLICT ({', '.join(rows.keys)}) DO UPDATE SET {updates}"
        )

    async def _executemany_upsert(self, conn: AsyncConnection, rows: TableRows) -> None:
        table = rows.table
        stmt = sqlite.insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(rows.keys),
            set_={v: table.c[v] + stmt.excluded[v] for v in rows.values},
        )
        cols = rows.columns
        await conn.execute(stmt, [dict(zip(cols, r, strict=True)) for r in rows.rows])

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
            # Batches may be replayed out of order: a session only moves forward.
            newer = ex.ended_at >= table.c.ended_at
            greatest = sa.func.greatest if self._pg else sa.func.max
            set_ = {
                "channel_id": ex.channel_id,
                "ended_at": greatest(table.c.ended_at, ex.ended_at),
                "open": sa.case((newer, ex.open), else_=table.c.open),
            }
        await conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=set_), rows)
