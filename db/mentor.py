"""Mentor reads: per-member, per-local-day messages and active voice, hourly rows of one member, join dates.

Everything is scoped by ``guild_id`` and leaves out members who opted out (any
mode). Days are the guild's local calendar days, built with
``db.days.daily_matrix`` from:

- ``member_daily`` (one row per member and UTC day) when the guild's timezone is
  UTC, where a UTC day is a local day; on PostgreSQL the rows come back as one
  array per member, so that 20,000 members are 20,000 rows, not a million;
- the hourly tables otherwise, so that local days stay exact in any timezone.
  For the watchlist, the sums per member and local day over whole past UTC days
  are kept as a snapshot (``db.reports.snapshots``) until the guild's history
  changes, so that only the hours at the edges are read again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db import tables as t
from db.days import ACTIVE_VOICE_SECONDS, active_days_mask, daily_matrix, local_days, local_hour_index
from db.privacy import not_opted_out, opted_out_ids
from db.reports.snapshots import Snapshots, over
from db.reports.spans import Span, edges, hour_ranges, split_period, whole_days
from db.rollups import DayCloser, day_start
from db.types import aware

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
# Active days travel from PostgreSQL as 63-day bit masks, one row per member and 63 days.
WORD_DAYS: Final = 63
# The hourly tables as (table, messages, active voice seconds) of a row.
HOURLY_ACTIVITY: Final = (
    (t.message_hourly, t.message_hourly.c.messages, sa.literal(0, sa.BigInteger)),
    (t.voice_hourly, sa.literal(0, sa.BigInteger), t.voice_hourly.c.active_s),
)
UTC_NAMES: Final = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu", "GMT", "Etc/GMT"})


@dataclass(frozen=True, slots=True)
class DailyActivity:
    """Members × local-days matrices of a guild: messages and active voice seconds, oldest day first."""

    first_day: date
    member_ids: IntArray
    messages: FloatArray
    active_s: FloatArray

    @property
    def days(self) -> int:
        """Number of local days (columns)."""
        return int(self.messages.shape[1])

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (what a snapshot of it weighs)."""
        return int(self.member_ids.nbytes + self.messages.nbytes + self.active_s.nbytes)

    def row(self, user_id: int) -> int | None:
        """The row of a member, or None when they have no activity in the window."""
        found = np.flatnonzero(self.member_ids == user_id)
        return int(found[0]) if found.size else None


@dataclass(frozen=True, slots=True)
class ActiveDays:
    """Which local days each member was active on (a message, or 60 s of active voice): members × days."""

    first_day: date
    member_ids: IntArray
    active: BoolArray

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (what a snapshot of it weighs)."""
        return int(self.member_ids.nbytes + self.active.nbytes)


@dataclass(frozen=True, slots=True)
class MemberHours:
    """One member's activity per UTC hour: epochs (hour starts), messages and active voice seconds."""

    epochs: IntArray
    messages: FloatArray
    active_s: FloatArray


@dataclass(frozen=True, slots=True)
class Membership:
    """When members first joined the guild and whether they have left since their last join."""

    first_joined: dict[int, datetime]
    departed: frozenset[int]


def is_utc(tz: ZoneInfo) -> bool:
    """Whether local days in ``tz`` are UTC days."""
    return tz.key in UTC_NAMES


@dataclass(frozen=True, slots=True)
class LocalDaySums:
    """Messages and active voice seconds per member and local day number (days since 1970-01-01)."""

    users: IntArray
    day_numbers: IntArray
    messages: IntArray
    active_s: IntArray

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return int(self.users.nbytes + self.day_numbers.nbytes + self.messages.nbytes + self.active_s.nbytes)

    @staticmethod
    def combine(parts: Sequence[LocalDaySums]) -> LocalDaySums:
        """The sums per (member, day) over parts that may share a local day (split at a UTC midnight)."""
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return LocalDaySums(empty, empty, empty, empty)
        users = np.concatenate([p.users for p in parts])
        days = np.concatenate([p.day_numbers for p in parts])
        order = np.lexsort((days, users))
        users, days = users[order], days[order]
        messages = np.concatenate([p.messages for p in parts])[order]
        active = np.concatenate([p.active_s for p in parts])[order]
        if not users.size:
            return LocalDaySums(users, days, messages, active)
        starts = np.flatnonzero(np.r_[True, (users[1:] != users[:-1]) | (days[1:] != days[:-1])])
        return LocalDaySums(
            users[starts], days[starts], np.add.reduceat(messages, starts), np.add.reduceat(active, starts)
        )


