"""The /mentor watchlist on a big guild: 20,000 members × 30 days (plus the 42-day window risk needs) in TimescaleDB.

Rows are generated server-side (``generate_series``) into ``member_daily`` (what a
UTC guild reads), the hourly message table (what a guild in another timezone
reads) and ``member_joins``. Timed, several runs each, median and p95:

- the watchlist as the command builds it (queries + analytics), UTC guild; target <= 500 ms;
- the same for a guild in another timezone (hourly rows, local days);
- both as the bot runs them (active days of whole past UTC days kept as a
  snapshot, only today read each time) and cold (no snapshot yet: the first
  request after a restart, a new day or a write into the past);
- baselines measured in the same run: a plain ``SELECT count(*)`` over the same
  ``member_daily`` rows, and the watchlist's raw query alone (active days packed
  into bit masks by the server).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from _common import emit, p95, recreate_database, service_urls, timed

from bot.analytics import parse_period, parse_timezone
from bot.reports.mentor import build_watchlist, risk_window
from db.engine import create_engine
from db.guilds import update_settings
from db.mentor import MentorData
from db.migrate import upgrade
from db.reports import Snapshots

MEMBERS = 20_000
HISTORY_DAYS = 60  # more than the 42-day window, so that joins and baselines are realistic
RUNS = 9
TARGET_MS = 500.0
NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
UTC_GUILD = 1
LOCAL_GUILD = 2

# Member u is active on a day with a probability set by u (steady, occasional,
# irregular, from a hash of member and day); every 20th member, a regular one,
# fades: nothing in the last 10-16 days.
LOAD_DAILY = """
INSERT INTO member_daily (guild_id, day, user_id, messages, characters, voice_s, active_s, emojis, commands)
SELECT :guild, CAST(:today AS timestamptz) - make_interval(days => d), u,
       1 + (u * 7 + d) % 9, 40 * (1 + (u * 7 + d) % 9), 0,
       CASE WHEN (u + d) % 3 = 0 THEN 600 ELSE 0 END, 0, 0
FROM generate_series(1, :members) AS u, generate_series(0, :days - 1) AS d
WHERE abs(hashint8(u::bigint * 1000 + d)) % 1000 < 150 + 800 * (u % 10) / 9
  AND NOT (u % 20 = 19 AND d < 10 + u % 7)
