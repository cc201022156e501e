"""All SQL of the web dashboard: access levels, one-time sign-in tokens and sessions (stored hashed),
the generated-once secret, and the page data that the report, mentor and export repositories do not
already answer (per-member voice by sub-state, joins and leaves, invite retention).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db import tables as t
from db.dialect import insert_for
from db.privacy import not_opted_out, opted_out_ids
from db.reports.snapshots import Snapshots, over
from db.reports.spans import Span, series_rows
from db.series import VOICE_BUCKETS
from db.types import aware

LEVELS: Final = ("member", "mentor", "admin")
VOICE_STATES: Final = ("active_s", "muted_s", "deafened_s", "alone_s", "streaming_s", "video_s")


@dataclass(frozen=True, slots=True)
class MemberAccess:
    """What the bot last saw of a member in a guild: roles, the permissions that grant access, presence."""

    guild_id: int
    user_id: int
    name: str
    role_ids: frozenset[int]
    manage: bool
    insights: bool
    present: bool

    def level(self, mentor_role_id: int | None) -> str | None:
        """``admin`` (Administrator or Manage Server), ``mentor`` (mentor role or View Server Insights),
        ``member``, or None for a member who left."""
        if not self.present:
            return None
        if self.manage:
            return "admin"
        if self.insights or (mentor_role_id is not None and mentor_role_id in self.role_ids):
            return "mentor"
        return "member"


@dataclass(frozen=True, slots=True)
class SeenMember:
    """One member as a listener saw them: what ``save_members`` writes."""

    guild_id: int
    user_id: int
    name: str
    role_ids: tuple[int, ...]
    manage: bool
    insights: bool
    present: bool = True


def _roles_text(role_ids: Iterable[int]) -> str:
    return ",".join(str(r) for r in sorted(role_ids))


async def save_members(engine: AsyncEngine, seen: Sequence[SeenMember], now: datetime) -> None:
    """Upsert what was seen of members (one statement); a member who left keeps the last name seen."""
    if not seen:
        return
    m = t.dashboard_members
    rows = [
        {
            "guild_id": s.guild_id,
            "user_id": s.user_id,
            "name": s.name,
            "role_ids": _roles_text(s.role_ids),
            "manage": s.manage,
            "insights": s.insights,
            "present": s.present,
            "updated_at": now,
        }
        for s in seen
    ]
    stmt = insert_for(engine)(m).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["guild_id", "user_id"],
        set_={c: stmt.excluded[c] for c in ("name", "role_ids", "manage", "insights", "present", "updated_at")},
    )
    async with engine.begin() as conn:
        await conn.execute(stmt)


async def mark_left(engine: AsyncEngine, guild_id: int, user_ids: Sequence[int], now: datetime) -> None:
    """Members who left: no access any more (their last name stays, to be shown as left)."""
    if not user_ids:
        return
    m = t.dashboard_members
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(m)
            .where(m.c.guild_id == guild_id, m.c.user_id.in_(list(user_ids)))
            .values(present=False, manage=False, insights=False, role_ids="", updated_at=now)
        )


async def member_access(engine: AsyncEngine, guild_id: int, user_id: int) -> tuple[MemberAccess | None, int | None]:
    """The member's stored access and the guild's mentor role, read together on every request."""
    m, g = t.dashboard_members, t.guild_settings
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(m).where(m.c.guild_id == guild_id, m.c.user_id == user_id))).first()
        mentor_role = await conn.scalar(sa.select(g.c.mentor_role_id).where(g.c.guild_id == guild_id))
    role = None if mentor_role is None else int(mentor_role)
    if row is None:
        return None, role
    return (
        MemberAccess(
            int(row.guild_id),
            int(row.user_id),
            str(row.name),
            frozenset(int(r) for r in str(row.role_ids).split(",") if r),
            bool(row.manage),
            bool(row.insights),
            bool(row.present),
        ),
        role,
    )


def _time_sum(engine: AsyncEngine, column: Any) -> Any:
    """The sum of a time column as a number (it grows with every row whose time moves on)."""
    if engine.dialect.name == "postgresql":
        return sa.func.sum(sa.extract("epoch", column))
    return sa.func.sum(sa.func.julianday(column))


async def names_version(engine: AsyncEngine, guild_id: int) -> tuple[object, ...]:
    """A value that moves whenever a stored name, leave or access row of the guild changes: the row counts
    and the sums of the times each write stamps (a name or leave is only written with a newer sighting)."""
    n, m = t.member_names, t.dashboard_members
    stmt = sa.select(
        *(
            sa.select(agg).where(table.c.guild_id == guild_id).scalar_subquery()
            for table, agg in (
                (n, sa.func.count(n.c.user_id)),
                (n, _time_sum(engine, n.c.seen_at)),
                (m, sa.func.count(m.c.user_id)),
                (m, _time_sum(engine, m.c.updated_at)),
            )
        )
    )
    async with engine.connect() as conn:
        return tuple((await conn.execute(stmt)).one())


async def member_names(
    engine: AsyncEngine, guild_id: int, user_ids: Sequence[int] | None = None, *, with_opted_out: bool = False
) -> dict[int, tuple[str, bool]]:
    """Members' last seen names (all, or these) and whether they are still members; opted-out members left out.

    The name tracker's ``member_names`` (every member the gateway showed, with their leave)
    first; the dashboard's own rows for members it has not seen.
    """
    n, m = t.member_names, t.dashboard_members
    tracked = sa.select(n.c.user_id, n.c.name, n.c.left_at.is_(None)).where(n.c.guild_id == guild_id)
    ours = sa.select(m.c.user_id, m.c.name, m.c.present).where(m.c.guild_id == guild_id)
    if user_ids is not None:
        wanted = sorted(set(user_ids))
        tracked = tracked.where(n.c.user_id.in_(wanted))
        ours = ours.where(m.c.user_id.in_(wanted))
    # Two plain scans merged here: an anti-join of the two tables cost more than the rows themselves.
    async with engine.connect() as conn:
        hidden = await opted_out_ids(conn, guild_id)
        out = {int(u): (str(name), bool(p)) for u, name, p in (await conn.execute(ours)).all()}
        out.update({int(u): (str(name), bool(p)) for u, name, p in (await conn.execute(tracked)).all()})
    if not with_opted_out:
        for user_id in hidden:
            out.pop(user_id, None)
    return out


# -- the signing key -----------------------------------------------------------------------------


async def dashboard_secret(engine: AsyncEngine) -> str:
    """The signing key kept in the database: generated by the first process that asks, then shared."""
    s = t.dashboard_secret
    async with engine.begin() as conn:
        fresh = insert_for(engine)(s).values(id=1, secret=secrets.token_urlsafe(48))
        await conn.execute(fresh.on_conflict_do_nothing())
        return str(await conn.scalar(sa.select(s.c.secret).where(s.c.id == 1)))


# -- tokens and sessions (hashed) -----------------------------------------------------------------


async def store_token(
    engine: AsyncEngine, token_hash: str, guild_id: int, user_id: int, expires_at: datetime, now: datetime
) -> None:
    """Keep a new sign-in link's hash, and forget links that expired a day ago."""
    k = t.dashboard_tokens
    async with engine.begin() as conn:
        await conn.execute(sa.delete(k).where(k.c.expires_at < now - timedelta(days=1)))
        await conn.execute(
            sa.insert(k).values(token_hash=token_hash, guild_id=guild_id, user_id=user_id, expires_at=expires_at)
        )


