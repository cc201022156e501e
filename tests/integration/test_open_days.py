"""Open days: rows of a guild's open days are hourly only until the day closes; nothing reads them missing.

Runs on both backends; the lock order between a flush and a closing day is checked
on PostgreSQL, where they run at once (SQLite has one writer at a time).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.buffer import Counters
from bot.buffer.flusher import Flusher
from bot.buffer.pusher import Pusher
from bot.maintenance import Maintenance
from db import tables as t
from db.flush import BatchWriter
from db.mentor import MentorData
from db.reports import Reports, Snapshots
from db.reports.spans import split_period
from db.rollups import DayCloser, close_days
from db.series import DAY, HOUR, CounterKey
from db.types import utc
from tests.conftest import Backend
from tests.support.counts import BASE_HOUR, expected, random_increments, rollups_consistent, stored_counters

pytestmark = pytest.mark.integration

BASE_DAY = BASE_HOUR - BASE_HOUR % DAY
# random_increments spread over 60 hours from BASE_HOUR: 2025-11-22 15:00 to 2025-11-25 02:00 (UTC).
OPEN_FROM = BASE_DAY + 2 * DAY
UTC = ZoneInfo("UTC")


async def flushed(backend: Backend, incs: list[tuple[CounterKey, int]]) -> None:
    counters = Counters()
    counters.incr_many(incs)
    assert await Pusher(counters, backend.store()).push_once()
    await Flusher(backend.store(), BatchWriter(backend.engine), interval=10).flush_once()


async def rollup_rows_from(engine: AsyncEngine, guild_id: int, day: int) -> int:
    """How many daily and per-member rollup rows the guild has from ``day`` on."""
    n = 0
    async with engine.connect() as conn:
        for table in (*t.DAILY.values(), t.member_daily):
            stmt = sa.select(sa.func.count()).where(table.c.guild_id == guild_id, table.c.day >= utc(day))
            n += int((await conn.execute(stmt)).scalar_one())
    return n


async def test_rows_of_an_open_day_are_rolled_up_when_it_closes(backend: Backend) -> None:
    days = DayCloser(backend.engine)
    await days.open_today(1, OPEN_FROM + 5 * HOUR)  # guild 1: from 2025-11-24 on open; guilds 2, 3: all closed
    incs = random_increments(random.Random(5), 3000)
    await flushed(backend, incs)
    assert await stored_counters(backend.engine) == expected(incs)
    await rollups_consistent(backend.engine)
    assert await rollup_rows_from(backend.engine, 1, OPEN_FROM) == 0
    assert await rollup_rows_from(backend.engine, 2, OPEN_FROM) > 0

    await days.close_through(1, OPEN_FROM + 2 * DAY)
    assert await rollup_rows_from(backend.engine, 1, OPEN_FROM) > 0
    async with backend.engine.connect() as conn:
        assert (await conn.execute(sa.select(t.open_days.c.open_from))).scalar_one() == OPEN_FROM + 2 * DAY
    await rollups_consistent(backend.engine)  # now over every day of every guild

    late = random_increments(random.Random(6), 1000)  # into days that are closed now
    await flushed(backend, late)
    assert await stored_counters(backend.engine) == expected(incs + late)
    await rollups_consistent(backend.engine)


async def test_an_open_day_with_rollup_rows_from_before_is_rewritten_not_added_to(backend: Backend) -> None:
    first = random_increments(random.Random(7), 800)
    await flushed(backend, first)  # every day closed: rollups written by the flush
    days = DayCloser(backend.engine)
    await days.open_today(1, OPEN_FROM)  # those rollup rows of guild 1 from OPEN_FROM on are now stale-able
    more = random_increments(random.Random(8), 800)
    await flushed(backend, more)
    await days.close_through(1, OPEN_FROM + 2 * DAY)
    assert await stored_counters(backend.engine) == expected(first + more)
    await rollups_consistent(backend.engine)


async def test_reports_close_the_days_they_read_from_the_rollups(backend: Backend) -> None:
    days = DayCloser(backend.engine)
    for guild in (1, 2):
        await days.open_today(guild, BASE_DAY)  # every day with data is open
    incs = random_increments(random.Random(9), 3000)
    await flushed(backend, incs)
    want: Counter[int] = Counter()
    for (code, g, _hour, *dims), n in expected(incs).items():
        if code == "msg" and g == 1 and dims[-1] == "messages":
            want[int(dims[1])] += n
    span = split_period(utc(BASE_DAY), utc(BASE_DAY + 4 * DAY), True)
    assert span.day_start is not None
    reports = Reports(backend.engine)  # a closer of its own: it knows nothing of the one above
    top = await reports.top_members(1, span, "messages", limit=100)
    assert dict(top) == {u: n for u, n in want.items() if n > 0}
    assert await rollup_rows_from(backend.engine, 1, BASE_DAY) > 0
    assert await rollup_rows_from(backend.engine, 2, BASE_DAY) == 0  # guild 2 was not read: still open
    await rollups_consistent(backend.engine)


async def test_the_first_recorded_hour_includes_open_days(backend: Backend) -> None:
    await DayCloser(backend.engine).open_today(3, BASE_DAY)
    await flushed(backend, [(("msg", 3, BASE_HOUR + 7 * HOUR, 10, 20, "messages"), 1)])
    assert await Reports(backend.engine).earliest(3) == utc(BASE_HOUR + 7 * HOUR)


async def test_maintenance_opens_today_for_the_guilds_it_serves(backend: Backend) -> None:
    now = OPEN_FROM + 30 * HOUR
    maintenance = Maintenance(backend.engine, lambda: now, guild_ids=lambda: [1, 2])
    await maintenance.open_days_once()
    async with backend.engine.connect() as conn:
        rows: dict[int, int] = dict((await conn.execute(sa.select(t.open_days))).all())
    assert rows == {1: OPEN_FROM + DAY, 2: OPEN_FROM + DAY}


async def _waiting_on_locks(engine: AsyncEngine, n: int) -> None:
    """Return once ``n`` sessions of this database wait for a lock (a barrier on the server's state)."""
    stmt = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with engine.connect() as conn:
        for _ in range(2000):
            if int((await conn.execute(stmt)).scalar_one()) >= n:
                return
            await conn.rollback()  # a transaction sees one snapshot of pg_stat_activity
            await asyncio.sleep(0.005)
    raise AssertionError(f"{n} sessions never waited for a lock")


async def _hold_history(conn: AsyncConnection, guild_id: int) -> None:
    """Lock the version row of the guild that a flush of the test's past rows bumps (November 2025)."""
    h = t.guild_history
    await conn.execute(sa.insert(h).values(guild_id=guild_id, month=2025 * 12 + 10, version=1))
    await conn.execute(sa.select(h).where(h.c.guild_id == guild_id).with_for_update())


# SQLite has one writer at a time: a flush and a closing day never overlap there.
@pytest.mark.parametrize("backend", ["timescale"], indirect=True)
async def test_a_day_closes_after_the_flushes_writing_into_it_and_before_the_next(backend: Backend) -> None:
    days = DayCloser(backend.engine)
    await days.open_today(1, BASE_DAY)
    first = [(k, n) for k, n in random_increments(random.Random(10), 2000) if k[1] == 1]
    second = [(k, n) for k, n in random_increments(random.Random(11), 2000) if k[1] == 1]

    # A flush stopped inside its transaction (after it locked guild 1's open days), then a day closing.
    async with backend.engine.connect() as holder:
        async with holder.begin():
            await _hold_history(holder, 1)
            flush = asyncio.create_task(flushed(backend, first))
            await _waiting_on_locks(backend.engine, 1)
            closing = asyncio.create_task(days.close_through(1, BASE_DAY + 2 * DAY))
            await _waiting_on_locks(backend.engine, 2)  # the closing day waits for the flush
        await flush
        await closing
    await rollups_consistent(backend.engine)
    assert await rollup_rows_from(backend.engine, 1, BASE_DAY) > 0

    # A day closing, stopped before it commits, then a flush into it: the flush waits, then rolls up.
    async with backend.engine.begin() as conn:
        assert await close_days(conn, 1, BASE_DAY + 4 * DAY, open_rest=False) == BASE_DAY + 4 * DAY
        flush = asyncio.create_task(flushed(backend, second))
        await _waiting_on_locks(backend.engine, 1)
    await flush
    assert await stored_counters(backend.engine) == expected(first + second)
    await rollups_consistent(backend.engine)


async def test_mentor_views_read_today_from_hourly_rows_and_keep_it_open(backend: Backend) -> None:
    today = BASE_DAY + 3 * DAY  # random_increments reach 2025-11-25 02:00: today has rows
    now = today + 3 * HOUR
    await DayCloser(backend.engine).open_today(1, now)
    await flushed(backend, random_increments(random.Random(12), 3000))
    start, end = utc(BASE_DAY), utc(now)
    data = MentorData(backend.engine, Snapshots())
    seen = await data.guild_days(1, start, end, UTC)
    active = await data.active_days(1, start, end, UTC)
    async with backend.engine.connect() as conn:
        assert (await conn.execute(sa.select(t.open_days.c.open_from))).scalar_one() == today  # still open
    await DayCloser(backend.engine).close_through(1, today + DAY)  # now today is in member_daily too
    fresh = MentorData(backend.engine)
    again = await fresh.guild_days(1, start, end, UTC)
    assert seen.first_day == again.first_day
    assert np.array_equal(seen.member_ids, again.member_ids)
    assert np.array_equal(seen.messages, again.messages) and np.array_equal(seen.active_s, again.active_s)
    assert seen.messages[:, -1].sum() > 0  # today's messages are there
    active_again = await fresh.active_days(1, start, end, UTC)
    assert np.array_equal(active.member_ids, active_again.member_ids)
    assert np.array_equal(active.active, active_again.active)
