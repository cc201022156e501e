"""Removed guilds: purged whole after the grace period, exactly once, all or nothing; kept when the bot is back.

Every table with a ``guild_id`` column gets rows of two guilds (built from the schema, so a
table added later is covered too); one guild is removed, the other stays.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.maintenance import Maintenance
from db import history, purge
from db import tables as t
from db.engine import create_engine
from db.types import UTCDateTime
from demo.runner import DemoClock
from sandbox import SandboxDiscord
from tests.conftest import Backend
from tests.support.live import live_bot

pytestmark = pytest.mark.integration

GONE, STAYS = 111_000_000_000_000_001, 222_000_000_000_000_002
REMOVED_AT = datetime(2026, 10, 1, 12, tzinfo=UTC)
GRACE_DAYS = 30
ROWS_EACH = 2


def _value(col: sa.Column[Any], guild_id: int, n: int) -> object:
    """A value of the column's type for row ``n`` of a guild, distinct across guilds and rows."""
    if col.name == "guild_id":
        return guild_id
    if isinstance(col.type, UTCDateTime):
        return datetime(2026, 9, 1, tzinfo=UTC) + timedelta(hours=n)
    if isinstance(col.type, sa.Boolean):
        return False
    if isinstance(col.type, sa.Integer):  # BigInteger too
        return guild_id % 1000 * 100 + n + 1
    return f"{col.name}-{guild_id}-{n}"


def row_count(table: sa.Table) -> int:
    """How many rows of a guild the table gets: one where the guild is the whole key (settings)."""
    return 1 if [c.name for c in table.primary_key.columns] == ["guild_id"] else ROWS_EACH


def rows_for(table: sa.Table, guild_id: int) -> Iterator[dict[str, object]]:
    """Rows of the guild for any table of the schema (autoincrement ids left to the database)."""
    for n in range(row_count(table)):
        yield {
            c.name: _value(c, guild_id, n)
            for c in table.columns
            if not (c.primary_key and (c.autoincrement is True or c.name == "id"))
        }


async def fill(engine: AsyncEngine, *guild_ids: int) -> None:
    """Rows of each guild in every guild table, and a history version each."""
    async with engine.begin() as conn:
        for table in purge.guild_tables():
            for guild_id in guild_ids:
                await conn.execute(sa.insert(table), list(rows_for(table, guild_id)))
        for guild_id in guild_ids:
            await history.bump(conn, [(guild_id, history.WHOLE_GUILD), (guild_id, 2026 * 12 + 8)])


async def versions(engine: AsyncEngine, guild_id: int) -> dict[int, int]:
    async with engine.connect() as conn:
        return await history.versions(conn, guild_id)


def maintenance(
    engine: AsyncEngine, now: datetime, *, served: tuple[int, ...] = (STAYS,), days: int = GRACE_DAYS
) -> Maintenance:
    """The hourly housekeeping of a ready process that is in ``served``, at ``now``."""
    return Maintenance(engine, lambda: now.timestamp(), guild_ids=lambda: served, purge_days=days, ready=lambda: True)


FULL = {tb.name: row_count(tb) for tb in purge.guild_tables()}
EMPTY = {tb.name: 0 for tb in purge.guild_tables()}


def test_every_table_with_a_guild_id_is_purged() -> None:
    names = {tb.name for tb in purge.guild_tables()}
    expected = {tb.name for tb in t.metadata.sorted_tables if "guild_id" in tb.c} - {"removed_guilds", "guild_history"}
    assert names == expected
    # The hourly counters, rollups, sessions, joins, settings, opt-outs, posts and the later features' tables.
    assert {"message_hourly", "member_daily", "voice_sessions", "member_joins", "optouts", "posted_reports"} <= names
    assert {"acting_settings", "nudge_log", "role_rules", "coverage_gaps", "dashboard_members", "open_days"} <= names
    assert purge.guild_tables()[0].name == "open_days"  # the flush's lock order


