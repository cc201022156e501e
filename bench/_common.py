"""Helpers shared by the benchmarks: service URLs, a scratch database, a JSON result line."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def service_urls() -> tuple[str, str]:
    """(database URL, redis URL) from BENCH_* or TEST_* variables (the test command exports the latter)."""
    db = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    redis = os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL")
    if not db or not redis:
        raise SystemExit(
            "set TEST_DATABASE_URL and TEST_REDIS_URL (TimescaleDB and Redis): "
            "`bash .ci/services.sh /tmp/svc.env && set -a && . /tmp/svc.env` starts and describes them"
        )
    return db, redis


def scratch_database_url(url: str, name: str) -> str:
    """The same server, another database (created by ``recreate_database``)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def recreate_database(url: str, name: str) -> str:
    """Drop and create database ``name`` on the server of ``url``; returns its URL."""
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = await asyncpg.connect(
        host=u.host, port=u.port, user=u.username, password=u.password, database=u.database or "postgres"
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return scratch_database_url(url, name)


def emit(result: dict[str, Any]) -> None:
    """The last line of every benchmark: one JSON object with unit-named keys."""
    print(json.dumps(result, sort_keys=True))


async def timed(runs: int, steps: list[Callable[[], Awaitable[object]]]) -> list[list[float]]:
    """Milliseconds of ``runs`` calls of each step, interleaved so that load changes hit all alike."""
    for step in steps:
        await step()  # warm-up
    out: list[list[float]] = [[] for _ in steps]
    for _ in range(runs):
        for times, step in zip(out, steps, strict=True):
            t0 = time.perf_counter()
            await step()
            times.append((time.perf_counter() - t0) * 1000)
    return out


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