@dataclass(frozen=True, slots=True)
class KeptLocalDays:
    """A snapshot of whole UTC days for a guild in another timezone: the local days wholly inside
    (members × days, from ``first_day``) and the sums of the local days its ends cut."""

    first_day: date
    member_ids: IntArray
    active: BoolArray
    boundary: LocalDaySums

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (what the snapshot weighs)."""
        return int(self.member_ids.nbytes + self.active.nbytes) + self.boundary.nbytes


class MentorData:
    """The queries behind /mentor card and /mentor watchlist (with the bot's snapshots, if given)."""

    def __init__(self, engine: AsyncEngine, snapshots: Snapshots | None = None, days: DayCloser | None = None) -> None:
        self.engine = engine
        self.snapshots = snapshots
        # The UTC paths read ``member_daily`` for the whole days before ``end``: those are closed first.
        self.days = days or DayCloser(engine)

    async def _closed(self, guild_id: int, end: datetime) -> None:
        """Close the guild's days before the one ``end`` falls in (db.rollups)."""
        await self.days.close_through(guild_id, day_start(end.timestamp()))

    async def guild_days(self, guild_id: int, start: datetime, end: datetime, tz: ZoneInfo) -> DailyActivity:
        """Every member's messages and active voice seconds per local day of ``[start, end)``.

        ``start`` should be a local midnight; the days are those ``local_days`` gives.
        Members without any message or active voice second in the window are left out.
        On PostgreSQL with the bot's snapshots, the sums over whole past UTC days are kept
        (``db.reports.snapshots``) and only the edges (today) are read each time: the
        mentor card and the dashboard's member page read the whole guild's window.
        """
        await self._closed(guild_id, end)
        days = local_days(start, end, tz)
        first_day = days[0].date if days else start.astimezone(tz).date()
        if self.snapshots is None or self.engine.dialect.name != "postgresql":
            return await self._read_guild_days(guild_id, start, end, tz, first_day, len(days))
        hidden = sorted(await opted_out_ids(self.engine, guild_id))
        async with self.engine.connect() as conn:

            async def read(part: Span) -> DailyActivity:
                """The part's sums on its own local days: whole UTC days of a UTC guild from member_daily, the
                rest from the hourly tables summed per local day by the server."""
                whole = whole_days(part) if is_utc(tz) else None
                pieces = [(part, False)] if whole is None else [(whole, True), *((e, False) for e in edges(part))]
                found = []
                for piece, daily in pieces:
                    sums = (
                        await self._utc_day_sums(conn, guild_id, piece.start, piece.end)
                        if daily
                        else await self._sums(conn, guild_id, piece.start, piece.end, tz, hidden)
                    )
                    found.append(
                        _dense(sums, piece.start.astimezone(tz).date(), len(local_days(piece.start, piece.end, tz)))
                    )
                return _summed(part.start.astimezone(tz).date(), len(local_days(part.start, part.end, tz)), found)

            plan = split_period(start, end, True)
            key = ("mentor-guild-days", tz.key)
            n_days = len(days)
            found = await over(self.snapshots, conn, guild_id, plan, key, read, lambda p: _summed(first_day, n_days, p))
        # The opt-outs of now, whatever the snapshot was read under (an opt-out also bumps the versions).
        shown = ~np.isin(found.member_ids, np.asarray(hidden, dtype=np.int64))
        if shown.all():
            return found
        return DailyActivity(first_day, found.member_ids[shown], found.messages[shown], found.active_s[shown])

    async def _read_guild_days(
        self, guild_id: int, start: datetime, end: datetime, tz: ZoneInfo, first_day: date, n_days: int
    ) -> DailyActivity:
        """``guild_days`` read whole: the flat rows of the window placed on its local days."""
        if is_utc(tz):
            # Whole days from member_daily; the rest (today: an open day) from the hourly rows.
            cut = max(start, datetime.fromtimestamp(day_start(end.timestamp()), UTC))
            async with self.engine.connect() as conn:
                daily = await self._daily_rows(conn, guild_id, start, cut)
            hourly = await self._hourly_rows(guild_id, cut, end)
            epochs, users, messages, active = (np.concatenate(pair) for pair in zip(daily, hourly, strict=True))
        else:
            epochs, users, messages, active = await self._hourly_rows(guild_id, start, end)
        member_ids, rows = np.unique(users, return_inverse=True) if users.size else (users, users)
        n = int(member_ids.size)
        found = DailyActivity(
            first_day=first_day,
            member_ids=member_ids.astype(np.int64),
            messages=daily_matrix(epochs, rows, messages, tz, first_day, n, n_days),
            active_s=daily_matrix(epochs, rows, active, tz, first_day, n, n_days),
        )
        return _summed(first_day, n_days, [found])  # without members whose rows are all zero

    async def _utc_day_sums(self, conn: AsyncConnection, guild_id: int, start: datetime, end: datetime) -> LocalDaySums:
        """Sums per member and UTC day of whole UTC days ``[start, end)`` from ``member_daily`` (PostgreSQL)."""
        epochs, users, messages, active = await self._daily_rows(conn, guild_id, start, end)
        return LocalDaySums(users, epochs // 86400, messages.astype(np.int64), active.astype(np.int64))

    async def active_days(self, guild_id: int, start: datetime, end: datetime, tz: ZoneInfo) -> ActiveDays:
        """Every member's active local days of ``[start, end)`` (``start`` a local midnight): what risk needs.

        On PostgreSQL the days are found and packed into bit masks by the server,
        so that a guild of 20,000 members sends about 20,000 small rows; SQLite
        reads the day matrices.
        """
        await self._closed(guild_id, end)
        days = local_days(start, end, tz)
        first_day = days[0].date if days else start.astimezone(tz).date()
        if self.engine.dialect.name != "postgresql":
            data = await self.guild_days(guild_id, start, end, tz)
            mask = active_days_mask(data.messages, data.active_s)
            return ActiveDays(first_day, data.member_ids, np.asarray(mask, dtype=bool))
        # Opted-out members are few: leaving them out by id spares an anti-join on every row.
        hidden = sorted(await opted_out_ids(self.engine, guild_id))
        if is_utc(tz):
            return await self._utc_active_days(guild_id, start, end, tz, hidden, first_day, len(days))
        if self.snapshots is not None:
            return await self._local_active_days_kept(
                self.snapshots, guild_id, start, end, tz, hidden, first_day, len(days)
            )
        async with self.engine.connect() as conn:
            day_index = self._local_day_index(guild_id, start, end, tz, hidden)
            return ActiveDays(first_day, *await _packed(conn, day_index, len(days)))

    def _utc_day_index(
        self, guild_id: int, start: datetime, end: datetime, hidden: list[int]
    ) -> sa.Select[tuple[object, ...]]:
        """(user_id, idx) of active UTC days from ``member_daily`` (PostgreSQL)."""
        d = t.member_daily
        # Integer arithmetic on purpose: numeric ``extract`` costs several times more per row.
        epoch = sa.cast(sa.func.date_part("epoch", d.c.day), sa.BigInteger)
        idx = sa.cast(sa.cast(epoch - int(start.timestamp()), sa.BigInteger).op("/")(86400), sa.Integer)
        return sa.select(d.c.user_id.label("user_id"), idx.label("idx")).where(
            d.c.guild_id == guild_id,
            d.c.day >= start,
            d.c.day < end,
            sa.or_(d.c.messages > 0, d.c.active_s >= ACTIVE_VOICE_SECONDS),
            d.c.user_id.not_in(hidden),
        )

    def _local_day_index(
        self, guild_id: int, start: datetime, end: datetime, tz: ZoneInfo, hidden: list[int]
    ) -> sa.Select[tuple[object, ...]]:
        """(user_id, idx) of active local days from the hourly tables, summed per local day (PostgreSQL)."""
        rows = _local_hour_rows(guild_id, start, end, tz, hidden, start.astimezone(tz).date())
        return (
            sa.select(rows.c.user_id.label("user_id"), rows.c.idx.label("idx"))
            .group_by(rows.c.user_id, rows.c.idx)
            .having(sa.or_(sa.func.sum(rows.c.messages) > 0, sa.func.sum(rows.c.active_s) >= ACTIVE_VOICE_SECONDS))
        )

    async def _local_active_days_kept(
        self,
        snapshots: Snapshots,
        guild_id: int,
        start: datetime,
        end: datetime,
        tz: ZoneInfo,
        hidden: list[int],
        first_day: date,
        n_days: int,
    ) -> ActiveDays:
        """Active local days of ``[start, end)``: whole past UTC days from a snapshot, the edges read now.

        The snapshot holds the active days lying wholly inside those UTC days (bit masks
        packed by the server) and the sums of the two local days cut by their ends,
        which are added to the edges' sums before the threshold is applied.
        """
        plan = split_period(start, end, True)
        async with self.engine.connect() as conn:
            sums = [await self._sums(conn, guild_id, a, b, tz, hidden) for a, b in hour_ranges(plan)]
            kept: KeptLocalDays | None = None
            whole = whole_days(plan)
            if whole is not None:
                a, b = whole.start, whole.end
                key = ("mentor-local-days", tz.key)
                kept = await snapshots.get(
                    conn, guild_id, key, (a, b), lambda: self._read_kept(conn, guild_id, a, b, tz, hidden)
                )
                sums.append(kept.boundary)
        found = _active_from_sums(LocalDaySums.combine(sums), first_day, n_days)
        if kept is None:
            return found
        return _merged(first_day, n_days, [found, ActiveDays(kept.first_day, kept.member_ids, kept.active)])

    async def _utc_active_days(
        self,
        guild_id: int,
        start: datetime,
        end: datetime,
        tz: ZoneInfo,
        hidden: list[int],
        first_day: date,
        n_days: int,
    ) -> ActiveDays:
        """Active days of ``[start, end)`` from ``member_daily`` (packed by the server): whole past days
        from a snapshot when the bot keeps them, the rest read now."""
        async with self.engine.connect() as conn:

            async def read(part: Span) -> ActiveDays:
                # Whole days from member_daily; the rest (today: an open day) from the hourly rows.
                found = []
                days = whole_days(part)
                if days is not None:
                    n = len(local_days(days.start, days.end, tz))
                    packed = await _packed(conn, self._utc_day_index(guild_id, days.start, days.end, hidden), n)
                    found.append(ActiveDays(days.start.date(), *packed))
                for edge in edges(part) if days is not None else [part]:
                    n = len(local_days(edge.start, edge.end, tz))
                    packed = await _packed(conn, self._local_day_index(guild_id, edge.start, edge.end, tz, hidden), n)
                    found.append(ActiveDays(edge.start.astimezone(tz).date(), *packed))
                first = part.start.astimezone(tz).date()
                return _merged(first, len(local_days(part.start, part.end, tz)), found)

            plan = split_period(start, end, True)
            key = ("mentor-utc-days",)
            return await over(self.snapshots, conn, guild_id, plan, key, read, lambda p: _merged(first_day, n_days, p))

    async def _read_kept(
        self, conn: AsyncConnection, guild_id: int, start: datetime, end: datetime, tz: ZoneInfo, hidden: list[int]
    ) -> KeptLocalDays:
        """What a snapshot of whole UTC days ``[start, end)`` keeps for another timezone."""
        whole = [d for d in local_days(start, end, tz) if d.utc_start >= start and d.utc_end <= end]
        if not whole:
            return KeptLocalDays(
                start.astimezone(tz).date(), *_no_days(), await self._sums(conn, guild_id, start, end, tz, hidden)
            )
        inside_start, inside_end = whole[0].utc_start, whole[-1].utc_end
        boundary = LocalDaySums.combine(
            [
                await self._sums(conn, guild_id, start, inside_start, tz, hidden),
                await self._sums(conn, guild_id, inside_end, end, tz, hidden),
            ]
        )
        day_index = self._local_day_index(guild_id, inside_start, inside_end, tz, hidden)
        member_ids, active = await _packed(conn, day_index, len(whole))
        return KeptLocalDays(whole[0].date, member_ids, active, boundary)

    async def _sums(
        self, conn: AsyncConnection, guild_id: int, start: datetime, end: datetime, tz: ZoneInfo, hidden: list[int]
    ) -> LocalDaySums:
        """Sums per member and local day of the hours in ``[start, end)`` (none when it is empty)."""
        if end <= start:
            return LocalDaySums.combine([])
        rows: Sequence[Any] = (await conn.execute(self._local_day_sums(guild_id, start, end, tz, hidden))).all()
        return LocalDaySums(*(np.fromiter((int(r[i] or 0) for r in rows), np.int64, len(rows)) for i in range(4)))

    @staticmethod
    def _local_day_sums(
        guild_id: int, start: datetime, end: datetime, tz: ZoneInfo, hidden: list[int]
    ) -> sa.Select[tuple[object, ...]]:
        """(user_id, local day number since 1970-01-01, messages, active_s) from the hourly tables (PostgreSQL)."""
        rows = _local_hour_rows(guild_id, start, end, tz, hidden, date(1970, 1, 1))
        return sa.select(
            rows.c.user_id,
            rows.c.idx,
            sa.cast(sa.func.sum(rows.c.messages), sa.BigInteger),
            sa.cast(sa.func.sum(rows.c.active_s), sa.BigInteger),
        ).group_by(rows.c.user_id, rows.c.idx)

    async def _daily_rows(
        self, conn: AsyncConnection, guild_id: int, start: datetime, end: datetime
    ) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
        """Flat (day epoch, user, messages, active_s) arrays from ``member_daily``."""
        d = t.member_daily
        where = (
            d.c.guild_id == guild_id,
            d.c.day >= start,
            d.c.day < end,
            sa.or_(d.c.messages > 0, d.c.active_s > 0),
            not_opted_out(guild_id, d.c.user_id),
        )
        if conn.dialect.name == "postgresql":
            epoch = sa.cast(sa.extract("epoch", d.c.day), sa.BigInteger)
            stmt = (
                sa.select(
                    d.c.user_id,
                    sa.func.array_agg(epoch, type_=postgresql.ARRAY(sa.BigInteger)),
                    sa.func.array_agg(d.c.messages, type_=postgresql.ARRAY(sa.BigInteger)),
                    sa.func.array_agg(d.c.active_s, type_=postgresql.ARRAY(sa.BigInteger)),
                )
                .where(*where)
                .group_by(d.c.user_id)
            )
            result = (await conn.execute(stmt)).all()
            return _from_arrays(result)
        flat = sa.select(d.c.day, d.c.user_id, d.c.messages, d.c.active_s).where(*where)
        return _from_rows((await conn.execute(flat)).all())

    async def _hourly_rows(
        self, guild_id: int, start: datetime, end: datetime, user_id: int | None = None
    ) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
        """Flat (hour epoch, user, messages, active_s) arrays from the hourly tables."""
        parts: list[sa.Select[tuple[object, ...]]] = []
        for table, messages, active in HOURLY_ACTIVITY:
            sel = sa.select(
                table.c.hour.label("hour"),
                table.c.user_id.label("user_id"),
                messages.label("messages"),
                active.label("active_s"),
            ).where(
                table.c.guild_id == guild_id,
                table.c.hour >= start,
                table.c.hour < end,
                not_opted_out(guild_id, table.c.user_id),
            )
            if user_id is not None:
                sel = sel.where(table.c.user_id == user_id)
            parts.append(sel)
        rows = sa.union_all(*parts).subquery()
        stmt = sa.select(
            rows.c.hour, rows.c.user_id, sa.func.sum(rows.c.messages), sa.func.sum(rows.c.active_s)
        ).group_by(rows.c.hour, rows.c.user_id)
        async with self.engine.connect() as conn:
            return _from_rows((await conn.execute(stmt)).all())

    async def member_hours(self, guild_id: int, user_id: int, start: datetime, end: datetime) -> MemberHours:
        """One member's messages and active voice seconds per UTC hour of ``[start, end)``."""
        epochs, _, messages, active = await self._hourly_rows(guild_id, start, end, user_id)
        order = np.argsort(epochs, kind="stable")
        return MemberHours(epochs[order], messages[order], active[order])

    async def membership(self, guild_id: int, user_ids: Sequence[int] | None = None) -> Membership:
        """First join time of members (all, or ``user_ids``) and who left after their latest join."""
        j = t.member_joins
        last_left = sa.func.max(j.c.left_at)
        stmt = (
            sa.select(
                j.c.user_id,
                sa.func.min(j.c.joined_at).label("first"),
                # Gone when the latest leave is not older than the latest join.
                sa.and_(last_left.is_not(None), last_left >= sa.func.max(j.c.joined_at)).label("gone"),
            )
            .where(j.c.guild_id == guild_id)
            .group_by(j.c.user_id)
        )
        if user_ids is not None:
            stmt = stmt.where(j.c.user_id.in_(list(user_ids)))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return Membership(
            {int(user): aware(first) for user, first, _ in rows},
            frozenset(int(user) for user, _, gone in rows if gone),
        )


def _local_hour_rows(
    guild_id: int, start: datetime, end: datetime, tz: ZoneInfo, hidden: list[int], first: date
) -> sa.Subquery:
    """Hourly message and active voice rows of ``[start, end)`` as (user_id, idx, messages, active_s).

    ``idx`` is the local day of the hour's start, counted from ``first``.
    """
    parts = []
    for table, messages, active in HOURLY_ACTIVITY:
        local_date = sa.cast(sa.func.timezone(tz.key, table.c.hour), sa.Date)
        parts.append(
            sa.select(
                table.c.user_id.label("user_id"),
                sa.cast(local_date - first, sa.Integer).label("idx"),
                messages.label("messages"),
                active.label("active_s"),
            ).where(
                table.c.guild_id == guild_id,
                table.c.hour >= start,
                table.c.hour < end,
                table.c.user_id.not_in(hidden),
            )
        )
    return sa.union_all(*parts).subquery()


def history_columns(
    member_ids: IntArray, first_joined: dict[int, datetime], first_day: date, tz: ZoneInfo, active: npt.ArrayLike
) -> IntArray:
    """Per member, the column of their first local day in the guild (negative when before the window).

    Members without a recorded join fall back to their first active day, as the
    analytics do when no start is given.
    """
    mask = np.asarray(active, dtype=bool).reshape(member_ids.size, -1)
    n_days = mask.shape[1]
    out = np.where(mask.any(axis=1), np.argmax(mask, axis=1), n_days).astype(np.int64)
    if not first_joined or member_ids.size == 0:
        return out
    known_ids = np.fromiter(first_joined.keys(), dtype=np.int64, count=len(first_joined))
    known_epochs = np.fromiter(
        (int(moment.timestamp()) for moment in first_joined.values()), dtype=np.int64, count=len(first_joined)
    )
    order = np.argsort(known_ids)
    known_ids, known_epochs = known_ids[order], known_epochs[order]
    at = np.clip(np.searchsorted(known_ids, member_ids), 0, known_ids.size - 1)
    found = known_ids[at] == member_ids
    if found.any():
        day_index, _ = local_hour_index(known_epochs[at[found]], tz, first_day)
        out[found] = day_index
    return out


async def _packed(
    conn: AsyncConnection, day_index: sa.Select[tuple[object, ...]], n_days: int
) -> tuple[IntArray, BoolArray]:
    """Member ids and the members × days matrix of ``(user_id, idx)`` active days (bit masks packed by the server)."""
    days_q = day_index.subquery()
    bit = sa.literal(1, sa.BigInteger).op("<<")(sa.cast(days_q.c.idx % WORD_DAYS, sa.Integer))
    if n_days <= WORD_DAYS:
        # One word per member: the commonest case (periods up to 30d read 42 days).
        stmt = sa.select(days_q.c.user_id, sa.literal(0, sa.Integer), sa.func.bit_or(bit))
        stmt = stmt.group_by(days_q.c.user_id)
    else:
        word = days_q.c.idx.op("/")(WORD_DAYS)  # integer division: idx is never negative
        stmt = sa.select(days_q.c.user_id, word, sa.func.bit_or(bit)).group_by(days_q.c.user_id, word)
    rows = (await conn.execute(stmt)).all()
    return _unpack_words(rows, n_days)


def _no_days() -> tuple[IntArray, BoolArray]:
    """No members and no days."""
    return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=bool)


def _merged(first_day: date, n_days: int, parts: Sequence[ActiveDays]) -> ActiveDays:
    """Active days of several parts (each from its own first day) on the columns of ``first_day``."""
    member_ids = _union([p.member_ids for p in parts])
    active = np.zeros((member_ids.size, n_days), dtype=bool)
    for part in parts:
        # The part's days on the result's columns: one contiguous run, cut to the window.
        offset = (part.first_day - first_day).days
        lo, hi = max(offset, 0), min(offset + part.active.shape[1], n_days)
        if lo >= hi or not part.member_ids.size:
            continue
        block = part.active[:, lo - offset : hi - offset]
        if part.member_ids.size == member_ids.size:  # every member (ids unique and sorted in both)
            active[:, lo:hi] |= block
        else:
            active[np.searchsorted(member_ids, part.member_ids), lo:hi] |= block
    any_day = active.any(axis=1)
    if any_day.all():
        return ActiveDays(first_day, member_ids.astype(np.int64), active)
    return ActiveDays(first_day, member_ids[any_day].astype(np.int64), active[any_day])


def _union(ids: Sequence[IntArray]) -> IntArray:
    """The sorted union of sorted unique id arrays; without a sort when the largest holds all the others
    (a snapshot of the whole guild and today's few members)."""
    if not ids:
        return np.zeros(0, dtype=np.int64)
    largest = max(ids, key=lambda a: a.size)
    others = [a for a in ids if a is not largest and a.size]
    if not others:
        return largest
    if largest.size:
        rest = np.concatenate(others)
        at = np.minimum(np.searchsorted(largest, rest), largest.size - 1)
        if bool((largest[at] == rest).all()):
            return largest
    return np.unique(np.concatenate([largest, *others]))


def _dense(sums: LocalDaySums, first_day: date, n_days: int) -> DailyActivity:
    """The members × days matrices of per-day sums (one per member and day) on the days from ``first_day``."""
    columns = sums.day_numbers - (first_day - date(1970, 1, 1)).days
    keep = (columns >= 0) & (columns < n_days) & ((sums.messages != 0) | (sums.active_s != 0))
    member_ids, rows = np.unique(sums.users[keep], return_inverse=True)
    messages = np.zeros((member_ids.size, n_days))
    active = np.zeros((member_ids.size, n_days))
    messages[rows, columns[keep]] = sums.messages[keep]
    active[rows, columns[keep]] = sums.active_s[keep]
    return DailyActivity(first_day, member_ids.astype(np.int64), messages, active)


def _summed(first_day: date, n_days: int, parts: Sequence[DailyActivity]) -> DailyActivity:
    """The sums of several parts (each from its own first day) on the columns of ``first_day``; members whose
    sums are all zero there are left out."""
    member_ids = _union([p.member_ids for p in parts])
    messages = np.zeros((member_ids.size, n_days))
    active = np.zeros((member_ids.size, n_days))
    for part in parts:
        # The part's days on the result's columns: one contiguous run, cut to the window.
        offset = (part.first_day - first_day).days
        lo, hi = max(offset, 0), min(offset + part.days, n_days)
        if lo >= hi or not part.member_ids.size:
            continue
        rows = slice(None) if part.member_ids.size == member_ids.size else np.searchsorted(member_ids, part.member_ids)
        messages[rows, lo:hi] += part.messages[:, lo - offset : hi - offset]
        active[rows, lo:hi] += part.active_s[:, lo - offset : hi - offset]
    shown = messages.any(axis=1) | active.any(axis=1)
    if shown.all():
        return DailyActivity(first_day, member_ids.astype(np.int64), messages, active)
    return DailyActivity(first_day, member_ids[shown].astype(np.int64), messages[shown], active[shown])


def _active_from_sums(sums: LocalDaySums, first_day: date, n_days: int) -> ActiveDays:
    """The members × days active matrix (a message, or enough active voice) from per-day sums."""
    columns = sums.day_numbers - (first_day - date(1970, 1, 1)).days
    active = (sums.messages > 0) | (sums.active_s >= ACTIVE_VOICE_SECONDS)
    keep = active & (columns >= 0) & (columns < n_days)
    member_ids, rows = np.unique(sums.users[keep], return_inverse=True)
    matrix = np.zeros((member_ids.size, n_days), dtype=bool)
    matrix[rows, columns[keep]] = True
    return ActiveDays(first_day, member_ids.astype(np.int64), matrix)


def _unpack_words(rows: Sequence[Sequence[Any]], n_days: int) -> tuple[IntArray, BoolArray]:
    """Member ids and the members × days active matrix from (user, word, 63-day bit mask) rows."""
    users = np.fromiter((int(r[0]) for r in rows), dtype=np.int64, count=len(rows))
    words = np.fromiter((int(r[1]) for r in rows), dtype=np.int64, count=len(rows))
    masks = np.fromiter((int(r[2]) for r in rows), dtype=np.uint64, count=len(rows))
    member_ids, member_rows = np.unique(users, return_inverse=True)
    active = np.zeros((member_ids.size, n_days), dtype=bool)
    if not rows:
        return member_ids.astype(np.int64), active
    bits = ((masks[:, None] >> np.arange(WORD_DAYS, dtype=np.uint64)) & np.uint64(1)).astype(bool)
    columns = words[:, None] * WORD_DAYS + np.arange(WORD_DAYS)
    keep = bits & (columns >= 0) & (columns < n_days)
    active[np.broadcast_to(member_rows[:, None], keep.shape)[keep], columns[keep]] = True
    return member_ids.astype(np.int64), active


def _from_rows(rows: Sequence[Sequence[Any]]) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Flat arrays from (time, user, messages, active_s) rows."""
    epochs = np.fromiter((int(aware(r[0]).timestamp()) for r in rows), dtype=np.int64, count=len(rows))
    users = np.fromiter((int(r[1]) for r in rows), dtype=np.int64, count=len(rows))
    messages = np.fromiter((float(r[2] or 0) for r in rows), dtype=np.float64, count=len(rows))
    active = np.fromiter((float(r[3] or 0) for r in rows), dtype=np.float64, count=len(rows))
    return epochs, users, messages, active


def _from_arrays(
    rows: Sequence[Sequence[Any]],
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Flat arrays from (user, epochs[], messages[], active_s[]) rows, one per member."""
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty.astype(np.float64), empty.astype(np.float64)
    lengths = np.fromiter((len(r[1]) for r in rows), dtype=np.int64, count=len(rows))
    users = np.repeat(np.fromiter((int(r[0]) for r in rows), dtype=np.int64, count=len(rows)), lengths)
    epochs = np.fromiter((e for r in rows for e in r[1]), dtype=np.int64, count=int(lengths.sum()))
    messages = np.fromiter((m for r in rows for m in r[2]), dtype=np.float64, count=int(lengths.sum()))
    active = np.fromiter((a for r in rows for a in r[3]), dtype=np.float64, count=int(lengths.sum()))
    return epochs, users, messages, active