async def use_token(engine: AsyncEngine, token_hash: str, guild_id: int, user_id: int, now: datetime) -> bool:
    """Mark a link used; False when it is unknown, another guild's or member's, expired, or used before."""
    k = t.dashboard_tokens
    async with engine.begin() as conn:
        result = await conn.execute(
            sa.update(k)
            .where(
                k.c.token_hash == token_hash,
                k.c.guild_id == guild_id,
                k.c.user_id == user_id,
                k.c.used_at.is_(None),
                k.c.expires_at > now,
            )
            .values(used_at=now)
        )
    return (result.rowcount or 0) == 1


async def create_session(
    engine: AsyncEngine, session_hash: str, guild_id: int, user_id: int, expires_at: datetime, now: datetime
) -> None:
    """Keep a new session's hash (and drop expired sessions)."""
    s = t.dashboard_sessions
    async with engine.begin() as conn:
        await conn.execute(sa.delete(s).where(s.c.expires_at <= now))
        await conn.execute(
            sa.insert(s).values(session_hash=session_hash, guild_id=guild_id, user_id=user_id, expires_at=expires_at)
        )


async def session_member(engine: AsyncEngine, session_hash: str, guild_id: int, now: datetime) -> int | None:
    """The member of a live session of this guild, or None."""
    s = t.dashboard_sessions
    async with engine.connect() as conn:
        user = await conn.scalar(
            sa.select(s.c.user_id).where(
                s.c.session_hash == session_hash, s.c.guild_id == guild_id, s.c.expires_at > now
            )
        )
    return None if user is None else int(user)


async def end_session(engine: AsyncEngine, session_hash: str) -> None:
    """Log out: the session is gone."""
    s = t.dashboard_sessions
    async with engine.begin() as conn:
        await conn.execute(sa.delete(s).where(s.c.session_hash == session_hash))


