"""Shared fixtures: the two storage backends every storage test runs on.

``sqlite``: SQLite and the in-process buffer (no server at all).
``timescale``: TimescaleDB and Redis, started by the README's test command, which
exports TEST_DATABASE_URL and TEST_REDIS_URL. When those are missing or the
servers do not answer, the tests that need them FAIL (they never skip): the
suite must not pass green on a machine where half of it did not run.
``cluster``: the same TimescaleDB and the three-master Redis Cluster of
TEST_REDIS_CLUSTER_URL (for the buffer's tests: ``cluster_backend``,
``cluster_proxy``); ``read_url``: the streaming hot standby of TEST_DATABASE_READ_URL.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings
from redis.asyncio.cluster import RedisCluster
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.buffer import BufferStore
from bot.buffer.keys import RedisKeys
from bot.buffer.memory import MemoryStore
from bot.buffer.redis_store import RedisStore
from bot.buffer.shards import Shards
from db import tables as t
from db.engine import create_engine
from db.migrate import upgrade
from tests.support.pg import drop_database, ensure_database
from tests.support.proxy import FlakyProxy

BACKENDS = ["sqlite", "timescale"]

# The machines are shared and noisy: no per-example deadlines, so timing never fails a test.
settings.register_profile("statsbot", deadline=None, print_blob=True)
settings.load_profile("statsbot")


def service_url(name: str) -> str:
    url = os.environ.get(name)
    if not url:
        pytest.fail(
            f"{name} is not set: integration tests need the real services. Run the README's test "
            "command (bash .ci/test), which installs and starts Redis and TimescaleDB."
        )
    return url


@dataclass
class Backend:
    """One storage backend: a migrated database and a way to open buffer stores on it."""

    name: str
    engine: AsyncEngine
    url: str
    redis_url: str | None = None
    prefix: str = field(default_factory=lambda: f"test:{uuid.uuid4().hex[:12]}:")
    # A Redis Cluster (REDIS_CLUSTER=true) rather than one Redis server.
    cluster: bool = False
    # Cluster only: where the client reaches each node when it goes through a proxy (ClusterProxy).
    address_remap: Callable[[tuple[str, int]], tuple[str, int]] | None = None
    _memory: MemoryStore | None = None
    _opened: list[BufferStore] = field(default_factory=list)

    def store(
        self,
        redis_url: str | None = None,
        *,
        shards: Shards | None = None,
        owner: str | None = None,
        lease_s: float = 120.0,
    ) -> BufferStore:
        """A store as a new process would open it (Redis), or the one in-process store (memory).

        ``shards`` and ``owner`` make it the store of one shard process among several.
        """
        if self.redis_url is None:
            if self._memory is None:
                self._memory = MemoryStore()
            return self._memory
        url = redis_url or self.redis_url
        keys = RedisKeys(self.prefix)
        given = shards or Shards()
        if self.cluster and url != self.redis_url and self.address_remap is not None:
            client = RedisCluster.from_url(url, address_remap=self.address_remap, socket_timeout=10)
            s = RedisStore(client, keys, shards=lambda: given, owner=owner, lease_s=lease_s)
        else:
            s = RedisStore.from_url(url, keys, cluster=self.cluster, shards=lambda: given, owner=owner, lease_s=lease_s)
        self._opened.append(s)
        return s

    def engine_via(self, proxy: FlakyProxy) -> AsyncEngine:
        """An engine that reaches the database through ``proxy`` (PostgreSQL only)."""
        u = make_url(self.url).set(host="127.0.0.1", port=proxy.port)
        return create_engine(u.render_as_string(hide_password=False), pool_pre_ping=True)

    async def close(self) -> None:
        for s in self._opened:
            await s.close()


_pg_migrated: dict[str, bool] = {}


def run_database_name() -> str:
    """This test run's own database on the test server: concurrent runs never truncate each other's data."""
    base = make_url(service_url("TEST_DATABASE_URL")).database or "statsbot_test"
    return f"{base}_run{os.getpid()}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop this run's database, if it made one."""
    if _pg_migrated and os.environ.get("TEST_DATABASE_URL"):
        asyncio.run(drop_database(os.environ["TEST_DATABASE_URL"], run_database_name()))


async def truncate_all(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        names = ", ".join(tb.name for tb in t.metadata.sorted_tables)
        await conn.execute(sa.text(f"TRUNCATE {names}"))


async def open_backend(name: str, tmp_path: Path) -> Backend:
    """A migrated, empty database of this backend (``sqlite``, ``timescale``, ``cluster``), and its buffer."""
    if name == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'stats.db'}"
        engine = create_engine(url)
        await upgrade(engine)
        return Backend("sqlite", engine, url)
    cluster = name == "cluster"
    redis_url = service_url("TEST_REDIS_CLUSTER_URL" if cluster else "TEST_REDIS_URL")
    try:
        url = await ensure_database(service_url("TEST_DATABASE_URL"), run_database_name())
    except Exception as exc:
        pytest.fail(f"TimescaleDB at TEST_DATABASE_URL is not usable: {exc}")
    engine = create_engine(url)
    try:
        if not _pg_migrated.get(url):
            await upgrade(engine)
            _pg_migrated[url] = True
        await truncate_all(engine)
    except Exception as exc:
        await engine.dispose()
        pytest.fail(f"TimescaleDB at TEST_DATABASE_URL is not usable: {exc}")
    b = Backend("timescale", engine, url, redis_url, cluster=cluster)
    try:
        await b.store().ping()
    except Exception as exc:
        await b.close()
        await engine.dispose()
        which = "TEST_REDIS_CLUSTER_URL" if cluster else "TEST_REDIS_URL"
        pytest.fail(f"Redis at {which} is not usable: {exc}")
    return b


