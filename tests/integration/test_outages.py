"""Redis or the database going away: counts wait where they are and arrive exactly once."""

from __future__ import annotations

import asyncio
import random

import pytest

from bot.buffer import Counters
from bot.buffer.flusher import Flusher
from bot.buffer.pusher import Pusher
from db.flush import BatchWriter
from db.series import CounterKey
from tests.conftest import Backend, redis_url_via
from tests.support.counts import expected, random_increments, stored_counters
from tests.support.proxy import FlakyProxy

pytestmark = pytest.mark.integration


async def test_redis_down_keeps_counts_in_process(timescale: Backend, redis_proxy: FlakyProxy) -> None:
    rng = random.Random(3)
    counters = Counters()
    pusher = Pusher(counters, timescale.store(redis_url_via(redis_proxy)))
    first = random_increments(rng, 200)
    counters.incr_many(first)
    redis_proxy.down()
    assert await pusher.push_once() is False
    second = random_increments(rng, 200)
    counters.incr_many(second)  # the event path never notices
    assert await pusher.push_once() is False
    redis_proxy.up()
    while not await pusher.push_once():
        pass
    await Flusher(timescale.store(), BatchWriter(timescale.engine), interval=10).flush_once()
    assert await stored_counters(timescale.engine) == expected(first + second)


async def test_push_whose_reply_was_lost_is_not_doubled(timescale: Backend, redis_proxy: FlakyProxy) -> None:
    counters = Counters()
    pusher = Pusher(counters, timescale.store(redis_url_via(redis_proxy)))
    incs = random_increments(random.Random(4), 300)
    counters.incr_many(incs)
    redis_proxy.drop_replies = True
    push = asyncio.create_task(pusher.push_once())
    await redis_proxy.reply_dropped.wait()  # Redis applied the push; the bot never heard back
    redis_proxy.down()
    assert await push is False
    redis_proxy.up()
    assert await pusher.push_once() is True
    await Flusher(timescale.store(), BatchWriter(timescale.engine), interval=10).flush_once()
    assert await stored_counters(timescale.engine) == expected(incs)


async def test_database_down_keeps_batches_in_redis(timescale: Backend, db_proxy: FlakyProxy) -> None:
    counters = Counters()
    incs = random_increments(random.Random(5), 300)
    counters.incr_many(incs)
    assert await Pusher(counters, timescale.store()).push_once()
    engine = timescale.engine_via(db_proxy)
    try:
        flusher = Flusher(timescale.store(), BatchWriter(engine), interval=1)
        db_proxy.down()
        delay = await flusher._attempt()
        assert flusher.failures == 1 and delay == 2
        assert len(await timescale.store().pending()) == 1
        assert await flusher._attempt() == 4  # backs off
        db_proxy.up()
        assert await flusher._attempt() == 1 and flusher.failures == 0
    finally:
        await engine.dispose()
    assert await stored_counters(timescale.engine) == expected(incs)
    assert await timescale.store().pending() == []


async def test_commit_whose_reply_was_lost_is_not_doubled(timescale: Backend, db_proxy: FlakyProxy) -> None:
    counters = Counters()
    incs = random_increments(random.Random(6), 300)
    counters.incr_many(incs)
    assert await Pusher(counters, timescale.store()).push_once()
    engine = timescale.engine_via(db_proxy)

    def lose_the_commit_reply(step: str) -> None:
        if step == "in_transaction":
            db_proxy.drop_replies = True

    async def cut_after_commit() -> None:
        await db_proxy.reply_dropped.wait()
        db_proxy.down()

    try:
        flusher = Flusher(timescale.store(), BatchWriter(engine), interval=1, fault=lose_the_commit_reply)
        cutter = asyncio.create_task(cut_after_commit())
        await flusher._attempt()
        await cutter
        assert flusher.failures == 1
        assert len(await timescale.store().pending()) == 1  # the bot cannot know the commit happened
        db_proxy.up()
        flusher.fault = lambda _s: None
        result = await flusher.flush_once()
        assert result.batches == 1
    finally:
        await engine.dispose()
    assert await stored_counters(timescale.engine) == expected(incs)


async def test_store_down_and_counters_nearly_full_spills_to_the_database(
    timescale: Backend, redis_proxy: FlakyProxy
) -> None:
    counters = Counters(max_keys=100)
    writer = BatchWriter(timescale.engine)
    pusher = Pusher(counters, timescale.store(redis_url_via(redis_proxy)), spill=writer.apply)
    rng = random.Random(9)
    redis_proxy.down()
    everything: list[tuple[CounterKey, int]] = []
    for _ in range(30):
        incs = random_increments(rng, 15)
        everything += incs
        counters.incr_many(incs)
        assert await pusher.push_once() is False
        assert len(counters) < 80 + 15
    redis_proxy.up()
    while not await pusher.push_once():
        pass
    await Flusher(timescale.store(), writer, interval=10).flush_once()
    assert counters.dropped == 0
    assert await stored_counters(timescale.engine) == expected(everything)
