"""/export throughput and memory on TimescaleDB: the streamed CSV against fetching every row first.

Seeds ``ROWS`` message_hourly rows of one guild, then builds the messages CSV for the
whole period twice per round: the way /export does it (server-side cursor, chunks of
``CHUNK_ROWS``, spooled file: db/export.py + bot/render/csvfile.py), and a baseline that
fetches all rows then writes the CSV in memory. Prints rows per second and the peak
Python memory (tracemalloc, in a separate untimed run) of each, and the ratios. Targets: streamed >= 0.5 of the
baseline's speed, and a peak memory well under the baseline's.
"""

from __future__ import annotations

import asyncio
import csv
import io
import random
import statistics
import time
import tracemalloc
from datetime import UTC, datetime

import asyncpg
from _common import emit, recreate_database, service_urls
from sqlalchemy.engine import make_url

from bot.render.csvfile import CsvSpool, cell
from db.engine import create_engine
from db.export import export_query, stream_rows
from db.migrate import upgrade

ROWS = 200_000
ROUNDS = 3
GUILD = 1
START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)


async def seed(url: str) -> None:
    """``ROWS`` distinct hourly message rows over most of a year, by COPY."""
    rng = random.Random(7)
    keys: set[tuple[int, int, int]] = set()
    while len(keys) < ROWS:
        keys.add((rng.randrange(0, 24 * 300), 10_000 + rng.randrange(0, 40), 1_000_000 + rng.randrange(0, 5_000)))
    base = int(START.timestamp())
    records = [
        (GUILD, datetime.fromtimestamp(base + 3600 * h, UTC), c, u, rng.randrange(1, 9), rng.randrange(9, 900), 0, 1)
        for h, c, u in keys
    ]
    u = make_url(url)
    conn = await asyncpg.connect(host=u.host, port=u.port, user=u.username, password=u.password, database=u.database)
    try:
        cols = ["guild_id", "hour", "channel_id", "user_id", "messages", "characters", "attachments", "replies"]
        await conn.copy_records_to_table("message_hourly", records=records, columns=cols)
    finally:
        await conn.close()


async def streamed(url: str, trace: bool) -> tuple[float, int, int]:
    """(seconds, peak bytes or 0, file bytes) of the /export path."""
    engine = create_engine(url)
    try:
        if trace:
            tracemalloc.start()
        t0 = time.perf_counter()
        spool = CsvSpool("messages")
        async for chunk in stream_rows(engine, "messages", GUILD, START, END):
            spool.add(chunk)
        out = spool.finish("bench", 1 << 40)
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
        tracemalloc.stop()
        assert out.rows == ROWS, out.rows
        out.file.close()
        return elapsed, peak, out.size
    finally:
        await engine.dispose()


async def fetch_all(url: str, trace: bool) -> tuple[float, int, int]:
    """(seconds, peak bytes or 0, file bytes) of the baseline: every row fetched, then one CSV string."""
    engine = create_engine(url)
    try:
        if trace:
            tracemalloc.start()
        t0 = time.perf_counter()
        async with engine.connect() as conn:
            rows = (await conn.execute(export_query("messages", GUILD, START, END))).all()
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerows([cell(v) for v in row] for row in rows)
        data = buf.getvalue().encode()
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
        tracemalloc.stop()
        return elapsed, peak, len(data)
    finally:
        await engine.dispose()


async def main() -> None:
    db_url, _ = service_urls()
    url = await recreate_database(db_url, "statsbot_bench_export")
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    await seed(url)
    s_times, s_peaks, b_times, b_peaks = [], [], [], []
    # Timed rounds without tracemalloc (it slows allocation-heavy code several times), then one traced run each.
    for _ in range(ROUNDS):
        st, _, size = await streamed(url, trace=False)
        bt, _, _ = await fetch_all(url, trace=False)
        s_times.append(st)
        b_times.append(bt)
    s_peaks.append((await streamed(url, trace=True))[1])
    b_peaks.append((await fetch_all(url, trace=True))[1])
    s_rate, b_rate = ROWS / statistics.median(s_times), ROWS / statistics.median(b_times)
    s_peak, b_peak = max(s_peaks), max(b_peaks)
    print(f"rows: {ROWS:,}, CSV {size / 1e6:.1f} MB")
    print(f"/export streamed (median of {ROUNDS}): {s_rate:,.0f} rows/s, peak Python memory {s_peak / 1e6:.1f} MB")
    print(f"fetch-all baseline:                {b_rate:,.0f} rows/s, peak Python memory {b_peak / 1e6:.1f} MB")
    print(f"speed ratio streamed/baseline: {s_rate / b_rate:.2f}; memory ratio: {s_peak / b_peak:.2f}")
    emit(
        {
            "rows": ROWS,
            "streamed_rows_per_s": round(s_rate),
            "baseline_rows_per_s": round(b_rate),
            "speed_ratio": round(s_rate / b_rate, 3),
            "streamed_peak_mb": round(s_peak / 1e6, 1),
            "baseline_peak_mb": round(b_peak / 1e6, 1),
            "memory_ratio": round(s_peak / b_peak, 3),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