"""
LOAD_HOURLY = """
INSERT INTO message_hourly (guild_id, hour, channel_id, user_id, messages, characters, attachments, replies)
SELECT :local_guild, day + make_interval(hours => (user_id % 12)::int + 8), 100, user_id, messages, characters, 0, 0
FROM member_daily WHERE guild_id = :guild
"""
LOAD_JOINS = """
INSERT INTO member_joins (guild_id, user_id, joined_at, invite_code)
SELECT g, u, CAST(:today AS timestamptz) - make_interval(days => 100 + u % 50), 'unknown'
FROM generate_series(1, :members) AS u, unnest(ARRAY[CAST(:guild AS bigint), CAST(:local_guild AS bigint)]) AS g
"""


async def main() -> None:
    """Load the guild, time the watchlist and its baselines, print the figures and one JSON line."""
    db_url, _ = service_urls()
    url = await recreate_database(db_url, "statsbot_bench_mentor")
    engine = create_engine(url)
    await upgrade(engine)
    today = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    params = {"guild": UTC_GUILD, "local_guild": LOCAL_GUILD, "today": today, "members": MEMBERS}
    t0 = time.perf_counter()
    async with engine.begin() as conn:
        await conn.execute(sa.text(LOAD_DAILY), params | {"days": HISTORY_DAYS})
        await conn.execute(sa.text(LOAD_HOURLY), params)
        await conn.execute(sa.text(LOAD_JOINS), params)
    async with engine.begin() as conn:
        await conn.exec_driver_sql("ANALYZE member_daily")
        await conn.exec_driver_sql("ANALYZE message_hourly")
        await conn.exec_driver_sql("ANALYZE member_joins")
        daily_rows = (await conn.execute(sa.text("SELECT count(*) FROM member_daily"))).scalar_one()
    load_s = time.perf_counter() - t0
    await update_settings(engine, LOCAL_GUILD, timezone="Europe/Berlin")

    data = MentorData(engine, Snapshots())  # as the bot runs it
    utc_period = parse_period("30d", NOW, parse_timezone("UTC"))
    local_period = parse_period("30d", NOW, parse_timezone("Europe/Berlin"))
    window = risk_window(utc_period)
    flagged = len(await build_watchlist(data, UTC_GUILD, utc_period))
    flagged_local = len(await build_watchlist(data, LOCAL_GUILD, local_period))

    count_sql = sa.text("SELECT count(*) FROM member_daily WHERE guild_id = :g AND day >= :s AND day < :e")

    async def count_scan() -> object:
        async with engine.connect() as conn:
            return (await conn.execute(count_sql, {"g": UTC_GUILD, "s": window.start, "e": utc_period.end})).scalar()

    watch_ms, utc_cold_ms, local_ms, cold_ms, query_ms, count_ms = await timed(
        RUNS,
        [
            lambda: build_watchlist(data, UTC_GUILD, utc_period),
            lambda: build_watchlist(MentorData(engine, Snapshots()), UTC_GUILD, utc_period),
            lambda: build_watchlist(data, LOCAL_GUILD, local_period),
            lambda: build_watchlist(MentorData(engine, Snapshots()), LOCAL_GUILD, local_period),
            lambda: MentorData(engine).active_days(UTC_GUILD, window.start, utc_period.end, utc_period.tz),
            count_scan,
        ],
    )
    await engine.dispose()

    watch_med, count_med, query_med = (statistics.median(v) for v in (watch_ms, count_ms, query_ms))
    local_med, cold_med = statistics.median(local_ms), statistics.median(cold_ms)
    utc_cold_med = statistics.median(utc_cold_ms)
    window_rows = int(daily_rows)
    print(f"guild:                         {MEMBERS:,} members, {HISTORY_DAYS} days, {window_rows:,} member_daily rows")
    print(f"load (generate_series):        {load_s:.1f} s")
    print(f"window read for risk:          {(utc_period.end - window.start) / timedelta(days=1):.1f} days (period 30d)")
    print(f"flagged:                       {flagged:,} (UTC guild), {flagged_local:,} (Europe/Berlin guild)")
    print(f"watchlist, UTC guild:          median {watch_med:.0f} ms, p95 {p95(watch_ms):.0f} ms ({RUNS} runs)")
    print(f"  target <= {TARGET_MS:.0f} ms:            {watch_med <= TARGET_MS and p95(watch_ms) <= TARGET_MS}")
    print(f"  cold (no snapshot yet):      median {utc_cold_med:.0f} ms, p95 {p95(utc_cold_ms):.0f} ms")
    print(f"watchlist, Europe/Berlin:      median {local_med:.0f} ms, p95 {p95(local_ms):.0f} ms (hourly rows)")
    print(f"  cold (no snapshot yet):      median {cold_med:.0f} ms, p95 {p95(cold_ms):.0f} ms")
    print(
        f"baseline raw query alone:      median {query_med:.0f} ms   ratio watchlist/query {watch_med / query_med:.2f}"
        " (the active days of the window read in full, no snapshot)"
    )
    print(
        f"baseline SELECT count(*):      median {count_med:.0f} ms   ratio watchlist/count {watch_med / count_med:.2f}"
    )
    emit(
        {
            "members": MEMBERS,
            "member_daily_rows": window_rows,
            "flagged_members": flagged,
            "watchlist_median_ms": round(watch_med, 1),
            "watchlist_p95_ms": round(p95(watch_ms), 1),
            "watchlist_cold_median_ms": round(utc_cold_med, 1),
            "watchlist_local_tz_median_ms": round(local_med, 1),
            "watchlist_local_tz_p95_ms": round(p95(local_ms), 1),
            "watchlist_local_tz_cold_median_ms": round(cold_med, 1),
            "raw_query_median_ms": round(query_med, 1),
            "count_scan_median_ms": round(count_med, 1),
            "ratio_watchlist_to_count_scan": round(watch_med / count_med, 2),
            "target_ms": TARGET_MS,
            "meets_target": watch_med <= TARGET_MS and p95(watch_ms) <= TARGET_MS,
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
