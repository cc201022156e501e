"""A push of more than one chunk lands whole: a crash or a freeze between its chunks sees none of it."""

from __future__ import annotations

import pytest

from bot.buffer import Counters
from bot.buffer.counters import Snapshot
from bot.buffer.flusher import Flusher
from bot.buffer.redis_store import PUSH_CHUNK, RedisStore
from db.flush import BatchWriter
from db.series import HOUR, MARK, CounterKey
from tests.conftest import Backend, reset
from tests.support.counts import BASE_HOUR, expected, stored_counters

pytestmark = pytest.mark.integration

ROWS = 25_000
GUILDS = (11, 22)


class Crash(Exception):
    """Stands for the process dying between two chunks of a push."""


def snapshot() -> Snapshot:
    """25,000 counter rows over two guilds (three chunks) and a channel's message mark per guild."""
    counters = Counters()
    incs: list[tuple[CounterKey, int]] = []
    for i in range(ROWS):
        key = ("msg", GUILDS[i % 2], BASE_HOUR + HOUR * (i // 1000), 100 + i % 7, 1000 + i % 1000, "messages")
        incs.append((key, 1 + i % 3))
    counters.incr_many(incs)
    for g in GUILDS:
        counters.record((MARK.code, g, 100), (5, 9))
    snap = counters.take()
    assert snap is not None and len(snap.counters) == ROWS > 2 * PUSH_CHUNK
    return snap


def redis_store(backend: Backend) -> RedisStore:
    store = backend.store()
    if not isinstance(store, RedisStore):
        pytest.skip("chunks are a Redis store's")
    return store


async def test_a_push_crashed_between_chunks_leaves_nothing_and_its_retry_lands_once(backend: Backend) -> None:
    store = redis_store(backend)
    snap = snapshot()

    def crash(step: str) -> None:
        raise Crash(step)

    store.fault = crash
    with pytest.raises(Crash):
        await store.push(snap)
    assert await store.freeze() is None  # nothing live, so nothing frozen
    assert await store.pending() == []
    store.fault = None
    await store.push(snap)
    await store.push(snap)  # a retry after it applied: nothing twice
    flusher = Flusher(store, BatchWriter(backend.engine), interval=10)
    assert (await flusher.flush_once()).batches == 1
    assert await stored_counters(backend.engine) == expected(list(snap.counters.items()))


async def test_a_freeze_between_chunks_freezes_none_of_the_push(backend: Backend) -> None:
    store = redis_store(backend)
    other = redis_store(backend)  # another process (the flusher) freezing while the push is between chunks
    snap = snapshot()
    frozen: list[str | None] = []
    pending: list[object] = []

    def between(step: str) -> None:
        pending.append(step)

    store.fault = between

    # The fault hook is synchronous: freeze right after the first staged chunk by crashing there, then freeze.
    def crash_after_first(step: str) -> None:
        between(step)
        raise Crash(step)

    store.fault = crash_after_first
    with pytest.raises(Crash):
        await store.push(snap)
    frozen.append(await other.freeze())
    assert frozen == [None] and pending == ["staged"]
    store.fault = between
    await store.push(snap)  # the retry: stages both chunks again, then lands everything at once
    assert pending == ["staged", "staged", "staged"]
    batch_id = await other.freeze()
    assert batch_id is not None
    batch = await other.load(batch_id)
    assert batch.counter_rows() == ROWS
    assert batch.records == snap.records  # the marks land together with the last rows


async def test_chunks_on_the_cluster(cluster_backend: Backend) -> None:
    # Every key of both scripts is declared and in the partition's slot: the three-master cluster accepts them.
    await test_a_push_crashed_between_chunks_leaves_nothing_and_its_retry_lands_once(cluster_backend)
    await reset(cluster_backend)
    await test_a_freeze_between_chunks_freezes_none_of_the_push(cluster_backend)
