"""The Bot's own storage duties: open and close in order, final flush, retention, metrics, schema."""

from __future__ import annotations

import socket
from datetime import timedelta

import aiohttp
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.app import StatsBot
from bot.buffer.shards import Shards, shard_of
from bot.maintenance import Maintenance
from bot.settings import load_settings
from db import tables as t
from db.retention import apply_retention
from db.series import DAY, HOUR, MESSAGES, VOICE
from db.types import utc
from tests.conftest import Backend
from tests.support.counts import stored_counters

pytestmark = pytest.mark.integration

NOW = 1_795_000_000 - 1_795_000_000 % HOUR


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_bot(backend: Backend, **env: object) -> StatsBot:
    settings = load_settings(DATABASE_URL=backend.url, REDIS_URL=backend.redis_url, FLUSH_INTERVAL_SECONDS=3600, **env)
    store = backend.store() if backend.redis_url else None
    return StatsBot(settings, extensions=(), store=store, clock=lambda: float(NOW), render_processes=0)


async def test_close_flushes_what_the_process_still_holds(backend: Backend) -> None:
    bot = make_bot(backend)
    await bot.setup_hook()
    key = ("msg", 7, NOW, 70, 700, "messages")
    bot.counters.incr(key, 5)
    await bot.close()
    assert await stored_counters(backend.engine) == {key: 5}
    assert bot._opened == []


async def test_metrics_and_healthz(backend: Backend) -> None:
    port = free_port()
    bot = make_bot(backend, METRICS_PORT=port)
    await bot.setup_hook()
    try:
        bot.counters.incr(("msg", 7, NOW, 70, 700, "messages"), 1)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                body = await r.text()
                assert r.status == 200
                assert "statsbot_buffer_keys 1" in body
            async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                assert r.status == 503  # not connected to Discord
                assert "not connected" in await r.text()
    finally:
        await bot.close()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "metrics server still listening after close"


async def test_retention_drops_old_rows_of_that_guild_only(backend: Backend) -> None:
    bot = make_bot(backend)
    await bot.setup_hook()
    old, new = NOW - 40 * DAY, NOW - 2 * DAY
    for guild in (1, 2):
        for hour in (old, new):
            bot.counters.incr((MESSAGES.code, guild, hour, 10, 100, "messages"), 1)
            bot.counters.incr((VOICE.code, guild, hour, 11, 100, "active_s"), 60)
    await bot.close()
    async with backend.engine.begin() as conn:
        await conn.execute(sa.insert(t.guild_settings).values(guild_id=1, retention_days=30))
    deleted = await apply_retention(backend.engine, utc(NOW))
    assert deleted > 0
    stored = await stored_counters(backend.engine)
    assert {(k[1], k[2]) for k in stored} == {(1, new), (2, old), (2, new)}
    async with backend.engine.connect() as conn:
        days = await conn.execute(sa.select(t.member_daily.c.guild_id, t.member_daily.c.day))
        kept = {(g, d) for g, d in days}
    assert (1, utc(old - old % DAY)) not in kept and (2, utc(old - old % DAY)) in kept


async def test_each_process_applies_retention_to_the_guilds_of_its_own_shards(backend: Backend) -> None:
    """Two processes splitting four shards: each deletes its own guilds' old rows, none another's."""
    guilds = [shard << 22 for shard in range(4)]  # guild ``shard << 22`` is on shard ``shard`` of 4
    assert [shard_of(g, 4) for g in guilds] == [0, 1, 2, 3]
    bot = make_bot(backend)
    await bot.setup_hook()
    old = NOW - 40 * DAY
    for guild in guilds:
        bot.counters.incr((MESSAGES.code, guild, old, 10, 100, "messages"), 1)
    await bot.close()
    async with backend.engine.begin() as conn:
        await conn.execute(sa.insert(t.guild_settings), [{"guild_id": g, "retention_days": 30} for g in guilds])
    first, second = (
        Maintenance(backend.engine, lambda: float(NOW), owns=Shards(4, frozenset(ids)).owns) for ids in ({0, 1}, {2, 3})
    )

    async def guilds_left() -> set[int]:
        return {int(k[1]) for k in await stored_counters(backend.engine)}

    assert await first.run_once() > 0
    assert await guilds_left() == set(guilds[2:])
    assert await second.run_once() > 0
    assert await guilds_left() == set()
    assert await first.run_once() == 0


async def test_ledger_is_pruned_after_its_replay_window(backend: Backend) -> None:
    async with backend.engine.begin() as conn:
        await conn.execute(
            sa.insert(t.flush_ledger),
            [
                {"batch_id": "old", "applied_at": utc(NOW) - timedelta(days=31), "counters": 1, "records": 0},
                {"batch_id": "new", "applied_at": utc(NOW) - timedelta(days=1), "counters": 1, "records": 0},
            ],
        )
    await apply_retention(backend.engine, utc(NOW))
    async with backend.engine.connect() as conn:
        ids = set((await conn.execute(sa.select(t.flush_ledger.c.batch_id))).scalars())
    assert ids == {"new"}


async def test_migrations_build_exactly_the_declared_schema(backend: Backend) -> None:
    def diff(sync_conn: sa.Connection) -> list[object]:
        ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return [
            d for d in compare_metadata(ctx, t.metadata) if d[0] != "remove_table" or d[1].name != "alembic_version"
        ]

    async with backend.engine.connect() as conn:
        assert await conn.run_sync(diff) == []
