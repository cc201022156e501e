"""Generating increments and reading the stored totals back, for exactly-once checks."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.buffer.codec import encode_row
from db import tables as t
from db.series import DAY, HOUR, SERIES, CounterKey, Rows

BASE_HOUR = 1_763_823_600 - 1_763_823_600 % HOUR  # 2025-11-22T15:00Z


def random_key(rng: random.Random) -> CounterKey:
    """A counter key over a small space, so that keys repeat and sums matter."""
    series = rng.choice(list(SERIES.values()))
    guild = rng.choice((1, 2, 3))
    hour = BASE_HOUR + HOUR * rng.randrange(0, 60)
    dims: list[int | str] = []
    for name, typ in zip(series.dims, series.dim_types, strict=True):
        if typ is int:
            dims.append(rng.randrange(1, 6) * 1_000_000_007 + (name == "user_id"))
        else:
            dims.append(rng.choice(["🎉", "<:blob:123>", "x\x1fy", "stats user"]))
    return (series.code, guild, hour, *dims, rng.choice(series.fields))


def redis_hashes(rows: Rows) -> tuple[list[int], list[dict[bytes, bytes]]]:
    """Guild ids and the per-guild Redis hashes that hold ``rows``, as the Redis store keeps them."""
    hashes: dict[int, dict[bytes, bytes]] = {}
    for code, series_rows in rows.items():
        for row_key, vals in series_rows.items():
            guild, field = encode_row(code, row_key)
            hashes.setdefault(guild, {})[field.encode()] = ",".join(map(str, vals)).encode()
    guilds = sorted(hashes)
    return guilds, [hashes[g] for g in guilds]


def random_increments(rng: random.Random, n: int) -> list[tuple[CounterKey, int]]:
    return [(random_key(rng), rng.randrange(1, 5)) for _ in range(n)]


def normalise(key: CounterKey) -> CounterKey:
    """Text dimensions as the store writes them (the separator replaced)."""
    return tuple(p.replace("\x1f", "\ufffd") if isinstance(p, str) else p for p in key)


def expected(increments: list[tuple[CounterKey, int]]) -> Counter[CounterKey]:
    """What the database must hold after ``increments``, keys as the stores write them."""
    c: Counter[CounterKey] = Counter()
    for k, n in increments:
        c[normalise(k)] += n
    return c


async def stored_counters(engine: AsyncEngine) -> Counter[CounterKey]:
    """Every hourly counter in the database, as counter keys."""
    out: Counter[CounterKey] = Counter()
    async with engine.connect() as conn:
        for code, series in SERIES.items():
            table = t.HOURLY[code]
            for row in await conn.execute(sa.select(table)):
                m: dict[str, Any] = dict(row._mapping)
                hour = int(m["hour"].timestamp())
                dims = tuple(m[d] for d in series.dims)
                for f in series.fields:
                    if m[f]:
                        out[(code, m["guild_id"], hour, *dims, f)] += m[f]
    return out


async def rollups_consistent(engine: AsyncEngine) -> None:
    """Assert the daily and per-member rollups of every closed day equal sums of its hourly rows.

    The open days (``db.rollups``) have no rollups to check: they are written when the day closes.
    """
    async with engine.connect() as conn:
        open_from = {int(g): int(d) for g, d in (await conn.execute(sa.select(t.open_days))).all()}

    def closed(guild: object, day: int) -> bool:
        return day < open_from.get(int(str(guild)), 2**62)

    hourly = await stored_counters(engine)
    daily_expect: Counter[CounterKey] = Counter()
    for (code, g, hour, *rest), n in hourly.items():
        assert isinstance(hour, int)  # keys read back from the database: the hour is an epoch
        if closed(g, hour - hour % DAY):
            daily_expect[(code, g, hour - hour % DAY, *rest)] += n
    daily: Counter[CounterKey] = Counter()
    async with engine.connect() as conn:
        for code, series in SERIES.items():
            for row in await conn.execute(sa.select(t.DAILY[code])):
                m = dict(row._mapping)
                dims = tuple(m[d] for d in series.dims)
                if not closed(m["guild_id"], int(m["day"].timestamp())):
                    continue
                for f in series.fields:
                    if m[f]:
                        daily[(code, m["guild_id"], int(m["day"].timestamp()), *dims, f)] += m[f]
        member: Counter[tuple[int, int, int, str]] = Counter()
        for row in await conn.execute(sa.select(t.member_daily)):
            m = dict(row._mapping)
            if not closed(m["guild_id"], int(m["day"].timestamp())):
                continue
            for f in t.MEMBER_DAILY_FIELDS:
                if m[f]:
                    member[(m["guild_id"], int(m["day"].timestamp()), m["user_id"], f)] += m[f]
    assert daily == daily_expect
    member_expect: Counter[tuple[int, int, int, str]] = Counter()
    to_member = {
        ("msg", "messages"): "messages",
        ("msg", "characters"): "characters",
        ("emoji", "count"): "emojis",
        ("app", "count"): "commands",
        ("voice", "active_s"): "active_s",
    }
    for (code, g, day, _ch, user, *rest), n in daily_expect.items():
        # Every series keys (code, guild, day, int dim, int dim, ...): narrow them for the member keys.
        assert isinstance(code, str) and isinstance(g, int) and isinstance(day, int) and isinstance(user, int)
        f = str(rest[-1])
        if (code, f) in to_member:
            member_expect[(g, day, user, to_member[(code, f)])] += n
        if code == "voice" and f in ("active_s", "muted_s", "deafened_s", "alone_s"):
            member_expect[(g, day, user, "voice_s")] += n
    assert member == member_expect
