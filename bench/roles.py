"""Activity-role rules on a big guild: 20,000 members × 60 days in TimescaleDB, each rule's database time.

The guild is loaded as in bench/mentor.py (``generate_series`` into ``member_daily``
for the whole past UTC days, the hourly message table for today, ``voice_sessions``
for a daily event). Timed, several runs each, median and p95:

- the database reads of each rule kind (what ``/roles apply`` and the hourly pass
  read: ``db.roles.period_sums`` / ``window_sessions``); target <= 2000 ms per rule;
- the whole evaluation (reads plus ``bot.analytics.rules.select``);
- baseline measured in the same run: a plain ``SELECT count(*)`` over the same
  ``member_daily`` rows of the widest window.

Discord's side (the role changes) is not timed here: it is bound by Discord's rate
limit, one change at a time, not by the database.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from _common import emit, p95, recreate_database, service_urls, timed

from bot.analytics.attendance import presence
from bot.analytics.periods import parse_timezone
from bot.analytics.rules import RuleSpec, select, select_periods
from db import roles as repo
from db.days import local_midnight
from db.engine import create_engine
from db.mentor import MentorData
from db.migrate import upgrade
from db.reports import Snapshots

MEMBERS = 20_000
HISTORY_DAYS = 60
RUNS = 7
TARGET_MS = 2000.0
NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
GUILD = 1
HALL = 500
TZ = parse_timezone("UTC")

LOAD_DAILY = """
INSERT INTO member_daily (guild_id, day, user_id, messages, characters, voice_s, active_s, emojis, commands)
SELECT :guild, CAST(:today AS timestamptz) - make_interval(days => d), u,
       1 + (u * 7 + d) % 9, 40 * (1 + (u * 7 + d) % 9), 0,
       CASE WHEN (u + d) % 3 = 0 THEN 600 ELSE 0 END, 0, 0
FROM generate_series(1, :members) AS u, generate_series(1, :days) AS d
WHERE abs(hashint8(u::bigint * 1000 + d)) % 1000 < 150 + 800 * (u % 10) / 9
"""
LOAD_TODAY = """
INSERT INTO message_hourly (guild_id, hour, channel_id, user_id, messages, characters, attachments, replies)
SELECT :guild, CAST(:today AS timestamptz) + make_interval(hours => h), 100, u, 1 + u % 4, 40, 0, 0
FROM generate_series(1, :members) AS u, generate_series(0, 11) AS h
WHERE (u + h) % 6 = 0
"""
# Every 4th member attends the daily 20:00 event for 10 to 40 minutes, on most days.
LOAD_SESSIONS = """
INSERT INTO voice_sessions (guild_id, user_id, started_at, channel_id, ended_at, open)
SELECT :guild, u, CAST(:today AS timestamptz) - make_interval(days => d) + interval '19 hours 55 minutes',
       :hall, CAST(:today AS timestamptz) - make_interval(days => d) + interval '20 hours'
              + make_interval(mins => 5 + (u + d) % 30), false
FROM generate_series(1, :members) AS u, generate_series(1, 14) AS d
WHERE u % 4 = 0 AND (u + d) % 5 <> 0
"""

RULES = {
    "messages_threshold_5x7d": RuleSpec("messages", "threshold", 10, 7, 5),
    "voice_top10_30d": RuleSpec("voice", "top", 10, 30),
    "active_days_threshold_30d": RuleSpec("active_days", "threshold", 12, 30),
    "event_minutes_threshold_7d": RuleSpec("event_minutes", "threshold", 40, 7),
}


def window_start(spec: RuleSpec) -> datetime:
    """The local midnight a rule's window starts at."""
    return local_midnight(NOW.astimezone(TZ).date() - timedelta(days=spec.window_days - 1), TZ)


