"""Flush throughput into TimescaleDB through the real flusher, against a raw COPY of the same rows.

Prints counter rows per second flushed (freeze in Redis, load, one transaction with
ledger + hourly upsert (+ rollups of closed days), drop) and, in the same run, the
rate of a plain ``COPY`` of the same hourly rows into the same table. Targets:
>= 100,000 rows/s and >= 0.25 of raw COPY. Also prints increments per second
accepted on the event path (target: >= 1,000,000/s in process), next to a bare
dict increment as baseline.

The rows are today's (UTC), in a guild whose today is open, as a running bot
flushes them: hourly upserts only, the day's rollups are written when it closes
(``db.rollups``). The same rows flushed into closed days (a late batch, backfill,
or every flush before the bot opened today) and the cost of closing the day are
printed too: the work the open day defers, not work it saves.

Both are measured into existing chunks, emptied between rounds: a running bot
creates a chunk once per 7 days, not in every flush.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from _common import emit, recreate_database, service_urls
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.buffer import Counters
from bot.buffer.flusher import Flusher
from bot.buffer.keys import RedisKeys
from bot.buffer.pusher import Pusher
from bot.buffer.redis_store import RedisStore
from db.engine import create_engine
from db.flush import BatchWriter
from db.migrate import upgrade
from db.rollups import DayCloser, day_start
from db.series import DAY, HOUR, MESSAGES

ROWS = 200_000
ROUNDS = 3
INCREMENTS = 2_000_000


Row = tuple[int, int, int, int, tuple[int, int, int, int]]


def make_rows(n: int, seed: int, base: int) -> list[Row]:
    """``n`` distinct message rows: (guild, hour, channel, user, values) over the UTC day from ``base``."""
    rng = random.Random(seed)
    seen: set[tuple[int, int, int, int]] = set()
    out: list[Row] = []
    while len(out) < n:
        key = (
            rng.randrange(1, 4),
            base + HOUR * rng.randrange(0, 24),
            10_000 + rng.randrange(0, 50),
            1_000_000 + rng.randrange(0, 20_000),
        )
        if key in seen:
            continue
        seen.add(key)
        out.append((*key, (rng.randrange(1, 9), rng.randrange(10, 900), rng.randrange(0, 2), rng.randrange(0, 3))))
    return out


def emptied(*tables: str) -> str:
    """SQL that empties hypertables chunk by chunk, keeping the chunks.

    A running bot writes into chunks that exist (one is created per 7 days of
    hourly rows): the flusher and the raw COPY are both measured that way.
    """
    names = ", ".join(f"'{t}'" for t in tables)
    return (
        "DO $$ DECLARE c regclass; BEGIN "
        f"FOR c IN SELECT show_chunks(h) FROM unnest(ARRAY[{names}]::regclass[]) h "
        "LOOP EXECUTE format('TRUNCATE %s', c); END LOOP; END $$"
    )


@asynccontextmanager
async def pushed(
    db_url: str, redis_url: str, rows: list[Row], open_from: int | None
) -> AsyncIterator[tuple[AsyncEngine, RedisStore]]:
    """Empty tables, the guilds' days from ``open_from`` open (None: all closed), and ``rows``
    counted and pushed to Redis: what a flush then finds."""
    engine = create_engine(db_url)
    store = RedisStore.from_url(redis_url, RedisKeys(f"bench:{uuid.uuid4().hex[:8]}:"))
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(emptied("message_hourly", "message_daily", "member_daily"))
            await conn.exec_driver_sql("TRUNCATE flush_ledger, open_days")
            if open_from is not None:
                guilds = sorted({r[0] for r in rows})
                values = ", ".join(f"({g}, {open_from})" for g in guilds)
                await conn.exec_driver_sql(f"INSERT INTO open_days (guild_id, open_from) VALUES {values}")
        counters = Counters()
        for g, h, c, u, vals in rows:
            for field, v in zip(MESSAGES.fields, vals, strict=True):
                counters.incr(("msg", g, h, c, u, field), v)
        assert await Pusher(counters, store).push_once()
        yield engine, store
    finally:
        await store.close()
        await engine.dispose()


async def flush_rate(db_url: str, redis_url: str, rows: list[Row], open_from: int | None) -> float:
    async with pushed(db_url, redis_url, rows, open_from) as (engine, store):
        flusher = Flusher(store, BatchWriter(engine), interval=10)
        t0 = time.perf_counter()
        result = await flusher.flush_once()
        elapsed = time.perf_counter() - t0
        assert result.batches == 1
        return len(rows) / elapsed


async def close_rate(db_url: str, redis_url: str, rows: list[Row], day: int) -> float:
    """Hourly rows per second rolled up when their open day closes (once per guild and day)."""
    async with pushed(db_url, redis_url, rows, day) as (engine, store):
        await Flusher(store, BatchWriter(engine), interval=10).flush_once()
        days = DayCloser(engine)
        t0 = time.perf_counter()
        for guild in sorted({r[0] for r in rows}):
            await days.close_through(guild, day + DAY)
        return len(rows) / (time.perf_counter() - t0)


async def phases(db_url: str, redis_url: str, rows: list[Row], open_from: int) -> dict[str, float]:
    """Seconds of each step of one flush of ``rows`` (the flusher's steps, timed one by one)."""
    async with pushed(db_url, redis_url, rows, open_from) as (engine, store):
        t0 = time.perf_counter()
        await store.freeze()
        (batch_id,) = await store.pending()
        batch = await store.load(batch_id)
        t1 = time.perf_counter()
        await BatchWriter(engine).apply(batch)
        t2 = time.perf_counter()
        await store.drop(batch_id)
        return {"redis_and_decode_s": t1 - t0, "database_s": t2 - t1, "drop_s": time.perf_counter() - t2}


async def copy_rate(db_url: str, rows: list[Row]) -> float:
    from datetime import UTC, datetime

    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(db_url)
    conn = await asyncpg.connect(host=u.host, port=u.port, user=u.username, password=u.password, database=u.database)
    try:
        await conn.execute(emptied("message_hourly"))
        records = [(g, datetime.fromtimestamp(h, UTC), c, us, *vals) for g, h, c, us, vals in rows]
        cols = ["guild_id", "hour", "channel_id", "user_id", *MESSAGES.fields]
        t0 = time.perf_counter()
        await conn.copy_records_to_table("message_hourly", records=records, columns=cols)
        return len(rows) / (time.perf_counter() - t0)
    finally:
        await conn.close()


def increment_rates() -> tuple[float, float]:
    """Event-path increments per second: Counters.incr, and a bare dict as baseline."""
    rng = random.Random(1)
    keys = [("msg", 1, 1_763_798_400, 10_000 + rng.randrange(50), 1_000_000 + rng.randrange(5_000), "messages")
            for _ in range(50_000)]  # fmt: skip
    stream = [keys[rng.randrange(len(keys))] for _ in range(INCREMENTS)]
    counters = Counters()
    incr = counters.incr
    t0 = time.perf_counter()
    for k in stream:
        incr(k, 1)
    ours = INCREMENTS / (time.perf_counter() - t0)
    d: dict[tuple[object, ...], int] = {}
    t0 = time.perf_counter()
    for k in stream:
        d[k] = d.get(k, 0) + 1
    bare = INCREMENTS / (time.perf_counter() - t0)
    return ours, bare


async def main() -> None:
    db_url, redis_url = service_urls()
    bench_url = await recreate_database(db_url, "statsbot_bench_flush")
    engine = create_engine(bench_url)
    await upgrade(engine)
    await engine.dispose()
    today = day_start(time.time())
    rows = make_rows(ROWS, seed=7, base=today)
    open_rates, closed_rates, copy_rates, close_rates = [], [], [], []
    # Once, untimed: creates the chunks every round then writes into, as in a running bot.
    await copy_rate(bench_url, rows)
    await flush_rate(bench_url, redis_url, rows, None)
    for _ in range(ROUNDS):
        copy_rates.append(await copy_rate(bench_url, rows))
        open_rates.append(await flush_rate(bench_url, redis_url, rows, today))
        closed_rates.append(await flush_rate(bench_url, redis_url, rows, None))
        close_rates.append(await close_rate(bench_url, redis_url, rows, today))
    steps = await phases(bench_url, redis_url, rows, today)
    flush_med, copy_med = statistics.median(open_rates), statistics.median(copy_rates)
    closed_med, close_med = statistics.median(closed_rates), statistics.median(close_rates)
    ratio = flush_med / copy_med
    incr_rate, bare_rate = increment_rates()
    print(f"rows per flush:          {ROWS:,} message_hourly rows of today (UTC), 3 guilds, 20,000 members")
    print(f"flusher (median of {ROUNDS}):   {flush_med:,.0f} rows/s   target >= 100,000: {flush_med >= 100_000}")
    print(f"raw COPY (median of {ROUNDS}):  {copy_med:,.0f} rows/s")
    print(f"ratio flusher / COPY:    {ratio:.2f}   target >= 0.25: {ratio >= 0.25}")
    print(
        "where a flush's time goes: "
        + ", ".join(f"{k.removesuffix('_s').replace('_', ' ')} {v:.2f} s" for k, v in steps.items())
        + " (database: staging COPY and hourly upsert, in parts at once)"
    )
    print(
        f"same rows into closed days (hourly + daily + member rollups in the transaction): {closed_med:,.0f} rows/s "
        f"(ratio to COPY {closed_med / copy_med:.2f})"
    )
    print(f"closing the day afterwards (its rollups from its hourly rows, once): {close_med:,.0f} hourly rows/s")
    print(f"event-path increments:   {incr_rate:,.0f}/s   target >= 1,000,000: {incr_rate >= 1_000_000}")
    print(f"bare dict increments:    {bare_rate:,.0f}/s   ratio {incr_rate / bare_rate:.2f}")
    emit(
        {
            "flush_rows_per_s": round(flush_med),
            "copy_rows_per_s": round(copy_med),
            "ratio_vs_copy": round(ratio, 3),
            "flush_closed_days_rows_per_s": round(closed_med),
            "ratio_closed_days_vs_copy": round(closed_med / copy_med, 3),
            "close_day_rows_per_s": round(close_med),
            "increments_per_s": round(incr_rate),
            "bare_dict_increments_per_s": round(bare_rate),
            "ratio_vs_bare_dict": round(incr_rate / bare_rate, 3),
            "rows": ROWS,
            **{f"step_{k}": round(v, 3) for k, v in steps.items()},
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