# -- page data -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateTotals:
    """Voice seconds by sub-state per member: ``ids`` unique, ``seconds[i]`` aligned with ``VOICE_STATES``."""

    ids: np.ndarray[Any, np.dtype[np.int64]]
    seconds: np.ndarray[Any, np.dtype[np.int64]]

    @property
    def nbytes(self) -> int:
        """Memory held (report snapshots are bounded by it)."""
        return int(self.ids.nbytes + self.seconds.nbytes)

    @staticmethod
    def combine(parts: list[StateTotals]) -> StateTotals:
        """The sums by member over several parts (a snapshot of whole days and the edges)."""
        parts = [p for p in parts if p.ids.size]
        if not parts:
            return _NO_STATES
        if len(parts) == 1:
            return parts[0]
        unique, index = np.unique(np.concatenate([p.ids for p in parts]), return_inverse=True)
        sums = np.zeros((unique.size, len(VOICE_STATES)), dtype=np.int64)
        np.add.at(sums, index, np.concatenate([p.seconds for p in parts]))
        return StateTotals(unique, sums)

    def without(self, hidden: frozenset[int]) -> StateTotals:
        """Minus the members who opted out."""
        if not hidden or not self.ids.size:
            return self
        keep = ~np.isin(self.ids, np.fromiter(hidden, dtype=np.int64, count=len(hidden)))
        return StateTotals(self.ids[keep], self.seconds[keep])


_NO_STATES = StateTotals(np.zeros(0, dtype=np.int64), np.zeros((0, len(VOICE_STATES)), dtype=np.int64))


async def member_voice_states(
    engine: AsyncEngine, guild_id: int, span: Span, snapshots: Snapshots | None = None
) -> StateTotals:
    """Every shown member's voice seconds by sub-state over the span (rollups for whole days, kept as a snapshot)."""
    columns = {"user_id": "user_id", **{v: v for v in VOICE_STATES}}

    async with engine.connect() as conn:

        async def read(part: Span) -> StateTotals:
            rows = series_rows(t.voice_hourly, t.voice_daily, guild_id, part, columns, optouts=False)
            stmt = sa.select(rows.c.user_id, *(sa.func.sum(rows.c[v]) for v in VOICE_STATES)).group_by(rows.c.user_id)
            found = (await conn.execute(stmt)).all()
            if not found:
                return _NO_STATES
            ids = np.fromiter((int(r[0]) for r in found), dtype=np.int64, count=len(found))
            seconds = np.array([[int(x or 0) for x in r[1:]] for r in found], dtype=np.int64)
            return StateTotals(ids, seconds)

        totals = await over(snapshots, conn, guild_id, span, ("dashboard-voice-states",), read, StateTotals.combine)
        return totals.without(await opted_out_ids(conn, guild_id))


# Columns of ``StateTotals.seconds`` that partition voice time (streaming and video overlap them).
VOICE_TOTAL_COLUMNS: Final = tuple(VOICE_STATES.index(v) for v in VOICE_BUCKETS)


async def joins_leaves(
    engine: AsyncEngine, guild_id: int, start: datetime, end: datetime
) -> tuple[list[datetime], list[datetime]]:
    """The times of joins and of leaves in ``[start, end)`` (opted-out members left out)."""
    j = t.member_joins
    shown = not_opted_out(guild_id, j.c.user_id)
    async with engine.connect() as conn:
        joins = (
            await conn.execute(
                sa.select(j.c.joined_at).where(
                    j.c.guild_id == guild_id, j.c.joined_at >= start, j.c.joined_at < end, shown
                )
            )
        ).scalars()
        joined = [aware(x) for x in joins]
        leaves = (
            await conn.execute(
                sa.select(j.c.left_at).where(j.c.guild_id == guild_id, j.c.left_at >= start, j.c.left_at < end, shown)
            )
        ).scalars()
        left = [aware(x) for x in leaves]
    return joined, left


@dataclass(frozen=True, slots=True)
class InvitedJoin:
    """One join attributed to an inviter, with the member's active days after it."""

    user_id: int
    inviter_id: int | None
    invite_code: str
    joined_at: datetime
    left_at: datetime | None


