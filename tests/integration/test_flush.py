"""The flush is exactly-once: every increment reaches the database once, whatever fails when.

Runs on both backends (SQLite + in-process buffer, TimescaleDB + Redis).
"""

from __future__ import annotations

import contextlib
import random

import pytest

from bot.buffer import Counters
from bot.buffer.flusher import Flusher
from bot.buffer.pusher import Pusher
from db.flush import BatchWriter
from db.series import CounterKey
from tests.conftest import Backend
from tests.support.counts import expected, random_increments, rollups_consistent, stored_counters

pytestmark = pytest.mark.integration

STEPS = ("frozen", "loaded", "in_transaction", "committed", "dropped")


class Crash(Exception):
    """Stands for the process dying at a step of the flush."""


def crash_at(step: str):  # type: ignore[no-untyped-def]
    def fault(s: str) -> None:
        if s == step:
            raise Crash(step)

    return fault


async def push_all(counters: Counters, backend: Backend) -> None:
    pusher = Pusher(counters, backend.store())
    assert await pusher.push_once()


async def test_increments_reach_the_database_once(backend: Backend) -> None:
    rng = random.Random(1)
    incs = random_increments(rng, 3000)
    counters = Counters()
    counters.incr_many(incs)
    await push_all(counters, backend)
    flusher = Flusher(backend.store(), BatchWriter(backend.engine), interval=10)
    result = await flusher.flush_once()
    assert result.batches == 1 and result.skipped == 0
    assert (await flusher.flush_once()).batches == 0
    assert await stored_counters(backend.engine) == expected(incs)
    await rollups_consistent(backend.engine)


@pytest.mark.parametrize("step", STEPS)
async def test_crash_at_each_step_of_the_flush(backend: Backend, step: str) -> None:
    rng = random.Random(step)
    first, second = random_increments(rng, 500), random_increments(rng, 500)
    counters = Counters()
    counters.incr_many(first)
    await push_all(counters, backend)
    crashing = Flusher(backend.store(), BatchWriter(backend.engine), interval=10, fault=crash_at(step))
    with pytest.raises(Crash):
        await crashing.flush_once()
    # More counts arrive while the bot restarts.
    counters.incr_many(second)
    await push_all(counters, backend)
    restarted = Flusher(backend.store(), BatchWriter(backend.engine), interval=10)
    await restarted.flush_once()
    assert await stored_counters(backend.engine) == expected(first + second)
    await rollups_consistent(backend.engine)
    assert await backend.store().pending() == []


async def test_random_crashes_over_many_rounds(backend: Backend) -> None:
    rng = random.Random(42)
    everything: list[tuple[CounterKey, int]] = []
    counters = Counters()
    for _ in range(200):
        incs = random_increments(rng, rng.randrange(1, 40))
        everything += incs
        counters.incr_many(incs)
        await push_all(counters, backend)
        step = rng.choice((*STEPS, None, None))
        fault = crash_at(step) if step else crash_at("never")
        flusher = Flusher(backend.store(), BatchWriter(backend.engine), interval=10, fault=fault)
        with contextlib.suppress(Crash):
            await flusher.flush_once()
    await Flusher(backend.store(), BatchWriter(backend.engine), interval=10).flush_once()
    assert await stored_counters(backend.engine) == expected(everything)
    await rollups_consistent(backend.engine)


async def test_a_replayed_batch_is_skipped(backend: Backend) -> None:
    counters = Counters()
    incs = random_increments(random.Random(7), 100)
    counters.incr_many(incs)
    await push_all(counters, backend)
    store = backend.store()
    batch_id = await store.freeze()
    assert batch_id is not None
    batch = await store.load(batch_id)
    writer = BatchWriter(backend.engine)
    assert await writer.apply(batch) is True
    assert await writer.apply(batch) is False
    assert await stored_counters(backend.engine) == expected(incs)


async def test_a_retried_push_is_applied_once(backend: Backend) -> None:
    counters = Counters()
    incs = random_increments(random.Random(8), 100)
    counters.incr_many(incs)
    snap = counters.take()
    assert snap is not None
    store = backend.store()
    await store.push(snap)
    await store.push(snap)  # the reply to the first was "lost": the pusher retries it as it was
    await Flusher(store, BatchWriter(backend.engine), interval=10).flush_once()
    assert await stored_counters(backend.engine) == expected(incs)


async def test_a_large_batch_written_in_parts_lands_once_even_if_one_part_fails(backend: Backend) -> None:
    incs = random_increments(random.Random(11), 2000)
    counters = Counters()
    counters.incr_many(incs)
    await push_all(counters, backend)
    calls = []

    def second_part_dies(step: str) -> None:
        if step == "in_transaction":
            calls.append(step)
            if len(calls) == 2:
                raise Crash(step)

    writer = BatchWriter(backend.engine, parallel_min_rows=100)
    crashing = Flusher(backend.store(), writer, interval=10, fault=second_part_dies)
    if backend.name == "sqlite":  # one writer: never split, so nothing to fail halfway
        await crashing.flush_once()
    else:
        with pytest.raises(Crash):
            await crashing.flush_once()
        assert len(await backend.store().pending()) == 1
        await Flusher(backend.store(), writer, interval=10).flush_once()
    assert await stored_counters(backend.engine) == expected(incs)
    await rollups_consistent(backend.engine)