async def test_a_guild_removed_past_the_grace_period_is_purged_and_another_is_untouched(backend: Backend) -> None:
    engine = backend.engine
    await fill(engine, GONE, STAYS)
    await purge.mark_removed(engine, GONE, REMOVED_AT)
    await purge.mark_removed(engine, GONE, REMOVED_AT + timedelta(days=5))  # a second removal keeps the first time
    assert await purge.removed_guilds(engine) == {GONE: REMOVED_AT}
    before = await versions(engine, GONE)

    # Within the grace period: nothing happens.
    assert await maintenance(engine, REMOVED_AT + timedelta(days=GRACE_DAYS) - timedelta(minutes=1)).purge_once() == []
    assert await purge.guild_row_counts(engine, GONE) == FULL

    assert await maintenance(engine, REMOVED_AT + timedelta(days=GRACE_DAYS, hours=1)).purge_once() == [GONE]
    assert await purge.guild_row_counts(engine, GONE) == EMPTY
    assert await purge.guild_row_counts(engine, STAYS) == FULL
    assert await purge.removed_guilds(engine) == {}
    after = await versions(engine, GONE)
    assert after[history.WHOLE_GUILD] == before[history.WHOLE_GUILD] + 1  # every snapshot of it is stale
    assert await versions(engine, STAYS) == {history.WHOLE_GUILD: 1, 2026 * 12 + 8: 1}
    # Purged once: the next pass has nothing to do.
    assert await maintenance(engine, REMOVED_AT + timedelta(days=GRACE_DAYS, hours=2)).purge_once() == []


async def test_a_guild_that_rejoined_within_the_grace_period_keeps_everything(backend: Backend) -> None:
    engine = backend.engine
    await fill(engine, GONE, STAYS)
    await purge.mark_removed(engine, GONE, REMOVED_AT)
    assert await purge.clear_removed(engine, [GONE]) == 1  # on_guild_join
    assert await maintenance(engine, REMOVED_AT + timedelta(days=GRACE_DAYS + 10)).purge_once() == []
    assert await purge.guild_row_counts(engine, GONE) == FULL


async def test_a_guild_the_process_is_in_is_never_purged_and_its_removal_is_cleared(backend: Backend) -> None:
    """A rejoin whose clearing was missed (database down at the join): the hourly pass clears it instead."""
    engine = backend.engine
    await fill(engine, GONE)
    await purge.mark_removed(engine, GONE, REMOVED_AT)
    late = REMOVED_AT + timedelta(days=GRACE_DAYS + 1)
    assert await maintenance(engine, late, served=(GONE, STAYS)).purge_once() == []
    assert await purge.removed_guilds(engine) == {}
    assert await purge.guild_row_counts(engine, GONE) == FULL


async def test_no_purge_when_off_before_ready_or_on_another_process_shard(backend: Backend) -> None:
    engine = backend.engine
    await fill(engine, GONE)
    await purge.mark_removed(engine, GONE, REMOVED_AT)
    late = REMOVED_AT + timedelta(days=GRACE_DAYS + 1)
    off = maintenance(engine, late, days=0)  # GUILD_PURGE_DAYS=0: keep forever
    not_ready = maintenance(engine, late)
    not_ready.ready = lambda: False  # before READY the process does not know which guilds it is in
    elsewhere = maintenance(engine, late)
    elsewhere.owns = lambda guild_id: guild_id != GONE  # another process serves its shard
    for m in (off, not_ready, elsewhere):
        assert await m.purge_once() == []
    assert await purge.guild_row_counts(engine, GONE) == FULL
    assert await purge.removed_guilds(engine) == {GONE: REMOVED_AT}


