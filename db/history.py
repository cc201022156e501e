"""Each guild's history versions: what report snapshots of whole past UTC days are checked against.

A snapshot (``db.reports.snapshots``) holds an answer over whole UTC days before
today. Those rows only change when something writes into an earlier day (a batch
flushed late or spilled, backfill), erases or expires rows (``/privacy optout
delete``, retention) or changes who is hidden (opt-outs). Every such write bumps,
in its own transaction, the version of the UTC month it wrote into, or the
guild-wide version (``WHOLE_GUILD``) when it changes more than a month; a snapshot
read before the write is never used after it, and snapshots of other months stay.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from db import tables as t
from db.dialect import insert_for
from db.series import DAY

# The version of everything a guild has, whatever the month.
WHOLE_GUILD = -1

# Rows this close to the next UTC midnight count as past already: a clock of another
# process a little behind ours, or a flush that commits just after midnight, must not
# write into a day a snapshot was taken of without moving the version on. (The flush
# asks the time right before its last statement, so only its commit comes after.)
CLOCK_MARGIN = timedelta(minutes=1)


def past_before(now_epoch: float) -> int:
    """Epoch of the UTC midnight before which a written hour counts as the past (with the clock margin)."""
    return int(now_epoch + CLOCK_MARGIN.total_seconds()) // DAY * DAY


def month_of(moment: datetime | int) -> int:
    """The month number (``year * 12 + month - 1``) of a time or epoch, in UTC."""
    when = datetime.fromtimestamp(moment, UTC) if isinstance(moment, int) else moment.astimezone(UTC)
    return when.year * 12 + when.month - 1


def month_start(month: int) -> datetime:
    """The first instant of a month number, in UTC."""
    return datetime(month // 12, month % 12 + 1, 1, tzinfo=UTC)


async def bump(conn: AsyncConnection, changes: Iterable[tuple[int, int]]) -> None:
    """Move the versions of ``(guild_id, month)`` pairs on, inside the caller's transaction.

    Sorted, so that concurrent transactions lock the rows in the same order.
    """
    pairs = sorted({(int(g), int(m)) for g, m in changes})
    if not pairs:
        return
    insert = insert_for(conn)
    h = t.guild_history
    stmt = insert(h).values([{"guild_id": g, "month": m, "version": 1} for g, m in pairs])
    stmt = stmt.on_conflict_do_update(index_elements=["guild_id", "month"], set_={"version": h.c.version + 1})
    await conn.execute(stmt)


async def bump_guild(conn: AsyncConnection, guild_id: int) -> None:
    """Move the guild-wide version on: every snapshot of the guild is stale."""
    await bump(conn, [(guild_id, WHOLE_GUILD)])


async def versions(conn: AsyncConnection, guild_id: int) -> dict[int, int]:
    """The guild's versions by month (``WHOLE_GUILD`` included); a month never changed is absent (0)."""
    h = t.guild_history
    rows = await conn.execute(sa.select(h.c.month, h.c.version).where(h.c.guild_id == guild_id))
    return {int(m): int(v) for m, v in rows.all()}
