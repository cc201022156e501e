"""Report queries: the rollup path (whole UTC days from ``*_daily``/``member_daily``) agrees with the hourly path."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.analytics.periods import parse_period, parse_timezone
from bot.reports.builders import activity_series, series_span
from db import privacy
from db import tables as t
from db.reports import Reports, Snapshots, split_period
from db.series import APPS, DAY, EMOJIS, HOUR, MESSAGES, VOICE, CounterKey
from tests.conftest import Backend
from tests.support.live import counted_and_flushed

pytestmark = pytest.mark.integration

NOW = 1_795_000_000 + 1234  # mid-hour, so periods start and end inside hours and days
G, OTHER = 11, 22
OPTED_OUT = 105


async def fill(backend: Backend) -> None:
    """About 60 days of random activity in two guilds, through the real flush (hourly and rollups)."""
    rng = random.Random(7)
    top = NOW - NOW % HOUR
    increments: list[tuple[CounterKey, int]] = []
    for _ in range(1500):
        guild = rng.choice((G, G, OTHER))
        hour = top - rng.randrange(0, 60 * DAY // HOUR) * HOUR
        user, channel = rng.randrange(100, 110), rng.randrange(1, 5)
        increments += [
            ((MESSAGES.code, guild, hour, channel, user, "messages"), rng.randrange(1, 9)),
            ((VOICE.code, guild, hour, channel, user, rng.choice(("active_s", "muted_s"))), 60),
            ((EMOJIS.code, guild, hour, channel, user, rng.choice("ab"), "reaction", "count"), 1),
            ((APPS.code, guild, hour, channel, user, 9, "x", "count"), 1),
        ]
    await counted_and_flushed(backend, float(NOW), increments)
    async with backend.engine.begin() as conn:
        await conn.execute(
            sa.insert(t.optouts).values(guild_id=G, user_id=OPTED_OUT, mode="hide", created_at=datetime.now(UTC))
        )


@pytest.mark.parametrize("snapshots", [False, True], ids=["plain", "snapshots"])
@pytest.mark.parametrize("tz_name", ["UTC", "America/Santiago"])
async def test_rollups_and_hourly_rows_agree(backend: Backend, tz_name: str, snapshots: bool) -> None:
    await fill(backend)
    # With snapshots, every answer is asked twice: the second time it comes from the snapshot.
    reports = Reports(backend.engine, Snapshots() if snapshots else None)
    now = datetime.fromtimestamp(NOW, UTC)
    tz = parse_timezone(tz_name)
    for _ in range(2 if snapshots else 1):
        for label in ("24h", "7d", "30d", "90d", "all"):
            period = parse_period(label, now, tz, earliest=now - timedelta(days=75, minutes=13))
            fast = split_period(period.start, period.end, True)
            slow = split_period(period.start, period.end, False)
            assert slow.day_start is None
            if label in ("30d", "90d", "all"):
                assert fast.uses_rollups
            assert await reports.totals(G, fast) == await reports.totals(G, slow)
            assert await reports.totals(G, fast, [1, 2]) == await reports.totals(G, slow, [1, 2])
            assert await reports.top_channels(G, fast) == await reports.top_channels(G, slow)
            for metric in ("messages", "voice", "emojis", "commands"):
                ranking = await reports.top_members(G, fast, metric, 25)
                assert ranking == await reports.top_members(G, slow, metric, 25)
                assert OPTED_OUT not in dict(ranking)
            assert await reports.top_members(G, fast, "voice", 25, [3]) == await reports.top_members(
                G, slow, "voice", 25, [3]
            )
            assert await reports.member_rank(G, 101, fast) == await reports.member_rank(G, 101, slow)
            assert await reports.member_voice(G, 101, fast) == await reports.member_voice(G, 101, slow)
            assert await reports.member_channels(G, 101, fast) == await reports.member_channels(G, 101, slow)
            assert await reports.emojis(G, fast) == await reports.emojis(G, slow)
            assert await reports.emojis(G, fast, 102) == await reports.emojis(G, slow, 102)
            by_rollup = activity_series(await reports.series(G, series_span(period, True)), period)
            by_hour = activity_series(await reports.series(G, series_span(period, False)), period)
            assert by_rollup.messages.tolist() == by_hour.messages.tolist()
            assert by_rollup.voice_minutes.tolist() == by_hour.voice_minutes.tolist()
            total = await reports.totals(G, slow)
            assert sum(by_hour.messages) == total.messages
            assert await reports.totals_from(G, fast, await reports.series(G, series_span(period))) == total


async def test_opted_out_members_and_other_guilds_never_count(backend: Backend) -> None:
    await fill(backend)
    reports = Reports(backend.engine)
    span = split_period(datetime(2020, 1, 1, tzinfo=UTC), datetime.fromtimestamp(NOW + DAY, UTC))
    h = t.message_hourly
    async with backend.engine.connect() as conn:
        expected = (
            await conn.execute(sa.select(sa.func.sum(h.c.messages)).where(h.c.guild_id == G, h.c.user_id != OPTED_OUT))
        ).scalar()
    totals = await reports.totals(G, span)
    assert totals.messages == expected
    assert totals.active_members == 9
    assert await reports.member_rank(G, OPTED_OUT, span) == (0, 0, 9)
    assert await reports.member_voice(G, OPTED_OUT, span) == await reports.member_voice(G, 999, span)


async def write_counters(backend: Backend, clock: float, *counts: tuple[int, int, int, int]) -> None:
    """``(guild, hour epoch, user, messages)`` (and a minute of voice each) through the real bot and flush."""
    increments: list[tuple[CounterKey, int]] = []
    for guild, hour, user, messages in counts:
        increments.append(((MESSAGES.code, guild, hour, 1, user, "messages"), messages))
        increments.append(((VOICE.code, guild, hour, 1, user, "active_s"), 60))
    await counted_and_flushed(backend, clock, increments)


async def test_snapshots_follow_every_write_into_the_past(backend: Backend) -> None:
    """A snapshot of whole past days is reused until a write changes those days, and never after."""
    await fill(backend)
    snapshots = Snapshots()
    cached, plain = Reports(backend.engine, snapshots), Reports(backend.engine)
    now = datetime.fromtimestamp(NOW, UTC)
    span = split_period(now - timedelta(days=30), now)
    assert span.uses_rollups

    async def agree() -> list[tuple[int, int]]:
        top = await cached.top_members(G, span, "messages", 25)
        assert top == await plain.top_members(G, span, "messages", 25)
        assert await cached.top_channels(G, span) == await plain.top_channels(G, span)
        assert await cached.member_rank(G, 101, span) == await plain.member_rank(G, 101, span)
        assert await cached.active_members(G, span) == await plain.active_members(G, span)
        assert await cached.series(G, span) == await plain.series(G, span)
        return top

    await agree()
    misses = snapshots.misses
    await agree()
    assert snapshots.misses == misses, "nothing changed: every answer comes from its snapshot"

    # Counters of the current hour do not touch past days: the snapshots stay.
    this_hour = NOW - NOW % HOUR
    await write_counters(backend, NOW, (G, this_hour, 108, 5))
    await agree()
    assert snapshots.misses == misses

    # A late batch into a past day (as after a spill, or backfill) makes them stale at once.
    ten_days_ago = this_hour - 10 * DAY
    await write_counters(backend, NOW, (G, ten_days_ago, 109, 100_000))
    assert (await agree())[0][0] == 109
    assert snapshots.misses > misses

    # Another guild's past writes leave this guild's snapshots alone.
    misses = snapshots.misses
    await agree()
    await write_counters(backend, NOW, (OTHER, ten_days_ago, 109, 7))
    await agree()
    assert snapshots.misses == misses

    # Hiding, showing again and erasing a member change what past days show.
    await privacy.set_optout(backend.engine, G, 109, "hide", now)
    assert 109 not in dict(await agree())
    await privacy.remove_optout(backend.engine, G, 109)
    assert 109 in dict(await agree())
    await privacy.erase_member(backend.engine, G, 109)
    assert 109 not in dict(await agree())


async def test_snapshots_stay_within_their_bounds(backend: Backend) -> None:
    await fill(backend)
    snapshots = Snapshots(max_entries=3, max_bytes=2_000)
    cached, plain = Reports(backend.engine, snapshots), Reports(backend.engine)
    now = datetime.fromtimestamp(NOW, UTC)
    for days in (10, 20, 30, 40, 50):
        span = split_period(now - timedelta(days=days), now)
        for metric in ("messages", "voice"):
            assert await cached.top_members(G, span, metric, 5) == await plain.top_members(G, span, metric, 5)
        assert len(snapshots) <= 3 and snapshots.bytes_held <= 2_000
