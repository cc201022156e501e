"""Fixtures of the end-to-end tests: storage for a bot process, the sandbox Discord, bot processes.

``storage`` runs each test on both backends:
``sqlite``: a fresh SQLite file in ``tmp_path`` and the in-process buffer (REDIS_URL unset).
``timescale``: TimescaleDB and Redis from TEST_DATABASE_URL / TEST_REDIS_URL; missing or
unreachable services FAIL the test (``tests.conftest.service_url``), they never skip. The
bot is pointed at a database of its own on that server (``<test database>_e2e``) and at a
Redis database number of its own, both emptied before each test: the bot uses the default
Redis key prefix, and other suites truncate the shared test database while they run. A file
lock keeps two e2e runs on one machine from sharing them at the same time.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_engine
from db.migrate import upgrade
from sandbox import SandboxDiscord
from tests.conftest import BACKENDS, service_url, truncate_all
from tests.e2e.harness import Bots
from tests.support.pg import ensure_database

# The Redis database the e2e bots use (the other suites use database 0 with their own prefixes).
E2E_REDIS_DB = 9
LOCK_PATH = os.path.join(tempfile.gettempdir(), "statsbot-e2e-services.lock")
LOCK_WAIT_S = 120.0


@dataclass
class Storage:
    """Where a bot process stores: its DATABASE_URL and REDIS_URL, and an engine to read it back."""

    name: str
    database_url: str
    redis_url: str | None
    engine: AsyncEngine

    def env(self) -> dict[str, str | None]:
        return {"DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url}


_migrated: set[str] = set()


@pytest.fixture(scope="module")
def services_lock() -> Iterator[None]:
    """Exclusive use of the e2e database and Redis database by this run (waits for another run)."""
    fd = os.open(LOCK_PATH, os.O_CREAT | os.O_RDWR, 0o666)
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another test run held {LOCK_PATH} for over {LOCK_WAIT_S} s")
                time.sleep(0.2)  # no event loop runs during this synchronous set-up
        yield
    finally:
        os.close(fd)  # releases the lock


async def _open_timescale() -> Storage:
    test_url = service_url("TEST_DATABASE_URL")
    redis_base = service_url("TEST_REDIS_URL")
    try:
        url = await ensure_database(test_url, f"{make_url(test_url).database}_e2e")
    except Exception as exc:
        pytest.fail(f"TimescaleDB at TEST_DATABASE_URL is not usable: {exc}")
    engine = create_engine(url)
    try:
        if url not in _migrated:
            await upgrade(engine)
            _migrated.add(url)
        await truncate_all(engine)
    except Exception as exc:
        await engine.dispose()
        pytest.fail(f"TimescaleDB database {make_url(url).database} is not usable: {exc}")
    u = make_url(redis_base.replace("redis://", "redis+asyncio://", 1))
    redis_url = f"redis://{u.host or '127.0.0.1'}:{u.port or 6379}/{E2E_REDIS_DB}"
    client = aioredis.from_url(redis_url)
    try:
        await client.flushdb()
    except Exception as exc:
        await engine.dispose()
        pytest.fail(f"Redis at TEST_REDIS_URL is not usable: {exc}")
    finally:
        await client.aclose()
    return Storage("timescale", url, redis_url, engine)


async def open_storage(name: str, tmp_path: Path) -> Storage:
    if name == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'stats.db'}"
        return Storage("sqlite", url, None, create_engine(url))
    return await _open_timescale()


@pytest.fixture(params=BACKENDS)
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    if request.param == "timescale":
        request.getfixturevalue("services_lock")
    s = await open_storage(request.param, tmp_path)
    try:
        yield s
    finally:
        await s.engine.dispose()


@pytest.fixture
async def timescale_storage(tmp_path: Path, services_lock: None) -> AsyncIterator[Storage]:
    """TimescaleDB and Redis only (the cases that need a buffer surviving the process)."""
    s = await open_storage("timescale", tmp_path)
    try:
        yield s
    finally:
        await s.engine.dispose()


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxDiscord]:
    async with SandboxDiscord() as sb:
        yield sb


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
async def bots(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Bots]:
    """Starts bot processes; kills every one left at the end, and prints their output when the test failed."""
    b = Bots(tmp_path)
    try:
        yield b
    finally:
        await b.close()
        call = getattr(request.node, "rep_call", None)
        if b.started and (call is None or call.failed):
            print(b.tails())
