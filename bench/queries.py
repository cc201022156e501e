"""Report query latency on a year of a large guild in TimescaleDB, against a plain scan of the hourly tables.

Loads (server-side ``generate_series``) a year of one guild with 20,000 members:
about 6,000,000 message_hourly and 4,000,000 voice_hourly rows, builds the daily
rollups with ``INSERT … SELECT … GROUP BY`` (the report indexes come with the
migrations). Then times, 30 runs each, the queries behind
``/stats server 30d``, ``/stats user 365d`` and ``/top messages 90d`` as the bot
runs them (whole UTC days from the rollups, kept as snapshots until the guild's
history changes; hourly rows at the edges read every time) and the same answers
from the hourly tables alone, checks both agree, and prints p50/p95 and the
speed-up. Targets: p95 <= 100 ms each and >= 5x faster than the scan.

It also prints the cold figure: the same queries with no snapshot yet (the first
request after a restart, a new day, or a write into the guild's past).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from _common import emit, recreate_database, scratch_database_url, service_urls

from bot.analytics.periods import parse_period, parse_timezone
from bot.reports.builders import series_span
from db.engine import create_engine
from db.migrate import upgrade
from db.reports import Reports, Snapshots, Span, split_period

GUILD = 1
MEMBERS = 20_000
MESSAGE_ROWS_PER_HOUR = 685
VOICE_ROWS_PER_HOUR = 457
DAYS = 365
RUNS = 30
COLD_RUNS = 5
NOW = datetime(2026, 11, 22, 5, 37, tzinfo=UTC)
# Each member's rows of a day share a channel for six hours: daily rows are about a sixth of hourly.
LOAD_MESSAGES = f"""
INSERT INTO message_hourly (guild_id, hour, channel_id, user_id, messages, characters, attachments, replies)
SELECT {GUILD}, h.t, (i * 13 + h.d + h.q) % 60, (i * 7919 + h.d * 331) % {MEMBERS},
       1 + (i + h.n) % 5, 40 + (i * h.n) % 200, (i + h.n) % 7 / 6, (i + h.n) % 3 / 2
FROM (SELECT t, n, n / 24 AS d, n % 24 / 6 AS q
      FROM generate_series(0, {DAYS * 24 - 1}) n,
           LATERAL (SELECT timestamptz '{NOW:%Y-%m-%d %H}:00+00' - (n + 1) * interval '1 hour' AS t) x) h,
     generate_series(0, {MESSAGE_ROWS_PER_HOUR - 1}) i
"""
LOAD_VOICE = f"""
INSERT INTO voice_hourly (guild_id, hour, channel_id, user_id, active_s, muted_s, deafened_s, alone_s,
                          streaming_s, video_s)
SELECT {GUILD}, h.t, 100 + (i + h.d) % 10, (i * 7919 + h.d * 331 + 10000) % {MEMBERS},
       (i * 37 + h.n) % 3600, (i + h.n) % 4 * 60, 0, (i + h.n) % 5 * 30, 0, 0
FROM (SELECT t, n, n / 24 AS d
      FROM generate_series(0, {DAYS * 24 - 1}) n,
           LATERAL (SELECT timestamptz '{NOW:%Y-%m-%d %H}:00+00' - (n + 1) * interval '1 hour' AS t) x) h,
     generate_series(0, {VOICE_ROWS_PER_HOUR - 1}) i
