"""Writing a frozen batch into the database, exactly once.

One transaction per batch (or per part of a large one): insert the batch id into
``flush_ledger`` (a batch already there is skipped: it was committed before a
crash and is being replayed), then the counters, then the records, then the
history version of every month of a guild whose earlier days the batch changed
(``db.history``). Each series' hourly rows are loaded into a temporary staging
table (``COPY`` on PostgreSQL, straight from the Redis bytes where it can; one
``executemany`` on SQLite); set-based ``INSERT … SELECT … ON CONFLICT``
statements then merge the stage into the hourly table and, for rows of closed
days, into its daily rollup and the per-member daily rollup, so a closed day's
rollups are always exactly the sums of its hourly rows. Rows of a guild's open
days (normally today) are hourly only until the day closes (``db.rollups``).
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db import coverage, history
from db import tables as t
from db.dialect import insert_for
from db.rollups import merge_sql, rollup_statements
from db.series import (
    MEMBER_LEAVE,
    RECORD_KINDS,
    SERIES,
    VOICE_SESSION,
    RecordKey,
    RecordKind,
    RecordValue,
    Rows,
    Series,
    part_of,
)
from db.types import UTCDateTime, utc

log = logging.getLogger(__name__)

Row = tuple[Any, ...]

# A batch of at least ``parallel_min_rows`` counter rows is written as this many parts
# at once (PostgreSQL only), split by the last digit of the member id (``part_of``).
# Changing it changes the ledger ids of the parts: deploy a change only with no batch
# pending in the store.
PARALLEL_PARTS = 2
assert 10 % PARALLEL_PARTS == 0, "parts are picked by a member id's last decimal digit"
FaultHook = Callable[[str], None]


class Batch(Protocol):
    """What the writer needs of a frozen batch (the buffer's ``Batch`` is one)."""

    @property
    def batch_id(self) -> str: ...

    @property
    def records(self) -> Mapping[RecordKey, RecordValue]: ...

    @property
    def size(self) -> int:
        """Counter rows when loaded: what decides the split, so that a replay splits alike."""

    def grouped(self) -> Rows:
        """The counters as rows, one value per field of the series."""

    def wire_lines(self, parts: int) -> tuple[list[dict[str, list[bytes]]], Rows] | None:
        """COPY text lines of id-only rows per part and the rest decoded, or None (decode instead)."""


def no_fault(_step: str) -> None:
    """The fault hook of a real flush: nothing happens at any step."""
    return None


class Staged:
    """One series' hourly rows of a part, as they are loaded into its staging table.

    ``lines`` are rows in PostgreSQL's COPY text format, straight from the Redis
    bytes; ``rows`` are tuples ``(guild_id, hour epoch, *dims, *values)``.
    """

    __slots__ = ("lines", "rows", "series")

    def __init__(self, series: Series) -> None:
        self.series = series
        self.lines: list[bytes] = []
        self.rows: list[Row] = []

    @property
    def columns(self) -> tuple[str, ...]:
        return ("guild_id", "hour", *self.series.dims, *self.series.fields)

    @property
    def stage(self) -> str:
        """The temporary table the rows are loaded into (one per series and connection)."""
        return f"stage_{self.series.code}"


@dataclass(slots=True)
class Part:
    """What one transaction writes: a whole batch, or one part of a large one."""

    batch_id: str
    staged: list[Staged]
    records: Mapping[RecordKey, RecordValue]

    @property
    def counters(self) -> int:
        return sum(len(s.lines) + len(s.rows) for s in self.staged)


def record_rows(records: Mapping[RecordKey, RecordValue]) -> dict[str, list[dict[str, Any]]]:
    """Group records by kind into column dictionaries, times as datetimes."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for key, value in records.items():
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
        self._insert = insert_for(engine)

    def _time(self, epoch: str) -> str:
        """SQL for the stored time of an epoch expression (SQLite keeps times as naive UTC text)."""
        if self._pg:
            return f"to_timestamp({epoch})"
        return f"strftime('%Y-%m-%d %H:%M:%S.000000', {epoch}, 'unixepoch')"

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
            return await self._apply_one(parts[0], fault)
        results = await asyncio.gather(*(self._apply_one(p, fault) for p in parts), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return any(results)

    def split(self, batch: Batch) -> list[Part]:
        """The parts a batch is written in (one when small, or on SQLite, which has one writer).

        On PostgreSQL the rows of id-only series go from the Redis bytes into COPY
        text as they are; everything else is decoded into tuples.
        """
        n = PARALLEL_PARTS if self._pg and batch.size >= self.parallel_min_rows else 1
        staged: list[dict[str, Staged]] = [{} for _ in range(n)]

        def stage(k: int, code: str) -> Staged:
            found = staged[k].get(code)
            if found is None:
                found = staged[k][code] = Staged(SERIES[code])
            return found

        wired = batch.wire_lines(n) if self._pg else None
        if wired is not None:
            lines, rest = wired
            for k, by_code in enumerate(lines):
                for code, series_lines in by_code.items():
                    if series_lines:
                        stage(k, code).lines = series_lines
        else:
            rest = batch.grouped()
        for code, series_rows in rest.items():
            user_at = SERIES[code].user_dim - 1  # row keys have no series code in front
            for key, vals in series_rows.items():
                stage(part_of(int(key[user_at]), n), code).rows.append((*key, *vals))
        if n == 1:
            return [Part(batch.batch_id, list(staged[0].values()), batch.records)]
        # The part ids depend only on the batch and PARALLEL_PARTS: a replay splits the same way.
        return [
            Part(f"{batch.batch_id}#{k}/{n}", list(part.values()), batch.records if k == 0 else {})
            for k, part in enumerate(staged)
        ]

    async def _apply_one(self, part: Part, fault: FaultHook) -> bool:
        async with self.engine.begin() as conn:
            if self._pg:
                # Compiling these one-off statements costs more than running them.
                await conn.exec_driver_sql("SET LOCAL jit = off")
            stmt = (
                self._insert(t.flush_ledger)
                .values(
                    batch_id=part.batch_id,
                    applied_at=utc(self.clock()),
                    counters=part.counters,
                    records=len(part.records),
                )
                .on_conflict_do_nothing(index_elements=["batch_id"])
                .returning(t.flush_ledger.c.batch_id)
            )
            if (await conn.execute(stmt)).first() is None:
                log.info("batch %s was already written; skipping the replay", part.batch_id)
                return False
            await self._write_counters(conn, part.staged)
            await self._write_records(conn, record_rows(part.records))
            # Last, so that parts written at once hold the version rows only until they commit.
            await history.bump(conn, await self._past_months(conn, part.staged))
            fault("in_transaction")
        return True

    async def _write_counters(self, conn: AsyncConnection, staged: list[Staged]) -> None:
        """Stage each series' hourly rows, then merge them into the hourly tables and, for rows
        of closed days (``db.rollups``), into the daily and per-member rollups."""
        if not staged:
            return
        for rows in staged:
            await self._stage(conn, rows)
            series = rows.series
            rest = ", ".join(rows.columns[2:])
            hourly = f"(SELECT guild_id, {self._time('hour')}, {rest} FROM {rows.stage} WHERE true)"
            keys = ("guild_id", "hour", *series.dims)
            await conn.exec_driver_sql(merge_sql(series.hourly_table, keys, series.fields, hourly))
        if self._pg:
            # Until commit: no day of these guilds closes while this decides which rows it rolls up.
            guilds = " UNION ".join(f"SELECT guild_id FROM {rows.stage}" for rows in staged)
            await conn.exec_driver_sql(f"SELECT 1 FROM open_days WHERE guild_id IN ({guilds}) FOR SHARE")
        closed = "NOT EXISTS (SELECT 1 FROM open_days o WHERE o.guild_id = s.guild_id AND s.hour >= o.open_from)"
        sources = [(rows.series, rows.stage) for rows in staged]
        for sql in rollup_statements(sources, closed, "hour / 86400 * 86400", self._time, replace=False):
            await conn.exec_driver_sql(sql)

    async def _past_months(self, conn: AsyncConnection, staged: list[Staged]) -> set[tuple[int, int]]:
        """``(guild, month)`` of the staged rows of an hour before today (clock margin included)."""
        if not staged:
            return set()
        before = history.past_before(self.clock())
        days = " UNION ".join(
            f"SELECT DISTINCT guild_id, hour / 86400 * 86400 FROM {s.stage} WHERE hour < {before}" for s in staged
        )
        found = (await conn.execute(sa.text(days))).all()
        return {(int(row[0]), history.month_of(int(row[1]))) for row in found}

    async def _stage(self, conn: AsyncConnection, rows: Staged) -> None:
        """Load rows into their temporary table ``rows.stage`` (hours as epochs), emptied first."""
        series = rows.series
        stage = rows.stage
        types = [("guild_id", int), ("hour", int), *zip(series.dims, series.dim_types, strict=True)]
        types += [(f, int) for f in series.fields]
        defs = ", ".join(f"{name} {'bigint' if ty is int else 'text'} NOT NULL" for name, ty in types)
        columns = list(rows.columns)
        if self._pg:
            # Not cached per connection: a rolled-back transaction takes a new temp table with it.
            await conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ({defs}) ON COMMIT DELETE ROWS")
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            if rows.lines:
                text = io.BytesIO(b"\n".join(rows.lines) + b"\n")
                await driver.copy_to_table(stage, source=text, columns=columns, format="text")
            if rows.rows:
                await driver.copy_records_to_table(stage, records=rows.rows, columns=columns)
            return
        await conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ({defs})")
        await conn.exec_driver_sql(f"DELETE FROM {stage}")
        marks = ", ".join("?" for _ in columns)
        await conn.exec_driver_sql(f"INSERT INTO {stage} ({', '.join(columns)}) VALUES ({marks})", rows.rows)

    async def _write_records(self, conn: AsyncConnection, by_kind: dict[str, list[dict[str, Any]]]) -> None:
        # Joins before leaves: a leave closes the join rows written before it.
        for code in ("channel", "invite", "backfill", "join", "vsess", "mname"):
            rows = by_kind.get(code)
            if rows:
                await self._upsert_records(conn, RECORD_KINDS[code], rows)
        # High-water marks, catch-up ranges and coverage (#16) have merge rules of their own.
        await coverage.write_records(conn, by_kind)
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
