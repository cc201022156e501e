"""Property: whatever the interleaving of increments, pushes, flushes, crashes and outages,
the database ends up with every increment that left the process, exactly once.

A bot crash loses what was still only in the process (at most the last push
interval); the model subtracts exactly that, so the check stays exact.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.buffer import Counters, StoreUnavailable
from bot.buffer.flusher import Flusher
from bot.buffer.pusher import Pusher
from db.errors import is_transient
from db.flush import BatchWriter
from db.rollups import DayCloser
from db.series import DAY, CounterKey
from tests.conftest import Backend, open_backend, redis_url_via, reset
from tests.support.counts import BASE_HOUR, normalise, random_increments, rollups_consistent, stored_counters
from tests.support.proxy import FlakyProxy

pytestmark = pytest.mark.integration

STEPS = ("frozen", "loaded", "in_transaction", "committed", "dropped")

# Weighted towards the common operations so that most programs push and flush often.
op = st.one_of(
    st.tuples(st.just("incr"), st.integers(1, 30)),
    st.tuples(st.just("incr"), st.integers(1, 5)),
    st.tuples(st.just("push"), st.none()),
    st.tuples(st.just("push"), st.none()),
    st.tuples(st.just("flush"), st.sampled_from((None, *STEPS))),
    st.tuples(st.just("flush"), st.sampled_from((None, *STEPS))),
    st.tuples(st.just("bot_crash"), st.none()),
    st.tuples(st.just("redis"), st.booleans()),
    st.tuples(st.just("db"), st.booleans()),
    # A guild's days before one of the data's days close, the rest open (db.rollups).
    st.tuples(st.just("close"), st.tuples(st.integers(1, 3), st.integers(0, 3))),
)
programs = st.lists(op, min_size=10, max_size=60)


BASE_DAY = BASE_HOUR - BASE_HOUR % DAY


class Crash(Exception):
    pass


@dataclass
class World:
    backend: Backend
    redis_proxy: FlakyProxy | None
    db_proxy: FlakyProxy | None


def _store(w: World):  # type: ignore[no-untyped-def]
    if w.redis_proxy is None:
        return w.backend.store()
    return w.backend.store(redis_url_via(w.redis_proxy))


async def run_program(w: World, program: list[tuple[str, object]], seed: int) -> None:
    rng = random.Random(seed)
    b = w.backend
    engine = b.engine_via(w.db_proxy) if w.db_proxy else b.engine
    made: Counter[CounterKey] = Counter()
    lost: Counter[CounterKey] = Counter()  # what a bot crash took with it
    counters = Counters()
    pusher = Pusher(counters, _store(w))
    try:
        for name, arg in program:
            if name == "incr":
                assert isinstance(arg, int)
                for k, n in random_increments(rng, arg):
                    counters.incr(k, n)
                    made[normalise(k)] += n
            elif name == "push":
                await pusher.push_once()
            elif name == "flush":
                step = arg

                def fault(s: str, step: object = step) -> None:
                    if s == step:
                        raise Crash(s)

                try:
                    await Flusher(_store(w), BatchWriter(engine), interval=1, fault=fault).flush_once()
                except (Crash, StoreUnavailable):
                    pass
                except Exception as exc:
                    if not is_transient(exc):
                        raise
            elif name == "bot_crash":
                # Lost: the live counters and a snapshot whose push never reached Redis
                # (outages here happen between operations, so a failed push was refused).
                for snap in (counters.take(), pusher._inflight):
                    for k, n in (snap.counters if snap else {}).items():
                        lost[normalise(k)] += n
                counters = Counters()
                pusher = Pusher(counters, _store(w))
            elif name == "close":
                assert isinstance(arg, tuple)
                guild, day = arg
                try:
                    await DayCloser(engine).open_today(guild, BASE_DAY + day * DAY)
                except Exception as exc:
                    if not is_transient(exc):
                        raise
            elif name == "redis" and w.redis_proxy is not None:
                w.redis_proxy.up() if arg else w.redis_proxy.down()
            elif name == "db" and w.db_proxy is not None:
                w.db_proxy.up() if arg else w.db_proxy.down()
        # Recovery: everything comes back, the bot pushes what it holds and flushes.
        for p in (w.redis_proxy, w.db_proxy):
            if p is not None:
                p.up()
        while not await pusher.push_once():
            pass
        await Flusher(_store(w), BatchWriter(engine), interval=1).flush_once()
    finally:
        if engine is not b.engine:
            await engine.dispose()
    assert await stored_counters(b.engine) == made - lost
    assert await _store(w).pending() == []
    await rollups_consistent(b.engine)
    for guild in (1, 2, 3):  # every day closed: the rollups of all of them add up
        await DayCloser(b.engine).open_today(guild, BASE_DAY + 5 * DAY)
    await rollups_consistent(b.engine)


@pytest.mark.parametrize("backend_name", ["sqlite", "timescale"])
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(program=programs, seed=st.integers(0, 2**16))
async def test_exactly_once_under_any_interleaving(
    backend_name: str, program: list[tuple[str, object]], seed: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    w = await _world(backend_name, tmp_path_factory.mktemp("prop"))
    try:
        await run_program(w, program, seed)
    finally:
        for p in (w.redis_proxy, w.db_proxy):
            if p is not None:
                await p.close()
        await w.backend.close()
        await w.backend.engine.dispose()


async def _world(name: str, tmp: Path) -> World:
    from tests.conftest import _proxy_for, service_url

    b = await open_backend(name, tmp)
    await reset(b)
    if name == "sqlite":
        return World(b, None, None)
    rp = await _proxy_for(service_url("TEST_REDIS_URL"))
    dp = await _proxy_for(service_url("TEST_DATABASE_URL"))
    return World(b, rp, dp)
