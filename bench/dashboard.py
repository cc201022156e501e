"""Dashboard data requests on a year of a large guild in TimescaleDB, against the matching slash-command query.

The same data as ``bench/queries.py`` (a guild of 20,000 members, about 10,000,000 hourly
rows and their rollups; loaded into a database of its own, or reused with
``BENCH_DASHBOARD_REUSE=1``), plus what only the dashboard reads, added once: every member's
name (so the members table has all 20,000 rows), ten voice channels and a daily event with
200 members in it for 120 days. An admin signs in through a real link, then each page's
JSON request (``/g/<guild>/api/...``, through aiohttp's test client over HTTP, JSON encoding
included) is timed 20 times after a warm-up, and the query behind the matching slash command
(/stats server, the watchlist's for the members table, /mentor card, /mentor watchlist,
/invites, /report weekly) 20 times in the same run, on the same engine. Prints p50/p95 of
each and their ratio; target p95 <= 150 ms warm. The cold figure is the first request of
each page on a fresh dashboard (no report snapshot yet).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from _common import emit, recreate_database, scratch_database_url, service_urls
from aiohttp.test_utils import TestClient, TestServer
from queries import GUILD, MEMBERS, NOW, load, server_report
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.analytics.periods import parse_period, parse_timezone
from bot.heap import freeze_startup_heap
from bot.posts.schedule import previous_week, week_before
from bot.reports.builders import read_span, series_span
from bot.reports.mentor import build_watchlist, risk_window
from bot.web.auth import issue_link
from bot.web.server import Dashboard, load_static
from db.dashboard import SeenMember, save_members
from db.engine import create_engine
from db.events import add_event
from db.mentor import MentorData
from db.migrate import upgrade
from db.reports import Reports, Snapshots, split_period
from db.rollups import DayCloser
from db.voice import sessions_between

RUNS = 20
SECRET = "bench"
ADMIN = 10**15


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


async def timed(call: Callable[[], Awaitable[Any]], runs: int = RUNS) -> list[float]:
    """Milliseconds of each run after one warm-up."""
    await call()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        out.append((time.perf_counter() - start) * 1000)
    return out


async def prepare(engine: AsyncEngine) -> None:
    """What the dashboard reads beyond bench/queries.py's rows, added once (kept on reuse): every member's
    name, the voice channels, and a daily event in force for the last 120 days with 200 members in it."""

    async def count(table: str) -> int:
        async with engine.connect() as conn:
            return int(await conn.scalar(sa.text(f"SELECT count(*) FROM {table} WHERE guild_id = :g"), {"g": GUILD}))

    if not await count("member_names"):
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO member_names (guild_id, user_id, name, joined_at, left_at, seen_at) "
                    "SELECT :g, u, 'Member ' || u, :joined, NULL, :now FROM generate_series(0, :n - 1) u"
                ),
                {"g": GUILD, "n": MEMBERS, "joined": NOW - timedelta(days=400), "now": NOW},
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO channels (guild_id, channel_id, parent_id, kind, name) "
                    "SELECT :g, c, NULL, 'voice', 'Study ' || c FROM generate_series(100, 109) c"
                ),
                {"g": GUILD},
            )
    if not await count("voice_sessions"):
        # 200 members for 40 minutes of each day's 18:00 hour, in the ten study rooms.
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO voice_sessions (guild_id, user_id, started_at, channel_id, ended_at, open) "
                    "SELECT :g, (d * 37 + i * 97) % :n, day + interval '18 hours' + (i % 15) * interval '1 minute', "
                    "100 + i % 10, day + interval '18 hours' + (i % 15 + 40) * interval '1 minute', false "
                    "FROM generate_series(1, 120) d, generate_series(0, 199) i, "
                    "LATERAL (SELECT date_trunc('day', CAST(:now AS timestamptz)) - d * interval '1 day' AS day) x "
                    "ON CONFLICT DO NOTHING"
                ),
                {"g": GUILD, "n": MEMBERS, "now": NOW},
            )
    if await count("event_history"):
        return
    await add_event(
        engine,
        GUILD,
        start_time="18:00",
        minutes=60,
        days=0b1111111,
        channels={"pattern": "Study*"},
        now=NOW - timedelta(days=121),
    )


async def main() -> None:
    db_url, _ = service_urls()
    took: dict[str, float] = {}
    if os.environ.get("BENCH_DASHBOARD_REUSE"):
        url = scratch_database_url(db_url, "bench_dashboard")
    else:
        url = await recreate_database(db_url, "bench_dashboard")
        took = await load(url)
    engine = create_engine(url)
    await upgrade(engine)
    await prepare(engine)
    # As a running bot does for every guild it serves (bot.maintenance, each minute): today open, the days
    # before closed. Without it every read asks the database whether there is a day to close.
    await DayCloser(engine).open_today(GUILD, NOW.timestamp())
    await save_members(engine, [SeenMember(GUILD, ADMIN, "Bench Admin", (), True, True)], NOW)
    tz = parse_timezone("UTC")
    p30 = parse_period("30d", NOW, tz)
    reports = Reports(engine, Snapshots())
    mentor = MentorData(engine, reports.snapshots)
    member = (await reports.top_members(GUILD, read_span(p30), "messages", 1))[0][0]
    await save_members(engine, [SeenMember(GUILD, member, "Top Member", (), False, False)], NOW)
    static = load_static()
    freeze_startup_heap()  # as `python -m bot web` does once it listens

    async def card_query() -> Any:
        """What /mentor card reads: the member's hours, the guild's days, the joins."""
        window = risk_window(p30)
        return (
            await mentor.member_hours(GUILD, member, window.start, p30.end),
            await mentor.guild_days(GUILD, window.start, p30.end, tz),
            await mentor.membership(GUILD),
        )

    async def weekly_query() -> Any:
        """What /report weekly reads: the totals of the week and the week before, and the event sessions."""
        week = week_before(NOW, tz)
        before = previous_week(week)
        return (
            await reports.totals(GUILD, split_period(week.start, week.end, rollups=False)),
            await reports.totals(GUILD, split_period(before.start, before.end, rollups=False)),
            await sessions_between(engine, GUILD, week.start, week.end),
        )

    commands: dict[str, Callable[[], Awaitable[Any]]] = {
        "overview": lambda: server_report(reports, read_span(p30), series_span(p30)),
        "members": lambda: build_watchlist(mentor, GUILD, p30),
        "member": card_query,
        "watchlist": lambda: build_watchlist(mentor, GUILD, p30),
        "invites": lambda: reports.invites(GUILD, read_span(p30)),
        "events": weekly_query,
    }
    pages = {
        "overview": "overview?period=30d",
        "members": "members?period=30d",
        "member": f"members/{member}?period=30d",
        "watchlist": "watchlist?period=30d",
        "invites": "invites?period=30d",
        "events": "events?period=30d",
    }

    def make(snapshots: Reports) -> Dashboard:
        return Dashboard(engine, snapshots, secret=SECRET, base_url="http://b", clock=NOW.timestamp, static=static)

    async def signed_in(dashboard: Dashboard) -> TestClient:  # type: ignore[type-arg]
        client = TestClient(TestServer(dashboard.app()))
        await client.start_server()
        link = await issue_link(engine, SECRET, "http://b", GUILD, ADMIN, NOW)
        response = await client.get(link.removeprefix("http://b"), allow_redirects=False)
        if response.status != 303:
            raise SystemExit(f"sign-in failed: {response.status} {await response.text()}")
        return client

    result: dict[str, Any] = {"load_s": round(sum(took.values()), 1)}
    print(f"guild {GUILD}: a year of 20,000 members; load {sum(took.values()):.0f} s; member page of {member}")
    # Cold: one fresh dashboard (no snapshot) per page, first request only.
    cold: dict[str, float] = {}
    for name, path in pages.items():
        client = await signed_in(make(Reports(engine, Snapshots())))
        try:
            start = time.perf_counter()
            response = await client.get(f"/g/{GUILD}/api/{path}")
            await response.read()
            cold[name] = (time.perf_counter() - start) * 1000
            if response.status != 200:
                raise SystemExit(f"{name}: {response.status}")
        finally:
            await client.close()
    client = await signed_in(make(Reports(engine, Snapshots())))
    try:
        for name, path in pages.items():

            async def page(path: str = path) -> None:
                response = await client.get(f"/g/{GUILD}/api/{path}")
                await response.read()
                if response.status != 200:
                    raise SystemExit(f"{path}: {response.status}")

            page_ms = await timed(page)
            command_ms = await timed(commands[name])
            w50, w95, c50 = statistics.median(page_ms), p95(page_ms), statistics.median(command_ms)
            print(
                f"{name:10} page p50 {w50:7.1f} ms  p95 {w95:7.1f} ms   cold {cold[name]:7.1f} ms   "
                f"slash-command query p50 {c50:7.1f} ms   page/command x{w50 / c50:5.2f}   "
                f"target p95<=150: {w95 <= 150}"
            )
            result |= {
                f"{name}_p50_ms": round(w50, 1),
                f"{name}_p95_ms": round(w95, 1),
                f"{name}_cold_ms": round(cold[name], 1),
                f"{name}_command_p50_ms": round(c50, 1),
                f"{name}_vs_command_ratio": round(w50 / c50, 2),
            }
    finally:
        await client.close()
        await engine.dispose()
    emit(result)


if __name__ == "__main__":
    asyncio.run(main())
