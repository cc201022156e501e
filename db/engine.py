"""The engine factory: one AsyncEngine per process, owned by the Bot; and the read engine of a replica."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

log = logging.getLogger(__name__)

# How long after a fence (an opt-out) every read goes to the primary before the primary's WAL
# position is taken as the point the replica must reach: the write that fenced commits in that time.
FENCE_SETTLE_S = 5.0


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine for ``url``; SQLite gets its folder created, WAL mode and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    # The flush stages each batch in temporary tables and aggregates it: keep both in memory.
    kwargs.setdefault("connect_args", {"server_settings": {"temp_buffers": "256MB", "work_mem": "64MB"}})
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 5)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


class _RoutedConnection(AsyncConnection):
    """A connection of a ``ReadEngine``: to the replica, or to the primary while a fence holds."""

    async def start(self, is_ctxmanager: bool = False) -> AsyncConnection:
        engine = self.engine
        if isinstance(engine, ReadEngine):
            target = await engine.target()
            self.engine, self.sync_engine = target, target.sync_engine
        return await super().start(is_ctxmanager)


class ReadEngine(AsyncEngine):
    """The engine of a streaming read replica (``DATABASE_READ_URL``) for reports, the dashboard, exports.

    Everything read through it comes from the replica, except while a *fence* holds:
    after a write that must be seen at once (an opt-out, ``fence()``), reads go to the
    primary until the replica has replayed the primary's WAL up to where it was once
    that write committed. A lagging (or paused) replica thus never shows a member
    who just opted out. Writes never go through it.
    """

    _connection_cls = _RoutedConnection

    def __init__(self, replica: AsyncEngine, primary: AsyncEngine, *, settle_s: float = FENCE_SETTLE_S) -> None:
        super().__init__(replica.sync_engine)
        self.primary = primary
        self.settle_s = settle_s
        self._fenced_at: float | None = None
        self._fence_lsn: str | None = None

    def fence(self) -> None:
        """Send reads to the primary until the replica has what the primary has now (and in a moment)."""
        self._fenced_at = time.monotonic()
        self._fence_lsn = None

    @property
    def fenced(self) -> bool:
        return self._fenced_at is not None

    async def target(self) -> AsyncEngine:
        """Where the next connection goes: the primary while fenced, else the replica (this engine)."""
        if self._fenced_at is None:
            return self
        fenced_at = self._fenced_at
        if time.monotonic() - fenced_at < self.settle_s:
            return self.primary
        try:
            if self._fence_lsn is None:
                self._fence_lsn = await wal_position(self.primary)
            caught_up = await self.replayed(self._fence_lsn)
        except Exception as exc:  # reads then go to the primary: correct, only not offloaded
            log.warning("could not compare the read replica's position with the primary's: %s", exc)
            return self.primary
        if caught_up and self._fenced_at == fenced_at:  # no newer fence meanwhile
            self._fenced_at = None
            self._fence_lsn = None
            return self
        return self.primary

    async def replayed(self, lsn: str) -> bool:
        """Whether the replica has replayed the primary's WAL up to ``lsn``."""
        async with AsyncConnection(self) as conn:  # the replica itself, bypassing the routing
            done = await conn.scalar(
                sa.text("SELECT coalesce(pg_last_wal_replay_lsn() >= CAST(CAST(:lsn AS text) AS pg_lsn), false)"),
                {"lsn": lsn},
            )
        return bool(done)


async def wal_position(primary: AsyncEngine) -> str:
    """A WAL position of the primary past the commit of every transaction committed so far.

    The insert position (a commit record is inserted before the commit returns, even with
    asynchronous commit), read in a tiny transaction committed with ``synchronous_commit = on``
    so that the WAL is flushed, and so sent to the replica, through that position at once.
    """
    async with primary.connect() as conn, conn.begin():
        await conn.execute(sa.text("SET LOCAL synchronous_commit = on"))
        await conn.execute(sa.text("SELECT pg_current_xact_id()"))
        lsn = await conn.scalar(sa.text("SELECT pg_current_wal_insert_lsn()::text"))
    return str(lsn)


def create_read_engine(url: str | None, primary: AsyncEngine, **kwargs: Any) -> AsyncEngine:
    """The engine reports read from: a ``ReadEngine`` on the replica at ``url``, else ``primary`` itself."""
    if not url:
        return primary
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return ReadEngine(create_async_engine(url, **kwargs), primary)
