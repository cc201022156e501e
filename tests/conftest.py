"""Shared fixtures: the two storage backends every storage test runs on.

``sqlite``: SQLite and the in-process buffer (no server at all).
``timescale``: TimescaleDB and Redis, started by the README's test command, which
exports TEST_DATABASE_URL and TEST_REDIS_URL. When those are missing or the
servers do not answer, the tests that need them FAIL (they never skip): the
suite must not pass green on a machine where half of it did not run.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.buffer import BufferStore
from bot.buffer.keys import RedisKeys
from bot.buffer.memory import MemoryStore
from bot.buffer.redis_store import RedisStore
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
    _memory: MemoryStore | None = None
    _opened: list[BufferStore] = field(default_factory=list)

    def store(self, redis_url: str | None = None) -> BufferStore:
        """A store as a new process would open it (Redis), or the one in-process store (memory)."""
        if self.redis_url is None:
            if self._memory is None:
                self._memory = MemoryStore()
            return self._memory
        s = RedisStore.from_url(redis_url or self.redis_url, RedisKeys(self.prefix))
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
    """A migrated, empty database of this backend, and its buffer."""
    if name == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'stats.db'}"
        engine = create_engine(url)
        await upgrade(engine)
        return Backend("sqlite", engine, url)
    redis_url = service_url("TEST_REDIS_URL")
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
    b = Backend("timescale", engine, url, redis_url)
    try:
        await b.store().ping()
    except Exception as exc:
        await b.close()
        await engine.dispose()
        pytest.fail(f"Redis at TEST_REDIS_URL is not usable: {exc}")
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


def redis_url_via(proxy: FlakyProxy) -> str:
    u = make_url(service_url("TEST_REDIS_URL").replace("redis://", "redis+asyncio://", 1))
    return f"redis://127.0.0.1:{proxy.port}/{u.database or 0}"