async def test_a_crash_mid_purge_leaves_everything(backend: Backend) -> None:
    """The purge fails at its last table, after deleting all the others: the transaction leaves all of it."""
    engine = backend.engine
    await fill(engine, GONE, STAYS)
    await purge.mark_removed(engine, GONE, REMOVED_AT)
    last = purge.guild_tables()[-1].name
    reached: list[str] = []

    def crash(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM"):
            reached.append(statement.split()[2])
            if statement.split()[2].strip('"') == last:
                raise RuntimeError("the process died here")

    sa.event.listen(engine.sync_engine, "before_cursor_execute", crash)
    try:
        with pytest.raises(RuntimeError, match="died"):
            await purge.purge_guild(engine, GONE, REMOVED_AT + timedelta(days=GRACE_DAYS))
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", crash)
    assert len(reached) == len(FULL) + 1  # the claim and every table up to the last had been deleted
    assert await purge.guild_row_counts(engine, GONE) == FULL
    assert await purge.removed_guilds(engine) == {GONE: REMOVED_AT}  # the claim rolled back too: retried

    assert await maintenance(engine, REMOVED_AT + timedelta(days=GRACE_DAYS, hours=1)).purge_once() == [GONE]
    assert await purge.guild_row_counts(engine, GONE) == EMPTY
    assert await purge.guild_row_counts(engine, STAYS) == FULL


async def test_processes_purging_at_once_purge_each_guild_once(backend: Backend) -> None:
    """Every process runs the hourly pass; the claim makes exactly one of them purge each guild."""
    engine = backend.engine
    await fill(engine, GONE, STAYS)
    await purge.mark_removed(engine, GONE, REMOVED_AT)
    await purge.mark_removed(engine, STAYS, REMOVED_AT + timedelta(days=1))
    late = REMOVED_AT + timedelta(days=GRACE_DAYS + 2)
    engines = [engine, *(create_engine(backend.url) for _ in range(3))]
    try:
        purged = await asyncio.gather(*(maintenance(e, late, served=()).purge_once() for e in engines))
    finally:
        for e in engines[1:]:
            await e.dispose()
    flat = sorted(g for one in purged for g in one)
    assert flat == sorted([GONE, STAYS])
    for guild_id in (GONE, STAYS):
        assert await purge.guild_row_counts(engine, guild_id) == EMPTY
        assert (await versions(engine, guild_id))[history.WHOLE_GUILD] == 2  # bumped once, by the one purge


async def handlers_done(event: str) -> None:
    """Wait for the bot's listeners of a gateway event that were scheduled so far (discord.py names their tasks)."""
    name = f"discord.py: on_{event}"
    await asyncio.gather(*(task for task in asyncio.all_tasks() if task.get_name() == name))
    # The bot does the work of a guild event in its task group, in tasks named ``<event>:<guild id>``.
    await asyncio.gather(*(task for task in asyncio.all_tasks() if task.get_name().startswith(f"{event}:")))


async def test_the_bot_records_removals_not_outages_and_forgets_them_on_a_rejoin(backend: Backend) -> None:
    """Through the real bot: GUILD_DELETE records the removal, an outage does not, a rejoin clears it;
    the hourly pass past the grace period purges only the guild that stayed away."""
    clock = DemoClock()
    clock.set(int(REMOVED_AT.timestamp()))
    async with SandboxDiscord() as sb:
        gone, back = sb.add_guild("Gone"), sb.add_guild("Back")
        await fill(backend.engine, gone.id, back.id)
        async with live_bot(backend, sb, extensions=(), clock=clock) as bot:
            assert bot.settings.GUILD_PURGE_DAYS == GRACE_DAYS  # the default
            # The bot opens today for each guild as it becomes available: let that finish (it holds a connection).
            await handlers_done("guild_available")
            await sb.remove_bot(gone, unavailable=True)  # an outage: the bot is still in the guild
            await sb.barrier()
            await handlers_done("guild_remove")
            assert await purge.removed_guilds(backend.engine) == {}

            for guild in (gone, back):
                await sb.remove_bot(guild)
            await sb.barrier()
            await handlers_done("guild_remove")
            assert await purge.removed_guilds(backend.engine) == {gone.id: REMOVED_AT, back.id: REMOVED_AT}
            await sb.join_guild(back)
            await sb.barrier()
            await handlers_done("guild_join")
            assert await purge.removed_guilds(backend.engine) == {gone.id: REMOVED_AT}

            clock.set(int((REMOVED_AT + timedelta(days=GRACE_DAYS, minutes=1)).timestamp()))
            assert await bot.maintenance.purge_once() == [gone.id]
    assert await purge.guild_row_counts(backend.engine, gone.id) == EMPTY
    # The guild that came back kept every row (and has more: the bot closed its past days into rollups).
    kept = await purge.guild_row_counts(backend.engine, back.id)
    assert {name: n for name, n in kept.items() if n < FULL[name]} == {}
