"""The report queries behind /stats, /top, /emojis and /invites, each for one guild.

Every query is scoped by ``guild_id`` and leaves out members who opted out
(whatever the mode); long periods read the rollups for their whole UTC days.
With ``Snapshots`` (the bot always has them), the answer over those whole past
days is kept until the guild's history changes, and only the edges of a period
(today, a partial first day) are read again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db import tables as t
from db.privacy import not_opted_out, opted_out_ids
from db.reports.results import (
    ChannelInfo,
    EmojiCount,
    HourlyPoint,
    InviteFigures,
    InviterFigures,
    Totals,
    VoiceStates,
)
from db.reports.snapshots import KeyedTotals, Snapshots, over
from db.reports.spans import (
    VOICE_SUM,
    Only,
    Span,
    hour_ranges,
    select_rows,
    series_rows,
    split_period,
    sum_expr,
)
from db.rollups import DayCloser, open_from
from db.types import aware, utc

METRICS: Final = ("messages", "voice", "emojis", "invites", "commands")
# A series read from hourly rows (local days that are not UTC days) keeps its whole
# UTC days as a snapshot by hour once it is longer than this.
HOURLY_SNAPSHOT_AFTER: Final = timedelta(days=2)


class Reports:
    """The report queries of one database, each for one guild.

    Without ``snapshots`` every answer is read in full each time (tests compare
    both ways; the benchmarks' baseline).
    """

    def __init__(self, engine: AsyncEngine, snapshots: Snapshots | None = None, days: DayCloser | None = None) -> None:
        self.engine = engine
        self.snapshots = snapshots
        # Whole days are read from the rollups: they are closed first (db.rollups).
        self.days = days or DayCloser(engine)

    async def _closed(self, guild_id: int, span: Span) -> None:
        """Close the guild's days that the span reads from the rollups."""
        if span.day_end is not None:
            await self.days.close_through(guild_id, int(span.day_end.timestamp()))

    @staticmethod
    async def _optout_ids(conn: AsyncConnection, guild_id: int) -> np.ndarray[Any, np.dtype[np.int64]]:
        """The members of the guild who opted out (any mode), as an array to filter totals with."""
        return np.array(sorted(await opted_out_ids(conn, guild_id)), dtype=np.int64)

    # channels and members ----------------------------------------------------------------

    async def channel_info(self, guild_id: int, channel_ids: Sequence[int] | None = None) -> dict[int, ChannelInfo]:
        """Stored channel names and parents of a guild (all of them, or the ones asked for)."""
        c = t.channels
        stmt = sa.select(c.c.channel_id, c.c.parent_id, c.c.kind, c.c.name).where(c.c.guild_id == guild_id)
        if channel_ids is not None:
            stmt = stmt.where(c.c.channel_id.in_(list(channel_ids)))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return {int(r[0]): ChannelInfo(int(r[0]), None if r[1] is None else int(r[1]), r[2], r[3]) for r in rows}

    async def channel_family(self, guild_id: int, channel_id: int) -> list[int]:
        """A channel and the threads and forum posts under it (a report on a channel covers them)."""
        c = t.channels
        stmt = sa.select(c.c.channel_id).where(c.c.guild_id == guild_id, c.c.parent_id == channel_id)
        async with self.engine.connect() as conn:
            children = [int(x) for x in (await conn.execute(stmt)).scalars()]
        return [channel_id, *children]

    async def earliest(self, guild_id: int) -> datetime | None:
        """The first recorded hour of the guild (messages or voice), for ``period=all``."""
        stmts = [
            sa.select(sa.func.min(tab.c.day)).where(tab.c.guild_id == guild_id)
            for tab in (t.message_daily, t.voice_daily, t.emoji_daily, t.app_daily)
        ]
        j = t.member_joins
        stmts.append(sa.select(sa.func.min(j.c.joined_at)).where(j.c.guild_id == guild_id))
        i = t.invites
        stmts.append(sa.select(sa.func.min(i.c.created_at)).where(i.c.guild_id == guild_id))
        found: list[datetime] = []
        async with self.engine.connect() as conn:
            first_open = await open_from(conn, guild_id)
            if first_open is not None:  # the open days (db.rollups) are in hourly rows only
                stmts += [
                    sa.select(sa.func.min(tab.c.hour)).where(tab.c.guild_id == guild_id, tab.c.hour >= utc(first_open))
                    for tab in (t.message_hourly, t.voice_hourly, t.emoji_hourly, t.app_hourly)
                ]
            for stmt in stmts:
                value = (await conn.execute(stmt)).scalar()
                if value is not None:
                    found.append(aware(value))
        return min(found) if found else None

    # /stats server and /stats channel ----------------------------------------------------

    async def totals(self, guild_id: int, span: Span, channels: Sequence[int] | None = None) -> Totals:
        """Messages, voice seconds and active members (a message or voice time) over the span."""
        await self._closed(guild_id, span)
        msg = self._message_rows(guild_id, span, channels, {"user_id": "user_id", "value": "messages"})
        voice = self._voice_rows(guild_id, span, channels, {"user_id": "user_id", "value": VOICE_SUM})
        async with self.engine.connect() as conn:
            messages = await _scalar(conn, sa.select(sa.func.coalesce(sa.func.sum(msg.c.value), 0)))
            voice_s = await _scalar(conn, sa.select(sa.func.coalesce(sa.func.sum(voice.c.value), 0)))
            active = await self._active(conn, guild_id, span, channels)
        return Totals(messages, voice_s, active)

    async def totals_from(
        self, guild_id: int, span: Span, points: Sequence[HourlyPoint], channels: Sequence[int] | None = None
    ) -> Totals:
        """The totals of a period whose series is already read: its sums, and the active members."""
        messages = sum(p.messages for p in points)
        voice_s = sum(p.voice_seconds for p in points)
        if messages == 0 and voice_s == 0:
            return Totals(0, 0, 0)
        return Totals(messages, voice_s, await self.active_members(guild_id, span, channels))

    async def active_members(self, guild_id: int, span: Span, channels: Sequence[int] | None = None) -> int:
        """Distinct members with a message or voice time in the span."""
        await self._closed(guild_id, span)
        if self.snapshots is None:
            async with self.engine.connect() as conn:
                return await self._active(conn, guild_id, span, channels)
        # The per-member totals are the leaderboards' snapshots as well.
        async with self.engine.connect() as conn:
            hidden = await self._optout_ids(conn, guild_id)
            messages = await self._shown_totals(conn, guild_id, span, "messages", channels, hidden)
            voice = await self._shown_totals(conn, guild_id, span, "voice", channels, hidden)
        return int(np.union1d(messages.ids, voice.ids).size)

    async def _active(self, conn: AsyncConnection, guild_id: int, span: Span, channels: Sequence[int] | None) -> int:
        """Distinct members with a message or voice time in the span."""
        if channels is None:
            # The per-member rollup has one row per member and day: far fewer rows than per channel.
            md = t.member_daily
            parts: list[sa.Select[tuple[object, ...]]] = []
            for tab, value in ((t.message_hourly, "messages"), (t.voice_hourly, VOICE_SUM)):
                for a, b in hour_ranges(span):
                    parts.append(
                        sa.select(tab.c.user_id).where(
                            tab.c.guild_id == guild_id, tab.c.hour >= a, tab.c.hour < b, sum_expr(tab, value) > 0
                        )
                    )
            if span.day_start is not None and span.day_end is not None:
                parts.append(
                    sa.select(md.c.user_id).where(
                        md.c.guild_id == guild_id,
                        md.c.day >= span.day_start,
                        md.c.day < span.day_end,
                        sa.or_(md.c.messages > 0, md.c.voice_s > 0),
                    )
                )
            users = sa.union(*parts).subquery()
        else:
            msg = self._message_rows(guild_id, span, channels, {"user_id": "user_id", "value": "messages"})
            voice = self._voice_rows(guild_id, span, channels, {"user_id": "user_id", "value": VOICE_SUM})
            users = sa.union(
                sa.select(msg.c.user_id).where(msg.c.value > 0), sa.select(voice.c.user_id).where(voice.c.value > 0)
            ).subquery()
        stmt = sa.select(sa.func.count()).select_from(users).where(not_opted_out(guild_id, users.c.user_id))
        return await _scalar(conn, stmt)

    async def series(self, guild_id: int, span: Span, channels: Sequence[int] | None = None) -> list[HourlyPoint]:
        """Messages and voice seconds per time stamp (hours, and UTC days from the rollups), oldest first."""
        await self._closed(guild_id, span)
        key = ("series", _channels_key(channels))
        async with self.engine.connect() as conn:

            async def read(part: Span) -> list[HourlyPoint]:
                return await self._series(conn, guild_id, part, channels)

            if span.day_start is None and span.end - span.start > HOURLY_SNAPSHOT_AFTER:
                # Read by hour (local days are not UTC days): its whole UTC days still make a snapshot, by hour.
                plan = split_period(span.start, span.end, True)
                if plan.uses_rollups:

                    async def read_hours(part: Span) -> list[HourlyPoint]:
                        return await self._series(conn, guild_id, Span(part.start, part.end), channels)

                    return await over(
                        self.snapshots, conn, guild_id, plan, ("by-hour", *key), read_hours, _merge_points
                    )
            return await over(self.snapshots, conn, guild_id, span, key, read, _merge_points)

    async def _series(
        self, conn: AsyncConnection, guild_id: int, span: Span, channels: Sequence[int] | None
    ) -> list[HourlyPoint]:
        msg = self._message_rows(guild_id, span, channels, {"value": "messages"})
        voice = self._voice_rows(guild_id, span, channels, {"value": VOICE_SUM})
        out: dict[datetime, list[int]] = {}
        for index, rows in enumerate((msg, voice)):
            stmt = sa.select(rows.c.ts, _sum(rows.c.value)).group_by(rows.c.ts)
            for ts, value in (await conn.execute(stmt)).all():
                out.setdefault(aware(ts), [0, 0])[index] += int(value or 0)
        return [HourlyPoint(ts, v[0], v[1]) for ts, v in sorted(out.items())]

    async def top_channels(self, guild_id: int, span: Span, limit: int = 10) -> list[tuple[int, int]]:
        """Channels (threads under their own id) by messages, most first: ``(channel_id, messages)``."""
        await self._closed(guild_id, span)

        async with self.engine.connect() as conn:

            async def read(part: Span) -> KeyedTotals:
                rows = self._message_rows(guild_id, part, None, {"channel_id": "channel_id", "value": "messages"})
                stmt = sa.select(rows.c.channel_id, _sum(rows.c.value)).group_by(rows.c.channel_id)
                return KeyedTotals.of((await conn.execute(stmt)).all())

            totals = await over(self.snapshots, conn, guild_id, span, "channels", read, KeyedTotals.combine)
        return totals.without(np.zeros(0, dtype=np.int64)).top(limit)

    async def _by_channel(self, rows: sa.Subquery, limit: int) -> list[tuple[int, int]]:
        """``(channel_id, total)`` of a ``channel_id``/``value`` row set, largest first, ties by id."""
        total = sa.func.sum(rows.c.value)
        stmt = (
            sa.select(rows.c.channel_id, total)
            .group_by(rows.c.channel_id)
            .having(total > 0)
            .order_by(total.desc(), rows.c.channel_id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [(int(c), int(v)) for c, v in (await conn.execute(stmt)).all()]

    async def top_members(
        self,
        guild_id: int,
        span: Span,
        metric: str = "messages",
        limit: int = 10,
        channels: Sequence[int] | None = None,
    ) -> list[tuple[int, int]]:
        """Members by a /top metric, most first: ``(user_id, value)``; voice in seconds."""
        await self._closed(guild_id, span)
        if metric == "invites":
            return await self._top_inviters(guild_id, span, limit)
        if self.snapshots is not None:
            return (await self.member_totals(guild_id, span, metric, channels)).top(limit)
        rows = self._member_rows(guild_id, span, metric, channels)
        total = sa.func.sum(rows.c.value)
        stmt = (
            sa.select(rows.c.user_id, total)
            .group_by(rows.c.user_id)
            .having(total > 0, not_opted_out(guild_id, rows.c.user_id))
            .order_by(total.desc(), rows.c.user_id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [(int(u), int(v)) for u, v in (await conn.execute(stmt)).all()]

    async def member_totals(
        self, guild_id: int, span: Span, metric: str = "messages", channels: Sequence[int] | None = None
    ) -> KeyedTotals:
        """Every shown member's total of a /top metric (not invites) above zero, as arrays (opted-out members left
        out): the whole ranking, for the dashboard's members table, without a Python row per member."""
        await self._closed(guild_id, span)
        async with self.engine.connect() as conn:
            hidden = await self._optout_ids(conn, guild_id)
            return await self._shown_totals(conn, guild_id, span, metric, channels, hidden)

    async def _shown_totals(
        self,
        conn: AsyncConnection,
        guild_id: int,
        span: Span,
        metric: str,
        channels: Sequence[int] | None,
        hidden: np.ndarray[Any, np.dtype[np.int64]],
    ) -> KeyedTotals:
        """The members with a total above zero and not ``hidden`` (opted out), and their totals."""
        return (await self._member_totals(conn, guild_id, span, metric, channels)).without(hidden)

    async def _member_totals(
        self, conn: AsyncConnection, guild_id: int, span: Span, metric: str, channels: Sequence[int] | None
    ) -> KeyedTotals:
        """Every member's total of a /top metric (not invites) over the span, opted-out members included."""

        async def read(part: Span) -> KeyedTotals:
            rows = self._member_rows(guild_id, part, metric, channels)
            stmt = sa.select(rows.c.user_id, _sum(rows.c.value)).group_by(rows.c.user_id)
            return KeyedTotals.of((await conn.execute(stmt)).all())

        key = ("members", metric, _channels_key(channels))
        return await over(self.snapshots, conn, guild_id, span, key, read, KeyedTotals.combine)

    async def _top_inviters(self, guild_id: int, span: Span, limit: int) -> list[tuple[int, int]]:
        """Inviters by joins attributed to them in the span."""
        j = t.member_joins
        joins = sa.func.count()
        stmt = (
            sa.select(j.c.inviter_id, joins)
            .where(
                j.c.guild_id == guild_id,
                j.c.inviter_id.is_not(None),
                j.c.joined_at >= span.start,
                j.c.joined_at < span.end,
                not_opted_out(guild_id, j.c.inviter_id),
                not_opted_out(guild_id, j.c.user_id),
            )
            .group_by(j.c.inviter_id)
            .order_by(joins.desc(), j.c.inviter_id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [(int(u), int(v)) for u, v in (await conn.execute(stmt)).all()]

    # /stats user -------------------------------------------------------------------------

    async def member_voice(self, guild_id: int, user_id: int, span: Span) -> VoiceStates:
        """A member's voice seconds by sub-state over the span."""
        await self._closed(guild_id, span)
        fields = ("active_s", "muted_s", "deafened_s", "alone_s", "streaming_s", "video_s")
        rows = series_rows(
            t.voice_hourly,
            t.voice_daily,
            guild_id,
            span,
            {f: f for f in fields},
            Only(user_id=user_id),
        )
        stmt = sa.select(*(sa.func.coalesce(sa.func.sum(rows.c[f]), 0) for f in fields))
        async with self.engine.connect() as conn:
            row = (await conn.execute(stmt)).one()
        return VoiceStates(*(int(v) for v in row))

    async def member_total(self, guild_id: int, user_id: int, span: Span, metric: str = "messages") -> int:
        """One member's total of a /top metric over the span, summed from that member's rows (0 when opted out)."""
        await self._closed(guild_id, span)
        rows = self._member_rows(guild_id, span, metric, None, user_id)
        stmt = sa.select(sa.func.coalesce(sa.func.sum(rows.c.value), 0)).where(not_opted_out(guild_id, rows.c.user_id))
        async with self.engine.connect() as conn:
            return await _scalar(conn, stmt)

    async def member_rank(self, guild_id: int, user_id: int, span: Span) -> tuple[int, int, int]:
        """``(messages, rank, ranked members)``: rank by messages among members with any (0 when unranked).

        The member's own total is read first (an index lookup), so the guild-wide
        aggregation runs once and only counts.
        """
        await self._closed(guild_id, span)
        if self.snapshots is not None:
            async with self.engine.connect() as conn:
                hidden = await self._optout_ids(conn, guild_id)
                ranked_totals = await self._shown_totals(conn, guild_id, span, "messages", None, hidden)
            own = ranked_totals.get(user_id)
            above = int((ranked_totals.values > own).sum())
            return own, (above + 1 if own > 0 else 0), len(ranked_totals)
        rows = self._member_rows(guild_id, span, "messages", None)
        per_user = (
            sa.select(sa.func.sum(rows.c.value).label("total"))
            .group_by(rows.c.user_id)
            .having(sa.func.sum(rows.c.value) > 0, not_opted_out(guild_id, rows.c.user_id))
            .subquery()
        )
        messages = await self.member_total(guild_id, user_id, span)
        async with self.engine.connect() as conn:
            stmt = sa.select(sa.func.count().filter(per_user.c.total > messages), sa.func.count()).select_from(per_user)
            above, ranked = (await conn.execute(stmt)).one()
        return messages, (int(above) + 1 if messages > 0 else 0), int(ranked)

    async def member_hours(self, guild_id: int, user_id: int, span: Span) -> list[tuple[datetime, int]]:
        """A member's messages per UTC hour over the whole span (hourly rows only: for the heatmap)."""
        h = t.message_hourly
        stmt = (
            sa.select(h.c.hour, sa.func.sum(h.c.messages))
            .where(h.c.guild_id == guild_id, h.c.user_id == user_id, h.c.hour >= span.start, h.c.hour < span.end)
            .group_by(h.c.hour)
        )
        async with self.engine.connect() as conn:
            return [(aware(ts), int(v)) for ts, v in (await conn.execute(stmt)).all()]

    async def member_channels(self, guild_id: int, user_id: int, span: Span, limit: int = 5) -> list[tuple[int, int]]:
        """A member's channels by messages, most first (hourly rows through the per-member index, any period)."""
        rows = series_rows(
            t.message_hourly,
            None,
            guild_id,
            Span(span.start, span.end),
            {"channel_id": "channel_id", "value": "messages"},
            Only(user_id=user_id),
        )
        return await self._by_channel(rows, limit)

    # /emojis -----------------------------------------------------------------------------

    async def emojis(self, guild_id: int, span: Span, user_id: int | None = None, limit: int = 25) -> list[EmojiCount]:
        """Emojis by uses (messages plus reactions), most first, optionally of one member."""
        await self._closed(guild_id, span)
        columns = {"emoji": "emoji", "kind": "kind", "value": "count"}
        rows = series_rows(t.emoji_hourly, t.emoji_daily, guild_id, span, columns, Only(user_id=user_id))
        in_messages = sa.func.sum(sa.case((rows.c.kind == "message", rows.c.value), else_=0))
        reactions = sa.func.sum(sa.case((rows.c.kind == "reaction", rows.c.value), else_=0))
        total = sa.func.sum(rows.c.value)
        stmt = (
            sa.select(rows.c.emoji, in_messages, reactions)
            .group_by(rows.c.emoji)
            .having(total > 0)
            .order_by(total.desc(), rows.c.emoji)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [EmojiCount(str(em), int(m), int(r)) for em, m, r in (await conn.execute(stmt)).all()]

    # /invites ----------------------------------------------------------------------------

    async def invites(self, guild_id: int, span: Span, inviter_id: int | None = None) -> InviteFigures:
        """Per inviter: invites created and joins attributed in the span, and how many of those joiners stayed."""
        j, inv = t.member_joins, t.invites
        in_span = [j.c.guild_id == guild_id, j.c.joined_at >= span.start, j.c.joined_at < span.end]
        in_span.append(not_opted_out(guild_id, j.c.user_id))
        stayed = sa.func.count().filter(j.c.left_at.is_(None))
        joins_stmt = (
            sa.select(j.c.inviter_id, sa.func.count(), stayed)
            .where(*in_span, j.c.inviter_id.is_not(None), not_opted_out(guild_id, j.c.inviter_id))
            .group_by(j.c.inviter_id)
        )
        created_stmt = (
            sa.select(inv.c.inviter_id, sa.func.count())
            .where(
                inv.c.guild_id == guild_id,
                inv.c.inviter_id.is_not(None),
                inv.c.created_at >= span.start,
                inv.c.created_at < span.end,
                not_opted_out(guild_id, inv.c.inviter_id),
            )
            .group_by(inv.c.inviter_id)
        )
        other_stmt = (
            sa.select(j.c.invite_code, sa.func.count())
            .where(*in_span, j.c.invite_code.in_(("vanity", "unknown")))
            .group_by(j.c.invite_code)
        )
        if inviter_id is not None:
            joins_stmt = joins_stmt.where(j.c.inviter_id == inviter_id)
            created_stmt = created_stmt.where(inv.c.inviter_id == inviter_id)
        figures: dict[int, list[int]] = {}
        async with self.engine.connect() as conn:
            for user, joins, kept in (await conn.execute(joins_stmt)).all():
                figures.setdefault(int(user), [0, 0, 0])[1:] = [int(joins), int(kept)]
            for user, created in (await conn.execute(created_stmt)).all():
                figures.setdefault(int(user), [0, 0, 0])[0] = int(created)
            other: dict[str, int] = {}
            if inviter_id is None:
                other = {str(code): int(n) for code, n in (await conn.execute(other_stmt)).all()}
        rows = [InviterFigures(u, *v) for u, v in figures.items()]
        rows.sort(key=lambda r: (-r.joins, -r.stayed, -r.invites, r.inviter_id))
        return InviteFigures(rows, int(other.get("vanity", 0)), int(other.get("unknown", 0)))

    # shared row sources ------------------------------------------------------------------

    def _message_rows(
        self, guild_id: int, span: Span, channels: Sequence[int] | None, columns: dict[str, str]
    ) -> sa.Subquery:
        return series_rows(t.message_hourly, t.message_daily, guild_id, span, columns, Only(channels))

    def _voice_rows(
        self, guild_id: int, span: Span, channels: Sequence[int] | None, columns: dict[str, str]
    ) -> sa.Subquery:
        return series_rows(t.voice_hourly, t.voice_daily, guild_id, span, columns, Only(channels))

    def _member_rows(
        self, guild_id: int, span: Span, metric: str, channels: Sequence[int] | None, user_id: int | None = None
    ) -> sa.Subquery:
        """Rows ``(ts, user_id, value)`` of one /top metric: hourly edges plus ``member_daily`` days.

        Opted-out members are still in: callers filter them once per member after grouping.
        """
        hourly, value, member_col = _MEMBER_METRICS[metric]
        if channels is not None:
            daily = t.DAILY[_SERIES_OF[hourly.name]]
            columns = {"user_id": "user_id", "value": value}
            return series_rows(hourly, daily, guild_id, span, columns, Only(channels, user_id), optouts=False)
        only = Only(user_id=user_id)
        columns = {"user_id": "user_id", "value": value}
        parts = [
            select_rows(hourly, "hour", guild_id, columns, only.on(hourly), False).where(
                hourly.c.hour >= a, hourly.c.hour < b
            )
            for a, b in hour_ranges(span)
        ]
        if span.day_start is not None and span.day_end is not None:
            md = t.member_daily
            days = select_rows(md, "day", guild_id, {"user_id": "user_id", "value": member_col}, only.on(md), False)
            parts.append(days.where(md.c.day >= span.day_start, md.c.day < span.day_end))
        # Whole days alone are one plain scan of member_daily (no union to wrap them).
        return parts[0].subquery() if len(parts) == 1 else sa.union_all(*parts).subquery()


# /top metric -> (hourly table, value expression, member_daily column).
_MEMBER_METRICS: Final[dict[str, tuple[sa.Table, str, str]]] = {
    "messages": (t.message_hourly, "messages", "messages"),
    "voice": (t.voice_hourly, VOICE_SUM, "voice_s"),
    "emojis": (t.emoji_hourly, "count", "emojis"),
    "commands": (t.app_hourly, "count", "commands"),
}
_SERIES_OF: Final = {tab.name: code for code, tab in t.HOURLY.items()}


def _sum(column: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    """A sum of counters as a plain integer (``sum(bigint)`` is ``numeric`` on PostgreSQL)."""
    return sa.cast(sa.func.sum(column), sa.BigInteger)


def _channels_key(channels: Sequence[int] | None) -> tuple[int, ...] | None:
    """A channel filter as part of a snapshot key."""
    return None if channels is None else tuple(sorted(int(c) for c in channels))


def _merge_points(parts: list[list[HourlyPoint]]) -> list[HourlyPoint]:
    """Series parts summed by time stamp, oldest first."""
    if len(parts) == 1:
        return list(parts[0])
    out: dict[datetime, list[int]] = {}
    for part in parts:
        for p in part:
            sums = out.setdefault(p.ts, [0, 0])
            sums[0] += p.messages
            sums[1] += p.voice_seconds
    return [HourlyPoint(ts, m, v) for ts, (m, v) in sorted(out.items())]


async def _scalar(conn: AsyncConnection, stmt: sa.Select[Any]) -> int:
    """One integer from a one-row aggregate."""
    value = (await conn.execute(stmt)).scalar()
    return int(value or 0)
