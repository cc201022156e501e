"""Reports and exports on a read replica: a real streaming hot standby (TEST_DATABASE_READ_URL).

Writes go to the primary; reads come from the standby, which the tests make lag by pausing
its WAL replay (``pg_wal_replay_pause()``). An opt-out must hold at once even then.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.buffer import Counters
from bot.buffer.flusher import Flusher
from bot.buffer.optouts import OptOuts
from bot.buffer.pusher import Pusher
from db import privacy
from db.engine import ReadEngine, create_engine, create_read_engine, wal_position
from db.export import stream_rows
from db.flush import BatchWriter
from db.reports import Reports, split_period
from db.rollups import DayCloser
from db.series import HOUR, MESSAGES, CounterKey
from tests.conftest import Backend, read_url_of

pytestmark = pytest.mark.integration

G = 77
ANN, BEN = 501, 502
CHANNEL = 9


@pytest.fixture
async def replica(timescale: Backend) -> AsyncIterator[ReadEngine]:
    """A ReadEngine on the standby's copy of this run's database (replay resumed afterwards)."""
    read = create_read_engine(read_url_of(timescale.url), timescale.engine)
    assert isinstance(read, ReadEngine)
    read.settle_s = 0.0  # the test fences only after its write committed
    await caught_up(read, timescale.engine)
    try:
        yield read
    finally:
        await set_replay(read, paused=False)
        await read.dispose()


async def on_replica(read: ReadEngine, sql: str, params: dict[str, Any] | None = None) -> Any:
    """One value straight from the standby (a plain connection: never routed to the primary)."""
    async with AsyncConnection(read) as conn:
        return await conn.scalar(sa.text(sql), params or {})


async def set_replay(read: ReadEngine, *, paused: bool) -> None:
    await on_replica(read, "SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")
    if paused:  # pausing is asked for; wait until replay really stopped
        deadline = time.monotonic() + 10
        while await on_replica(read, "SELECT pg_get_wal_replay_pause_state()") != "paused":
            assert time.monotonic() < deadline, "the standby did not pause its replay"
            await asyncio.sleep(0.02)


async def caught_up(read: ReadEngine, primary: AsyncEngine) -> None:
    """Wait (bounded) until the standby has replayed everything the primary has written so far."""
    lsn = await wal_position(primary)
    deadline = time.monotonic() + 20
    while True:
        try:
            if await read.replayed(lsn):
                return
        except Exception:  # this run's database may not exist on the standby yet
            pass
        assert time.monotonic() < deadline, "the standby did not catch up with the primary"
        await asyncio.sleep(0.05)


NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
HOUR_T = int(NOW.timestamp()) - int(NOW.timestamp()) % HOUR


async def count(b: Backend, messages: dict[int, int]) -> None:
    """Messages per member in this hour, through the real push and flush."""
    counters = Counters()
    for user, n in messages.items():
        key: CounterKey = (MESSAGES.code, G, HOUR_T, CHANNEL, user, "messages")
        counters.incr(key, n)
    assert await Pusher(counters, b.store()).push_once()
    await Flusher(b.store(), BatchWriter(b.engine), interval=10).flush_once()


def span() -> Any:
    return split_period(NOW - timedelta(hours=3), NOW + timedelta(hours=1))


async def top(reports: Reports) -> dict[int, int]:
    return dict(await reports.top_members(G, span(), "messages"))


async def exported(engine: AsyncEngine) -> dict[int, int]:
    out: dict[int, int] = {}
    async for chunk in stream_rows(engine, "messages", G, NOW - timedelta(hours=3), NOW + timedelta(hours=1)):
        for row in chunk:
            out[int(row[2])] = int(row[3])
    return out


async def test_reports_and_exports_read_the_replica_and_writes_go_to_the_primary(
    timescale: Backend, replica: ReadEngine
) -> None:
    await count(timescale, {ANN: 3, BEN: 2})
    await caught_up(replica, timescale.engine)
    reports = Reports(replica, None, DayCloser(timescale.engine))
    assert await top(reports) == {ANN: 3, BEN: 2}
    await set_replay(replica, paused=True)
    await count(timescale, {ANN: 10})  # the primary has it, the lagging replica not yet
    assert await top(reports) == {ANN: 3, BEN: 2}, "reports read the replica"
    assert await exported(replica) == {ANN: 3, BEN: 2}, "exports read the replica"
    assert await top(Reports(timescale.engine)) == {ANN: 13, BEN: 2}
    assert await on_replica(replica, "SELECT pg_is_in_recovery()") is True
    await set_replay(replica, paused=False)
    await caught_up(replica, timescale.engine)
    assert await top(reports) == {ANN: 13, BEN: 2}


async def test_an_optout_holds_at_once_on_a_lagging_replica(timescale: Backend, replica: ReadEngine) -> None:
    await count(timescale, {ANN: 3, BEN: 2})
    await caught_up(replica, timescale.engine)
    optouts = OptOuts()
    optouts.on_change = replica.fence  # as the bot wires it (bot.app)
    reports = Reports(replica, None, DayCloser(timescale.engine))
    await set_replay(replica, paused=True)
    # /privacy optout: the bot's set first, then the table on the primary.
    optouts.add(G, BEN)
    await privacy.set_optout(timescale.engine, G, BEN, "hide", datetime.now(UTC))
    # The replica does not have the opt-out...
    assert await on_replica(replica, "SELECT count(*) FROM optouts WHERE user_id = :u", {"u": BEN}) == 0
    # ...so reads go to the primary, where BEN is hidden.
    assert await top(reports) == {ANN: 3}
    assert await exported(replica) == {ANN: 3}
    assert replica.fenced
    assert await replica.target() is replica.primary
    # Once the replica has replayed past the opt-out, reads go back to it, BEN still hidden.
    await set_replay(replica, paused=False)
    await caught_up(replica, timescale.engine)
    assert await replica.target() is replica
    assert not replica.fenced
    assert await top(reports) == {ANN: 3}
    assert await exported(replica) == {ANN: 3}
    # Opting in again is fenced the same way.
    await set_replay(replica, paused=True)
    optouts.remove(G, BEN)
    await privacy.remove_optout(timescale.engine, G, BEN)
    assert await top(reports) == {ANN: 3, BEN: 2}


async def test_without_a_read_url_reads_go_to_the_primary(timescale: Backend) -> None:
    assert create_read_engine(None, timescale.engine) is timescale.engine
    assert create_read_engine("", timescale.engine) is timescale.engine


async def test_an_unreachable_replica_falls_back_to_the_primary_while_fenced(timescale: Backend) -> None:
    broken = create_read_engine("postgresql+asyncpg://postgres@127.0.0.1:1/x", timescale.engine)
    assert isinstance(broken, ReadEngine)
    broken.settle_s = 0.0
    try:
        broken.fence()
        assert await broken.target() is timescale.engine
    finally:
        await broken.dispose()
    # A plain engine for the same URL would fail: the fallback above is the ReadEngine's doing.
    plain = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/x")
    try:
        with pytest.raises(OSError):
            async with plain.connect():
                pass
    finally:
        await plain.dispose()
