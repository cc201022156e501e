"""Reading what the bot stored (SQLAlchemy Core), in shapes a test can compare with what it sent."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.buffer.codec import decode_rows
from bot.buffer.keys import RedisKeys
from db import tables as t
from db.series import MESSAGES, VOICE_BUCKETS

# (hour epoch, channel id, user id) -> (messages, characters, attachments, replies)
MessageRows = dict[tuple[int, int, int], tuple[int, int, int, int]]
# (hour epoch, channel id, user id, emoji, kind) -> count
EmojiRows = Counter[tuple[int, int, int, str, str]]


def epoch(moment: object) -> int:
    return int(moment.timestamp())  # type: ignore[attr-defined]


async def message_rows(engine: AsyncEngine, guild_id: int) -> MessageRows:
    m = t.message_hourly
    stmt = sa.select(m.c.hour, m.c.channel_id, m.c.user_id, m.c.messages, m.c.characters, m.c.attachments, m.c.replies)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt.where(m.c.guild_id == guild_id))).all()
    return {(epoch(h), int(c), int(u)): (int(n), int(ch), int(a), int(r)) for h, c, u, n, ch, a, r in rows}


async def live_message_rows(redis_url: str, guild_id: int) -> MessageRows:
    """The message counters a bot pushed to Redis and no flush has taken yet (default key prefix).

    A freeze renames the live hashes into a batch, so they are read with the batch decoder.
    """
    client = aioredis.from_url(redis_url)
    try:
        # No decode_responses: the hash comes back as bytes, as the batch decoder expects.
        live = cast(dict[bytes, bytes], await client.hgetall(RedisKeys().live_counters(guild_id)))
    finally:
        await client.aclose()
    rows = decode_rows([guild_id], [live])[MESSAGES.code]
    return {(int(h), int(c), int(u)): (n, ch, a, r) for (_g, h, c, u), (n, ch, a, r) in rows.items()}


async def emoji_rows(engine: AsyncEngine, guild_id: int) -> EmojiRows:
    e = t.emoji_hourly
    stmt = sa.select(e.c.hour, e.c.channel_id, e.c.user_id, e.c.emoji, e.c.kind, e.c.count)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt.where(e.c.guild_id == guild_id))).all()
    out: EmojiRows = Counter()
    for h, c, u, name, kind, n in rows:
        out[(epoch(h), int(c), int(u), str(name), str(kind))] += int(n)
    return out


async def channel_parents(engine: AsyncEngine, guild_id: int) -> dict[int, int | None]:
    """The channels the bot recorded, with their parent (threads only)."""
    c = t.channels
    stmt = sa.select(c.c.channel_id, c.c.parent_id).where(c.c.guild_id == guild_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return {int(ch): None if parent is None else int(parent) for ch, parent in rows}


@dataclass(frozen=True)
class Join:
    user_id: int
    joined_at: int
    invite_code: str
    inviter_id: int | None


async def member_joins(engine: AsyncEngine, guild_id: int) -> dict[int, Join]:
    """Join rows by member (each test member joins once)."""
    j = t.member_joins
    stmt = sa.select(j.c.user_id, j.c.joined_at, j.c.invite_code, j.c.inviter_id).where(j.c.guild_id == guild_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    out: dict[int, Join] = {}
    for u, at, code, inviter in rows:
        assert int(u) not in out, f"member {u} has two join rows"
        out[int(u)] = Join(int(u), epoch(at), str(code), None if inviter is None else int(inviter))
    return out


@dataclass(frozen=True)
class VoiceSession:
    user_id: int
    channel_id: int
    started_at: int
    ended_at: int
    open: bool

    @property
    def seconds(self) -> int:
        return self.ended_at - self.started_at


async def voice_sessions(engine: AsyncEngine, guild_id: int) -> list[VoiceSession]:
    vs = t.voice_sessions
    stmt = sa.select(vs.c.user_id, vs.c.channel_id, vs.c.started_at, vs.c.ended_at, vs.c.open).where(
        vs.c.guild_id == guild_id
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt.order_by(vs.c.user_id, vs.c.started_at))).all()
    return [VoiceSession(int(u), int(c), epoch(s), epoch(e), bool(o)) for u, c, s, e, o in rows]


async def voice_seconds(engine: AsyncEngine, guild_id: int) -> Counter[int]:
    """Voice seconds per member: the sum of the bucket columns (each second is in exactly one)."""
    v = t.voice_hourly
    total = sum((v.c[b] for b in VOICE_BUCKETS), sa.literal(0))
    stmt = sa.select(v.c.user_id, sa.func.sum(total)).where(v.c.guild_id == guild_id).group_by(v.c.user_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return Counter({int(u): int(s) for u, s in rows})
