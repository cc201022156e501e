"""Several shard processes on one Redis (or one Redis Cluster): each flushes only its own guilds,
what a dead process left is flushed once by its successor or, after its lease lapsed, by anyone,
and changing the split (or the shard count) loses and doubles nothing.

Each "process" here is a store and a flusher with its own shards and owner name, as a bot
process has them; they share the Redis (or the cluster) and TimescaleDB of ``shared``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from bot.buffer import BufferStore, Counters
from bot.buffer.flusher import Flusher
from bot.buffer.keys import RedisKeys, partition_name
from bot.buffer.pusher import Pusher
from bot.buffer.shards import Shards, shard_of
from db.flush import BatchWriter
from db.series import USER_POSITION, CounterKey
from tests.conftest import Backend, open_backend
from tests.support.counts import expected, random_increments, stored_counters

pytestmark = pytest.mark.integration

STEPS = ("frozen", "loaded", "in_transaction", "committed", "dropped")


class Crash(Exception):
    """Stands for the process dying at a step of the flush."""


@pytest.fixture(params=["timescale", "cluster"])
async def shared(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """TimescaleDB with one Redis server, or with the three-master Redis Cluster."""
    b = await open_backend(request.param, tmp_path)
    try:
        yield b
    finally:
        await b.close()
        await b.engine.dispose()


def guilds_of(shards: Shards, per_shard: int = 2) -> list[int]:
    """Guild ids that Discord sends to the shards of ``shards`` (``per_shard`` each)."""
    return [((s + shards.count * j) << 22) + 4242 for s in shards.owned_ids() for j in range(1, per_shard + 1)]


def increments(rng: random.Random, n: int, guilds: list[int]) -> list[tuple[CounterKey, int]]:
    """Random increments spread over ``guilds``."""
    return [((k[0], rng.choice(guilds), *k[2:]), v) for k, v in random_increments(rng, n)]


class Process:
    """One shard process: its counters, store, pusher and flusher."""

    def __init__(self, b: Backend, shards: Shards, owner: str, *, lease_s: float = 60.0) -> None:
        self.shards = shards
        self.owner = owner
        self.store: BufferStore = b.store(shards=shards, owner=owner, lease_s=lease_s)
        self.counters = Counters()
        self.pusher = Pusher(self.counters, self.store)
        self.writer = BatchWriter(b.engine)
        self.lease_s = lease_s

    async def count(self, incs: list[tuple[CounterKey, int]]) -> None:
        """Count and push (only guilds of this process's shards ever reach its counters)."""
        assert all(self.shards.owns(int(k[1])) for k, _ in incs)
        self.counters.incr_many(incs)
        assert await self.pusher.push_once()

    def flusher(self, crash_at: str | None = None) -> Flusher:
        def fault(step: str) -> None:
            if step == crash_at:
                raise Crash(step)

        return Flusher(
            self.store, self.writer, interval=10, shards=lambda: self.shards, lease_s=self.lease_s, fault=fault
        )


def of_guilds(incs: list[tuple[CounterKey, int]], guilds: list[int]) -> list[tuple[CounterKey, int]]:
    return [(k, n) for k, n in incs if k[1] in guilds]


async def test_each_process_flushes_only_its_own_guilds(shared: Backend) -> None:
    rng = random.Random(1)
    a = Process(shared, Shards(4, frozenset({0, 1})), "a")
    b = Process(shared, Shards(4, frozenset({2, 3})), "b")
    a_incs = increments(rng, 400, guilds_of(a.shards))
    b_incs = increments(rng, 400, guilds_of(b.shards))
    await a.count(a_incs)
    await b.count(b_incs)
    a_flush = a.flusher()
    result = await a_flush.flush_once()
    assert result.batches == 2  # one per partition of its own: s0of4, s1of4
    assert await stored_counters(shared.engine) == expected(a_incs)
    # B's counters are untouched: still live in its own partitions, never frozen by A.
    assert await b.store.pending() == []
    assert a_flush.taken_over == set()
    b_flush = b.flusher()
    assert (await b_flush.flush_once()).batches == 2
    assert await stored_counters(shared.engine) == expected(a_incs + b_incs)
    assert b_flush.taken_over == set()
    assert sorted(await a.store.partitions()) == [partition_name(i, 4) for i in range(4)]


@pytest.mark.parametrize("step", STEPS)
async def test_what_a_dead_process_left_is_flushed_once_by_its_successor(shared: Backend, step: str) -> None:
    rng = random.Random(step)
    a = Process(shared, Shards(4, frozenset({0, 1})), "a")
    b = Process(shared, Shards(4, frozenset({2, 3})), "b")
    a_incs = increments(rng, 200, guilds_of(a.shards))
    first = increments(rng, 300, guilds_of(b.shards))
    await a.count(a_incs)
    await b.count(first)
    with pytest.raises(Crash):
        await b.flusher(crash_at=step).flush_once()
    late = increments(rng, 100, guilds_of(b.shards))
    await b.count(late)  # pushed after the crashed flush froze: live again, never flushed by b
    # A flushes while b's lease is still held: it leaves b's partitions alone.
    a_flush = a.flusher()
    await a_flush.flush_once()
    assert a_flush.taken_over == set()
    stored = await stored_counters(shared.engine)
    assert {k: n for k, n in stored.items() if k[1] in guilds_of(a.shards)} == expected(a_incs)
    # b starts again (a new process, the same shards): it flushes what the dead one left.
    b2 = Process(shared, b.shards, "b2")
    second = increments(rng, 100, guilds_of(b.shards))
    await b2.count(second)
    await b2.flusher().flush_once()
    assert await stored_counters(shared.engine) == expected(a_incs + first + late + second)
    assert await b2.store.pending() == []


async def test_after_its_lease_lapsed_any_process_takes_a_partition_over(shared: Backend) -> None:
    rng = random.Random(3)
    a = Process(shared, Shards(4, frozenset({0, 1})), "a")
    b = Process(shared, Shards(4, frozenset({2, 3})), "b", lease_s=0.3)
    b_incs = increments(rng, 300, guilds_of(b.shards))
    await b.count(b_incs)
    with pytest.raises(Crash):
        await b.flusher(crash_at="loaded").flush_once()  # b holds its leases, then dies
    more = increments(rng, 50, guilds_of(b.shards))
    await b.count(more)
    a_flush = a.flusher()
    await a_flush.flush_once()
    assert a_flush.taken_over == set()  # the leases are still b's
    assert await stored_counters(shared.engine) == {}
    await wait_until_lapsed(shared, [partition_name(2, 4), partition_name(3, 4)])
    await a_flush.flush_once()
    assert a_flush.taken_over == {partition_name(2, 4), partition_name(3, 4)}
    assert await stored_counters(shared.engine) == expected(b_incs + more)
    assert await a.store.pending() == []


async def test_changing_the_split_and_the_shard_count_loses_and_doubles_nothing(shared: Backend) -> None:
    rng = random.Random(4)
    everything: list[tuple[CounterKey, int]] = []
    # Two processes of 4 shards; each crashes at some step of a flush, leaving live and pending data.
    old = [
        Process(shared, Shards(4, frozenset({0, 1})), "old-a", lease_s=0.3),
        Process(shared, Shards(4, frozenset({2, 3})), "old-b", lease_s=0.3),
    ]
    guilds = guilds_of(Shards(4), per_shard=3)
    for _ in range(6):
        for p in old:
            incs = increments(rng, 60, [g for g in guilds if p.shards.owns(g)])
            everything += incs
            await p.count(incs)
            with contextlib.suppress(Crash):
                await p.flusher(crash_at=rng.choice((*STEPS, None))).flush_once()
    # Three processes of the same 4 shards take over at once (the old leases are forced).
    three = [
        Process(shared, Shards(4, frozenset(ids)), f"new-{n}", lease_s=0.3) for n, ids in enumerate(({0}, {1, 2}, {3}))
    ]
    for p in three:
        incs = increments(rng, 60, [g for g in guilds if p.shards.owns(g)])
        everything += incs
        await p.count(incs)
        with contextlib.suppress(Crash):
            await p.flusher(crash_at=rng.choice((*STEPS, None))).flush_once()
    # Then the shard count changes to 6: the partitions of 4 shards are nobody's; once their
    # leases lapsed, any process flushes them.
    six = [Process(shared, Shards(6, frozenset(ids)), f"six-{n}") for n, ids in enumerate(({0, 1}, {2, 3}, {4, 5}))]
    for p in six:
        incs = increments(rng, 60, [g for g in guilds if p.shards.owns(g)])
        everything += incs
        await p.count(incs)
    await wait_until_lapsed(shared, [partition_name(i, 4) for i in range(4)])
    flushers = [p.flusher() for p in six]
    for f in flushers:
        await f.flush_once()
    assert await stored_counters(shared.engine) == expected(everything)
    assert set().union(*(f.taken_over for f in flushers)) <= {partition_name(i, 4) for i in range(4)}
    assert await six[0].store.pending() == []
    # The guilds really moved between processes: some guild's shard of 4 and of 6 belong to different ones.
    assert any(shard_of(g, 4) in {0, 1} and shard_of(g, 6) not in {0, 1} for g in guilds)


async def test_an_optout_erases_the_member_in_every_partition(shared: Backend) -> None:
    rng = random.Random(5)
    a = Process(shared, Shards(4, frozenset({0, 1})), "a")
    guild = guilds_of(a.shards)[0]
    incs = increments(rng, 300, [guild])
    await a.count(incs)
    with pytest.raises(Crash):
        await a.flusher(crash_at="loaded").flush_once()  # one pending batch
    more = increments(rng, 100, [guild])
    await a.count(more)  # and live data
    (key, _), *_ = incs
    user = int(key[USER_POSITION[str(key[0])]])
    removed = await a.store.discard_member(guild, user)
    assert removed > 0
    await a.flusher().flush_once()
    left = [(k, n) for k, n in incs + more if int(k[USER_POSITION[str(k[0])]]) != user]
    assert await stored_counters(shared.engine) == expected(left)


async def wait_until_lapsed(b: Backend, parts: list[str]) -> None:
    """Wait (bounded) until no process holds the leases of ``parts`` any more."""
    assert b.redis_url is not None
    client: aioredis.Redis | RedisCluster = (
        RedisCluster.from_url(b.redis_url) if b.cluster else aioredis.Redis.from_url(b.redis_url)
    )
    keys = RedisKeys(b.prefix)
    deadline = time.monotonic() + 10
    try:
        for part in parts:
            while await client.exists(keys.lease(part)):
                assert time.monotonic() < deadline, f"the lease of {part} never lapsed"
                await asyncio.sleep(0.05)  # a lease lapses with time: nothing to wait on but the clock
    finally:
        await client.aclose()