async def main() -> None:
    """Load the guild, time each rule's reads and evaluation against a count scan, print and emit JSON."""
    db_url, _ = service_urls()
    url = await recreate_database(db_url, "statsbot_bench_roles")
    engine = create_engine(url)
    await upgrade(engine)
    today = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    params = {"guild": GUILD, "today": today, "members": MEMBERS, "days": HISTORY_DAYS, "hall": HALL}
    t0 = time.perf_counter()
    async with engine.begin() as conn:
        await conn.execute(sa.text(LOAD_DAILY), params)
        await conn.execute(sa.text(LOAD_TODAY), params)
        await conn.execute(sa.text(LOAD_SESSIONS), params)
    async with engine.begin() as conn:
        for table in ("member_daily", "message_hourly", "voice_sessions"):
            await conn.exec_driver_sql(f"ANALYZE {table}")
        daily_rows = int((await conn.execute(sa.text("SELECT count(*) FROM member_daily"))).scalar_one())
        sessions = int((await conn.execute(sa.text("SELECT count(*) FROM voice_sessions"))).scalar_one())
    load_s = time.perf_counter() - t0
    data = MentorData(engine, Snapshots())

    async def read(spec: RuleSpec) -> object:
        """The database reads of one rule: members × days of its metric, or the window's voice sessions."""
        start = window_start(spec)
        if spec.metric == "event_minutes":
            return await repo.window_sessions(engine, GUILD, start, NOW)
        return await repo.period_sums(data, GUILD, start, NOW, TZ, spec.days, spec.metric)

    async def evaluate(spec: RuleSpec) -> frozenset[int]:
        """Reads plus selection, as the cog runs them."""
        found = await read(spec)
        if isinstance(found, repo.PeriodSums):
            values = found.values / 60.0 if spec.metric == "voice" else found.values
            return select_periods(spec, found.member_ids, values)
        assert isinstance(found, list)
        first = window_start(spec)
        totals: dict[int, npt.NDArray[np.float64]] = {}
        for offset in range(spec.window_days):
            occ = first + timedelta(days=offset, hours=20)
            if occ + timedelta(minutes=10) > NOW:
                continue
            for user, row in presence(found, int(occ.timestamp()), 10, [HALL]).items():
                totals.setdefault(user, np.zeros(spec.window_days))[offset] += int(row.sum())
        users = np.array(sorted(totals), dtype=np.int64)
        matrix = np.array([totals[int(u)] for u in users]).reshape(users.size, spec.window_days)
        return select(spec, users, matrix)

    widest = max(spec.window_days for spec in RULES.values())
    count_sql = sa.text("SELECT count(*) FROM member_daily WHERE guild_id = :g AND day >= :s AND day < :e")

    async def count_scan() -> object:
        async with engine.connect() as conn:
            start = local_midnight(NOW.date() - timedelta(days=widest - 1), TZ)
            return (await conn.execute(count_sql, {"g": GUILD, "s": start, "e": NOW})).scalar()

    selected = {name: len(await evaluate(spec)) for name, spec in RULES.items()}
    steps: list[Callable[[], Awaitable[object]]] = [count_scan]
    for spec in RULES.values():
        steps += [lambda s=spec: read(s), lambda s=spec: evaluate(s)]  # type: ignore[misc]
    results = await timed(RUNS, steps)
    await engine.dispose()

    count_med = statistics.median(results[0])
    print(f"guild:                 {MEMBERS:,} members, {HISTORY_DAYS} days, {daily_rows:,} member_daily rows")
    print(f"                       {sessions:,} voice sessions; load {load_s:.1f} s")
    print(f"baseline count(*):     median {count_med:.0f} ms over {widest} days of member_daily")
    out: dict[str, object] = {"members": MEMBERS, "member_daily_rows": daily_rows, "voice_sessions": sessions,
                              "count_scan_median_ms": round(count_med, 1), "target_ms": TARGET_MS}  # fmt: skip
    worst = 0.0
    for index, name in enumerate(RULES):
        db_ms, all_ms = results[1 + 2 * index], results[2 + 2 * index]
        db_med, all_med = statistics.median(db_ms), statistics.median(all_ms)
        worst = max(worst, p95(db_ms))
        print(
            f"{name:27s} db median {db_med:5.0f} ms, p95 {p95(db_ms):5.0f} ms; with selection median "
            f"{all_med:5.0f} ms; ratio db/count {db_med / count_med:.2f}; {selected[name]:,} members selected"
        )
        out |= {
            f"{name}_db_median_ms": round(db_med, 1),
            f"{name}_db_p95_ms": round(p95(db_ms), 1),
            f"{name}_eval_median_ms": round(all_med, 1),
            f"{name}_selected_members": selected[name],
            f"ratio_{name}_db_to_count_scan": round(db_med / count_med, 2),
        }
    print(f"target <= {TARGET_MS:.0f} ms database time per rule (p95): {worst <= TARGET_MS}")
    emit(out | {"worst_db_p95_ms": round(worst, 1), "meets_target": worst <= TARGET_MS})


if __name__ == "__main__":
    asyncio.run(main())