async def reset(b: Backend) -> None:
    """Empty the database and start a fresh buffer (between hypothesis examples)."""
    if b.name == "sqlite":
        async with b.engine.begin() as conn:
            for tb in t.metadata.sorted_tables:
                await conn.execute(tb.delete())
        b._memory = None
    else:
        await truncate_all(b.engine)
        b.prefix = f"test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    b = await open_backend(request.param, tmp_path)
    try:
        yield b
    finally:
        await b.close()
        await b.engine.dispose()


@pytest.fixture
async def timescale(tmp_path: Path) -> AsyncIterator[Backend]:
    """The production backend only (TimescaleDB and Redis), for outage tests."""
    b = await open_backend("timescale", tmp_path)
    try:
        yield b
    finally:
        await b.close()
        await b.engine.dispose()


async def _proxy_for(url: str) -> FlakyProxy:
    u = make_url(url.replace("redis://", "redis+asyncio://", 1))
    default_port = 6379 if url.startswith("redis") else 5432
    return await FlakyProxy(u.host or "127.0.0.1", u.port or default_port).start()


@pytest.fixture
async def redis_proxy() -> AsyncIterator[FlakyProxy]:
    """A proxy in front of the test Redis that can go down."""
    p = await _proxy_for(service_url("TEST_REDIS_URL"))
    yield p
    await p.close()


@pytest.fixture
async def db_proxy() -> AsyncIterator[FlakyProxy]:
    """A proxy in front of the test TimescaleDB that can go down."""
    p = await _proxy_for(service_url("TEST_DATABASE_URL"))
    yield p
    await p.close()


def redis_url_via(proxy: FlakyProxy | ClusterProxy) -> str:
    if isinstance(proxy, ClusterProxy):
        return f"redis://127.0.0.1:{proxy.port}/0"
    u = make_url(service_url("TEST_REDIS_URL").replace("redis://", "redis+asyncio://", 1))
    return f"redis://127.0.0.1:{proxy.port}/{u.database or 0}"


class ClusterProxy:
    """A FlakyProxy in front of every node of the test Redis Cluster, going down and up together.

    Cluster clients learn the nodes' addresses from the cluster itself; ``remap`` (redis-py's
    ``address_remap``) sends them through the proxies instead.
    """

    def __init__(self) -> None:
        self.proxies: list[FlakyProxy] = []
        self._map: dict[tuple[str, int], tuple[str, int]] = {}
        self.reply_dropped = asyncio.Event()

    async def start(self) -> ClusterProxy:
        probe = RedisCluster.from_url(service_url("TEST_REDIS_CLUSTER_URL"))
        try:
            await probe.initialize()
            nodes = [(str(n.host), int(n.port)) for n in probe.get_nodes()]
        finally:
            await probe.aclose()
        for host, port in nodes:
            proxy = await FlakyProxy(host, port).start()
            proxy.reply_dropped = self.reply_dropped  # one event, whichever node's reply was lost
            self.proxies.append(proxy)
            self._map[(host, port)] = ("127.0.0.1", proxy.port)
        return self

    @property
    def port(self) -> int:
        return self.proxies[0].port

    def remap(self, address: tuple[str, int]) -> tuple[str, int]:
        return self._map.get(address, address)

    @property
    def drop_replies(self) -> bool:
        return self.proxies[0].drop_replies

    @drop_replies.setter
    def drop_replies(self, value: bool) -> None:
        for p in self.proxies:
            p.drop_replies = value

    def down(self) -> None:
        for p in self.proxies:
            p.down()

    def up(self) -> None:
        for p in self.proxies:
            p.up()

    async def close(self) -> None:
        for p in self.proxies:
            await p.close()


@pytest.fixture
async def cluster_backend(tmp_path: Path) -> AsyncIterator[Backend]:
    """TimescaleDB and the three-master Redis Cluster (TEST_REDIS_CLUSTER_URL)."""
    b = await open_backend("cluster", tmp_path)
    try:
        yield b
    finally:
        await b.close()
        await b.engine.dispose()


@pytest.fixture
async def cluster_proxy(cluster_backend: Backend) -> AsyncIterator[ClusterProxy]:
    """Proxies in front of every cluster node that can go down; ``cluster_backend`` stores opened with
    ``redis_url_via(proxy)`` go through them."""
    p = await ClusterProxy().start()
    cluster_backend.address_remap = p.remap
    yield p
    await p.close()


def read_url_of(url: str) -> str:
    """The URL of the same database on the hot standby (TEST_DATABASE_READ_URL's server)."""
    standby = make_url(service_url("TEST_DATABASE_READ_URL"))
    return make_url(url).set(host=standby.host, port=standby.port).render_as_string(hide_password=False)