"""
ROLLUPS = (
    """INSERT INTO message_daily SELECT guild_id, time_bucket('1 day', hour) AS day, channel_id, user_id,
       sum(messages), sum(characters), sum(attachments), sum(replies) FROM message_hourly GROUP BY 1, 2, 3, 4""",
    """INSERT INTO voice_daily SELECT guild_id, time_bucket('1 day', hour) AS day, channel_id, user_id,
       sum(active_s), sum(muted_s), sum(deafened_s), sum(alone_s), sum(streaming_s), sum(video_s)
       FROM voice_hourly GROUP BY 1, 2, 3, 4""",
    """INSERT INTO member_daily (guild_id, day, user_id, messages, characters, voice_s, active_s, emojis, commands)
       SELECT guild_id, day, user_id, sum(m), sum(c), sum(v), sum(a), 0, 0 FROM (
         SELECT guild_id, time_bucket('1 day', hour) AS day, user_id, messages AS m, characters AS c, 0 AS v, 0 AS a
         FROM message_hourly
         UNION ALL
         SELECT guild_id, time_bucket('1 day', hour), user_id, 0, 0, active_s + muted_s + deafened_s + alone_s,
                active_s FROM voice_hourly) u
       GROUP BY 1, 2, 3""",
)


async def load(url: str) -> dict[str, float]:
    """Create the schema and the year of data; returns seconds per step."""
    engine = create_engine(url)
    await upgrade(engine)
    took: dict[str, float] = {}
    async with engine.begin() as conn:
        for name, sql in (("messages", LOAD_MESSAGES), ("voice", LOAD_VOICE), *(("rollup", s) for s in ROLLUPS)):
            start = time.perf_counter()
            await conn.exec_driver_sql(sql)
            took[name] = took.get(name, 0.0) + time.perf_counter() - start
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql("VACUUM ANALYZE")
    await engine.dispose()
    return took


async def server_report(r: Reports, span: Span, series: Span) -> Any:
    """The queries behind /stats server."""
    points = await r.series(GUILD, series)
    return (
        await r.totals_from(GUILD, span, points),
        points,
        await r.top_channels(GUILD, span, 10),
        await r.top_members(GUILD, span, "messages", 10),
    )


async def user_report(r: Reports, span: Span, user: int) -> Any:
    """The queries behind /stats user."""
    return (
        await r.member_rank(GUILD, user, span),
        await r.member_voice(GUILD, user, span),
        await r.member_hours(GUILD, user, span),
        await r.member_channels(GUILD, user, span),
        await r.emojis(GUILD, span, user, 5),
    )


async def timed(call: Callable[[], Awaitable[Any]], runs: int) -> tuple[list[float], Any]:
    """Milliseconds of each run (after one warm-up) and the last answer."""
    answer = await call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        answer = await call()
        times.append((time.perf_counter() - start) * 1000)
    return times, answer


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


async def main() -> None:
    db_url, _ = service_urls()
    took: dict[str, float] = {}
    if os.environ.get("BENCH_QUERIES_REUSE"):  # iterate on queries without loading again
        url = scratch_database_url(db_url, "bench_queries")
    else:
        url = await recreate_database(db_url, "bench_queries")
        took = await load(url)
    load_s = sum(took.values())
    engine = create_engine(url)
    await upgrade(engine)  # a reused database may predate the newest revision
    reports = Reports(engine, Snapshots())  # as the bot runs them
    plain = Reports(engine)  # no snapshots: the baseline scans, and the cold runs
    async with engine.connect() as conn:
        counts = {
            tab: int((await conn.exec_driver_sql(f"SELECT count(*) FROM {tab}")).scalar() or 0)
            for tab in ("message_hourly", "voice_hourly", "message_daily", "voice_daily", "member_daily")
        }
    tz = parse_timezone("UTC")
    p30, p365, p90 = (parse_period(p, NOW, tz) for p in ("30d", "365d", "90d"))
    user = (await reports.top_members(GUILD, split_period(p365.start, p365.end), "messages", 1))[0][0]
    Case = Callable[[Reports], Awaitable[Any]]

    async def cold(case: Case) -> Any:
        """A case with no snapshot yet."""
        return await case(Reports(engine, Snapshots()))

    cases: dict[str, tuple[Case, Case]] = {
        "stats_server_30d": (
            lambda r: server_report(r, split_period(p30.start, p30.end), series_span(p30)),
            lambda r: server_report(r, split_period(p30.start, p30.end, False), series_span(p30, False)),
        ),
        "stats_user_365d": (
            lambda r: user_report(r, split_period(p365.start, p365.end), user),
            lambda r: user_report(r, split_period(p365.start, p365.end, False), user),
        ),
        "top_messages_90d": (
            lambda r: r.top_members(GUILD, split_period(p90.start, p90.end), "messages", 10),
            lambda r: r.top_members(GUILD, split_period(p90.start, p90.end, False), "messages", 10),
        ),
    }
    print(f"data: {counts} loaded in {load_s:.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in took.items())})")
    result: dict[str, Any] = {
        "load_s": round(load_s, 1),
        "hourly_rows": counts["message_hourly"] + counts["voice_hourly"],
    }
    for name, (fast, scan) in cases.items():
        fast_ms, fast_answer = await timed(partial(fast, reports), RUNS)
        cold_ms, cold_answer = await timed(partial(cold, fast), COLD_RUNS)
        scan_ms, scan_answer = await timed(partial(scan, plain), max(5, RUNS // 3))
        agree = _same(fast_answer, scan_answer) and _same(cold_answer, scan_answer)
        f50, f95, s50 = statistics.median(fast_ms), p95(fast_ms), statistics.median(scan_ms)
        c50 = statistics.median(cold_ms)
        speedup = s50 / f50
        print(
            f"{name:18} p50 {f50:7.1f} ms  p95 {f95:7.1f} ms   cold p50 {c50:7.1f} ms   "
            f"hourly scan p50 {s50:8.1f} ms   x{speedup:5.1f} (cold x{s50 / c50:4.1f})   agree: {agree}   "
            f"target p95<=100: {f95 <= 100}  x>=5: {speedup >= 5}"
        )
        result |= {
            f"{name}_p50_ms": round(f50, 1),
            f"{name}_p95_ms": round(f95, 1),
            f"{name}_cold_p50_ms": round(c50, 1),
            f"{name}_scan_p50_ms": round(s50, 1),
            f"{name}_speedup_ratio": round(speedup, 2),
            f"{name}_cold_speedup_ratio": round(s50 / c50, 2),
            f"{name}_agree": agree,
        }
    await engine.dispose()
    emit(result)


def _same(a: Any, b: Any) -> bool:
    """Answers agree; series points differ in shape (days vs hours), so compare their sums."""
    if isinstance(a, tuple) and len(a) == 4 and isinstance(a[1], list):
        totals = [sum(p.messages for p in x[1]) for x in (a, b)]
        return bool(a[0] == b[0] and a[2] == b[2] and a[3] == b[3] and totals[0] == totals[1])
    return bool(a == b)


if __name__ == "__main__":
    asyncio.run(main())