async def invited_joins(engine: AsyncEngine, guild_id: int, start: datetime, end: datetime) -> list[InvitedJoin]:
    """The joins of ``[start, end)`` with their inviter (an opted-out inviter is None), joiners shown only."""
    j = t.member_joins
    inviter = sa.case((not_opted_out(guild_id, j.c.inviter_id), j.c.inviter_id), else_=None)
    stmt = sa.select(j.c.user_id, inviter, j.c.invite_code, j.c.joined_at, j.c.left_at).where(
        j.c.guild_id == guild_id, j.c.joined_at >= start, j.c.joined_at < end, not_opted_out(guild_id, j.c.user_id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [
        InvitedJoin(int(u), None if i is None else int(i), str(c), aware(ja), None if la is None else aware(la))
        for u, i, c, ja, la in rows
    ]


async def active_after(
    engine: AsyncEngine, guild_id: int, joins: Sequence[InvitedJoin], days: int, now: datetime
) -> set[int]:
    """Of these joiners, who was active (a message or voice) at or after ``days`` days past joining.

    Read from the per-member daily rollup and today's hourly rows, only for the joiners asked about.
    """
    if not joins:
        return set()
    users = sorted({j.user_id for j in joins})
    first = min(j.joined_at for j in joins) + timedelta(days=days)
    if first >= now:
        return set()
    md, mh, vh = t.member_daily, t.message_hourly, t.voice_hourly
    async with engine.connect() as conn:
        rows = list(
            (
                await conn.execute(
                    sa.select(md.c.user_id, sa.func.max(md.c.day))
                    .where(
                        md.c.guild_id == guild_id,
                        md.c.user_id.in_(users),
                        md.c.day >= first - timedelta(days=1),
                        (md.c.messages + md.c.voice_s) > 0,
                    )
                    .group_by(md.c.user_id)
                )
            ).all()
        )
        for table in (mh, vh):
            rows += (
                await conn.execute(
                    sa.select(table.c.user_id, sa.func.max(table.c.hour))
                    .where(table.c.guild_id == guild_id, table.c.user_id.in_(users), table.c.hour >= first)
                    .group_by(table.c.user_id)
                )
            ).all()
    latest: dict[int, datetime] = {}
    for u, ts in rows:
        moment = aware(ts)
        if int(u) not in latest or moment > latest[int(u)]:
            latest[int(u)] = moment
    out: set[int] = set()
    for join in joins:
        mark = join.joined_at + timedelta(days=days)
        seen = latest.get(join.user_id)
        # A daily row counts for its whole UTC day: active on the day the mark falls in, or later.
        if mark <= now and seen is not None and seen + timedelta(days=1) > mark:
            out.add(join.user_id)
    return out


# -- the events page ---------------------------------------------------------------------------


async def stored_channels(engine: AsyncEngine, guild_id: int) -> list[tuple[int, str, str]]:
    """The guild's channels as the bot stored them: id, name and kind (a ``discord.ChannelType`` name)."""
    c = t.channels
    stmt = sa.select(c.c.channel_id, c.c.name, c.c.kind).where(c.c.guild_id == guild_id, c.c.parent_id.is_(None))
    async with engine.connect() as conn:
        return [(int(i), str(n), str(k)) for i, n, k in (await conn.execute(stmt)).all()]


@dataclass(frozen=True, slots=True)
class Memberships:
    """The members the name tracker saw, aligned arrays: id, shown name ("(left)" marked), join and leave
    as epoch seconds (``-inf``: join unknown; ``inf``: still a member)."""

    ids: np.ndarray[Any, np.dtype[np.int64]]
    names: list[str]
    joined: np.ndarray[Any, np.dtype[np.float64]]
    left: np.ndarray[Any, np.dtype[np.float64]]
    # Each member's place in the list sorted by name (case-insensitive), for sorted name lists.
    rank: np.ndarray[Any, np.dtype[np.int64]]

    def without(self, hidden: frozenset[int]) -> Memberships:
        """Minus the members who opted out."""
        if not hidden or not self.ids.size:
            return self
        keep = ~np.isin(self.ids, np.fromiter(hidden, dtype=np.int64, count=len(hidden)))
        at = np.flatnonzero(keep).tolist()
        return Memberships(
            self.ids[keep], [self.names[i] for i in at], self.joined[keep], self.left[keep], self.rank[keep]
        )


def _epoch_or(value: datetime | None, default: float) -> float:
    if value is None:
        return default
    # Read without the column type's conversion (a guild's every member): SQLite hands back naive UTC.
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


async def memberships(engine: AsyncEngine, guild_id: int) -> Memberships:
    """Every member of the guild the name tracker saw (opted-out members too: ``without`` takes them out)."""
    n = t.member_names
    joined, left = sa.type_coerce(n.c.joined_at, sa.DateTime()), sa.type_coerce(n.c.left_at, sa.DateTime())
    stmt = sa.select(n.c.user_id, n.c.name, joined, left).where(n.c.guild_id == guild_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    inf = float("inf")
    names = [str(r[1]) if r[3] is None else f"{r[1]} (left)" for r in rows]
    rank = np.empty(len(names), dtype=np.int64)
    rank[sorted(range(len(names)), key=lambda i: names[i].lower())] = np.arange(len(names))
    return Memberships(
        np.fromiter((int(r[0]) for r in rows), dtype=np.int64, count=len(rows)),
        names,
        np.fromiter((_epoch_or(r[2], -inf) for r in rows), dtype=np.float64, count=len(rows)),
        np.fromiter((_epoch_or(r[3], inf) for r in rows), dtype=np.float64, count=len(rows)),
        rank,
    )
