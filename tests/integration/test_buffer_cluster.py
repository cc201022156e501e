"""The buffer's exactly-once tests again, on the three-master Redis Cluster of TEST_REDIS_CLUSTER_URL.

The crash tests (tests/integration/test_flush.py), the outage tests
(tests/integration/test_outages.py, with a proxy in front of every node) and the
exactly-once property (tests/integration/test_flush_property.py) run here as they
are, with the ``backend``, ``timescale`` and ``redis_proxy`` fixtures pointing at
the cluster (REDIS_CLUSTER=true).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Backend, ClusterProxy, _proxy_for, reset, service_url
from tests.integration.test_flush import (
    test_a_large_batch_written_in_parts_lands_once_even_if_one_part_fails,
    test_a_replayed_batch_is_skipped,
    test_a_retried_push_is_applied_once,
    test_crash_at_each_step_of_the_flush,
    test_increments_reach_the_database_once,
    test_random_crashes_over_many_rounds,
)
from tests.integration.test_flush_property import World, programs, run_program
from tests.integration.test_outages import (
    test_commit_whose_reply_was_lost_is_not_doubled,
    test_database_down_keeps_batches_in_redis,
    test_push_whose_reply_was_lost_is_not_doubled,
    test_redis_down_keeps_counts_in_process,
    test_store_down_and_counters_nearly_full_spills_to_the_database,
)

pytestmark = pytest.mark.integration

__all__ = [
    "test_a_large_batch_written_in_parts_lands_once_even_if_one_part_fails",
    "test_a_replayed_batch_is_skipped",
    "test_a_retried_push_is_applied_once",
    "test_commit_whose_reply_was_lost_is_not_doubled",
    "test_crash_at_each_step_of_the_flush",
    "test_database_down_keeps_batches_in_redis",
    "test_increments_reach_the_database_once",
    "test_push_whose_reply_was_lost_is_not_doubled",
    "test_random_crashes_over_many_rounds",
    "test_redis_down_keeps_counts_in_process",
    "test_store_down_and_counters_nearly_full_spills_to_the_database",
]


@pytest.fixture
def backend(cluster_backend: Backend) -> Backend:
    """The imported tests' backend: TimescaleDB and the Redis Cluster."""
    return cluster_backend


@pytest.fixture
def timescale(cluster_backend: Backend) -> Backend:
    return cluster_backend


@pytest.fixture
def redis_proxy(cluster_proxy: ClusterProxy) -> ClusterProxy:
    """Proxies in front of all three masters, going down together."""
    return cluster_proxy


def test_the_cluster_is_what_the_tests_run_on(cluster_backend: Backend) -> None:
    assert cluster_backend.cluster and cluster_backend.redis_url == service_url("TEST_REDIS_CLUSTER_URL")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(program=programs, seed=st.integers(0, 2**16))
async def test_exactly_once_under_any_interleaving_on_the_cluster(
    cluster_backend: Backend, cluster_proxy: ClusterProxy, program: list[tuple[str, object]], seed: int
) -> None:
    await reset(cluster_backend)
    cluster_proxy.up()
    db_proxy = await _proxy_for(service_url("TEST_DATABASE_URL"))
    try:
        await run_program(World(cluster_backend, cluster_proxy, db_proxy), program, seed)  # type: ignore[arg-type]
    finally:
        await db_proxy.close()
