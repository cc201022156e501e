"""Marks, catch-up ranges and coverage through the real buffer and flush, on both backends.

The rules that make catch-up exact live in the flush transaction: a mark keeps the lowest
first id and the highest last id whatever order batches land in; a new range starts at least
at the channel's mark stored before its batch; a cursor only moves on; a gap's recovered count
only grows. ``/export dataset:coverage`` lists each gap overlapping the period.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import sqlalchemy as sa

from bot.buffer import Counters
from bot.buffer.flusher import Flusher
from bot.buffer.pusher import Pusher
from bot.extensions import TRACKING_EXTENSIONS
from bot.render.csvfile import COLUMNS, CsvSpool
from bot.tracking.catchup import GapState, LiveMarks, gap_record, live_record
from cogs.catchup import CatchUp
from db import coverage
from db import tables as t
from db.export import stream_rows
from db.flush import BatchWriter
from db.series import MEMBER_JOIN
from sandbox import SandboxDiscord, SandboxGuild
from tests.conftest import Backend
from tests.support.live import LiveBot, live_bot
from tests.support.live import flush as flush_bot

pytestmark = pytest.mark.integration

G, C = 7, 70
T0 = 1_795_000_000


async def flush(counters: Counters, backend: Backend) -> None:
    """Push what the counters hold and flush it, as the bot's loops do."""
    assert await Pusher(counters, backend.store()).push_once()
    await Flusher(backend.store(), BatchWriter(backend.engine), interval=10).flush_once()


async def test_marks_keep_min_first_and_max_last_in_any_order(backend: Backend) -> None:
    counters = Counters()
    marks = LiveMarks(counters)
    marks.moved(G, C, 500)
    marks.moved(G, C, 600)
    await flush(counters, backend)
    # A late batch (spilled, replayed) with older ids moves nothing back.
    late = LiveMarks(counters)
    late.moved(G, C, 400)
    await flush(counters, backend)
    assert await coverage.marks(backend.engine) == {(G, C): (400, 600)}
    assert await coverage.first_marked(backend.engine, G, C) == 400


async def test_a_new_range_starts_at_the_stored_mark_and_its_cursor_only_moves_on(backend: Backend) -> None:
    counters = Counters()
    first_run = LiveMarks(counters)
    first_run.moved(G, C, 1000)
    await flush(counters, backend)
    # A process that could not read the marks at start: its range would start at the floor (100);
    # the flush raises it to the stored mark, so nothing counted before is imported again.
    second_run = LiveMarks(counters)
    second_run.floor[G] = 100
    assert second_run.admit(5000, G, C)
    assert not second_run.admit(4000, G, C), "below the session's first live message: catch-up's"
    await flush(counters, backend)
    assert await coverage.open_ranges(backend.engine, G) == [coverage.Range(C, 5000, 1000)]
    assert await coverage.marks(backend.engine) == {(G, C): (1000, 5000)}

    counters.record(("catchup", G, C, 5000), (3000, 0))
    await flush(counters, backend)
    counters.record(("catchup", G, C, 5000), (2000, 0))  # a replayed older page
    await flush(counters, backend)
    assert await coverage.open_ranges(backend.engine, G) == [coverage.Range(C, 5000, 3000)]
    counters.record(("catchup", G, C, 5000), (4999, 1))
    await flush(counters, backend)
    assert await coverage.open_ranges(backend.engine, G) == []


async def test_coverage_export_lists_each_gap_of_the_period(backend: Backend) -> None:
    counters = Counters()
    counters.record(*live_record(G, T0, T0 + 600))
    await flush(counters, backend)
    counters.record(*live_record(G, T0, T0 + 300))  # an older heartbeat landing later
    first = GapState(T0 + 600, T0 + 4200, "offline", 12)
    second = GapState(T0 + 9000, T0 + 9060, "disconnected", 0)
    counters.record(*gap_record(G, first))
    counters.record(*gap_record(G, second))
    counters.record(*gap_record(G + 1, GapState(T0, T0 + 60, "offline", 5)))  # another guild's
    await flush(counters, backend)
    # Recovered counts only grow, whatever order the records land in.
    counters.record(*gap_record(G, GapState(T0 + 600, T0 + 4200, "offline", 3)))
    await flush(counters, backend)
    assert await coverage.last_live(backend.engine) == {G: T0 + 600}

    start = datetime.fromtimestamp(T0 + 1000, UTC)
    end = datetime.fromtimestamp(T0 + 20000, UTC)
    spool = CsvSpool("coverage")
    try:
        async for chunk in stream_rows(backend.engine, "coverage", G, start, end):
            spool.add(chunk)
        attachment = spool.finish("coverage-7d", 10_000_000)
    except BaseException:
        spool.close()
        raise
    with attachment.file:
        text = attachment.file.read().decode()
    lines = text.split("\r\n")
    assert lines[0] == ",".join(COLUMNS["coverage"]) == "from_utc,to_utc,kind,messages_recovered"
    assert lines[1:3] == [
        f"{_iso(T0 + 600)},{_iso(T0 + 4200)},offline,12",
        f"{_iso(T0 + 9000)},{_iso(T0 + 9060)},disconnected,0",
    ]
    assert lines[3:] == [""]
    recent = await coverage.recent_gaps(backend.engine, T0 + 5000)
    assert recent[G] == [(T0 + 9000, T0 + 9060, "disconnected", 0)]


async def test_the_safety_net_catches_up_what_a_missed_gateway_event_lost_exactly_once(backend: Backend) -> None:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Net")
        general = sb.add_channel(guild, "general")
        alice = sb.add_member(guild, "alice").user
        now = datetime.now(UTC)
        async with live_bot(backend, sb, extensions=TRACKING_EXTENSIONS) as bot:
            # discord.py loads the extension as a module of its own: not this module's class object.
            found = bot.get_cog("CatchUp")
            assert found is not None and type(found).__name__ == "CatchUp"
            cog = cast(CatchUp, found)
            await sb.send_message(general, alice, "live 🎉", created_at=now - timedelta(seconds=120))
            await sb.barrier()
            # Three messages whose MESSAGE_CREATE never came: in history only.
            missed = [
                sb.add_message(general, alice, f"missed {i} 🎉", created_at=now - timedelta(seconds=60 - i))
                for i in range(3)
            ]
            assert await cog.check_tails() == 1

            async def counted() -> int:
                await flush_bot(bot)
                return await messages_in(backend, guild.id)

            deadline = time.monotonic() + 20
            while await counted() < 4:
                assert time.monotonic() < deadline, "the safety net's range was not imported"
                await asyncio.sleep(0.05)
            # A late delivery of one of them is not counted again, nor is the tail found twice.
            await sb.gateway.dispatch_guild(sb.guild(guild), "MESSAGE_CREATE", missed[0].payload)
            await sb.barrier()
            assert await cog.check_tails() == 0
            await flush_bot(bot)
            assert await messages_in(backend, guild.id) == 4


async def test_joins_of_an_earlier_gap_whose_recovery_was_cut_short_are_recovered(backend: Backend) -> None:
    """The run after a gap went live but was killed before comparing the member list: the next run compares it.

    Its live interval says nothing of the joins of the gap before it, so the next run's recovery
    covers the whole tracked period: a member with no stored join who joined after tracking began
    is recovered, once; a stored join keeps its invite; a member from before tracking began is no join.
    """
    async with SandboxDiscord() as sb:
        guild, t0 = await earlier_runs(sb, backend)
        sb.add_member(guild, "earlier", joined_at=_at(t0 - 600))  # before the bot tracked the guild: no join
        invited = sb.add_member(guild, "invited", joined_at=_at(t0 + 600)).user
        missed = sb.add_member(guild, "missed", joined_at=_at(t0 + 1500)).user
        bot_storage = Counters()
        bot_storage.record((MEMBER_JOIN.code, guild.id, invited.id, t0 + 600), ("abc", None))
        await flush(bot_storage, backend)

        async with live_bot(backend, sb, extensions=TRACKING_EXTENSIONS) as bot:
            await wait_joined(bot, backend, guild.id, missed.id)
        # The recovery's records were made in one step: all there once one is.
        assert await stored_joins(backend, guild.id) == {
            invited.id: [(t0 + 600, "abc", None)],
            missed.id: [(t0 + 1500, "unknown", None)],
        }


async def test_a_member_who_leaves_while_the_gap_is_recovered_keeps_the_join_of_the_gap(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The member list is the one the gap ended with: a member of it who leaves while the stored joins
    are read (the database slow or down) has their join of the gap recovered, and closed by their leave."""
    async with SandboxDiscord() as sb:
        guild, t0 = await earlier_runs(sb, backend)
        brief = sb.add_member(guild, "brief", joined_at=_at(t0 + 1500)).user
        reading, go_on = asyncio.Event(), asyncio.Event()
        read = coverage.known_members

        async def slow_read(*args: Any) -> coverage.KnownMembers:
            reading.set()
            await go_on.wait()
            return await read(*args)

        monkeypatch.setattr(coverage, "known_members", slow_read)
        async with live_bot(backend, sb, extensions=TRACKING_EXTENSIONS) as bot:
            await asyncio.wait_for(reading.wait(), timeout=20)
            await sb.member_leave(guild, brief)
            await sb.barrier()
            go_on.set()
            await wait_joined(bot, backend, guild.id, brief.id)
            await flush_bot(bot)
        ((joined_at, code, left_at),) = (await stored_joins(backend, guild.id))[brief.id]
        assert (joined_at, code) == (t0 + 1500, "unknown")
        assert left_at is not None and left_at >= joined_at


async def earlier_runs(sb: SandboxDiscord, backend: Backend) -> tuple[SandboxGuild, int]:
    """A guild tracked since ``t0``, and what the earlier runs stored: a gap (t0 + 1200, t0 + 1800), then
    the live interval of a run killed before it compared the member list with the stored joins."""
    owner = sb.add_user("owner")
    guild = sb.add_guild("Joins", owner=owner)
    sb.add_channel(guild, "general")
    now = int(time.time())
    t0 = now - 7200
    guild.members[owner.id].joined_at = _at(t0 - 86400)
    counters = Counters()
    counters.record(*live_record(guild.id, t0, t0 + 1200))
    counters.record(*gap_record(guild.id, GapState(t0 + 1200, t0 + 1800, "offline")))
    counters.record(*live_record(guild.id, t0 + 1800, now - 60))
    await flush(counters, backend)
    return guild, t0


async def wait_joined(bot: LiveBot, backend: Backend, guild_id: int, user_id: int) -> None:
    """Flush the bot until a join of ``user_id`` is stored (its recovery runs in a listener of the bot)."""
    deadline = time.monotonic() + 20
    while user_id not in await stored_joins(backend, guild_id):
        assert time.monotonic() < deadline, "the join of the gap was not recovered"
        await flush_bot(bot)
        await asyncio.sleep(0.05)  # polling the database the bot writes: there is no event to wait on


async def stored_joins(backend: Backend, guild_id: int) -> dict[int, list[tuple[int, str, int | None]]]:
    """Per member, the stored joins ``(joined_at, code, left_at)``."""
    j = t.member_joins
    stmt = sa.select(j.c.user_id, j.c.joined_at, j.c.invite_code, j.c.left_at).where(j.c.guild_id == guild_id)
    async with backend.engine.connect() as conn:
        rows = (await conn.execute(stmt.order_by(j.c.user_id, j.c.joined_at))).all()
    out: dict[int, list[tuple[int, str, int | None]]] = {}
    for user_id, joined_at, code, left_at in rows:
        left = None if left_at is None else int(left_at.timestamp())
        out.setdefault(int(user_id), []).append((int(joined_at.timestamp()), str(code), left))
    return out


REPORT_COGS = ("cogs.stats", "cogs.top", "cogs.emoji_report", "cogs.invite_report", "cogs.mentor")


async def test_every_report_over_a_gap_carries_the_coverage_line(backend: Backend) -> None:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Gappy")
        general = sb.add_channel(guild, "general")
        alice, bob = sb.add_member(guild, "alice"), sb.add_member(guild, "bob")
        async with live_bot(backend, sb, extensions=(*TRACKING_EXTENSIONS, *REPORT_COGS)) as bot:
            await sb.send_message(general, alice.user, "hello 🎉")
            await sb.send_message(general, bob.user, "hi 🎉")
            await sb.barrier()
            now = int(time.time())
            bot.counters.record(*gap_record(guild.id, GapState(now - 4000, now - 1600, "offline", 2)))
            bot.counters.record((MEMBER_JOIN.code, guild.id, bob.user.id, now - 3000), ("unknown", None))
            await flush_bot(bot)
            asked: list[tuple[str, dict[str, Any]]] = [
                ("stats server", {}),
                ("stats user", {}),
                ("stats channel", {"channel": general}),
                ("top", {"metric": "messages"}),
                ("emojis", {}),
                ("invites", {}),
                ("mentor card", {"member": alice}),
            ]
            for name, options in asked:
                reply = await (await sb.invoke(guild, general, alice.user, name, options)).final(timeout=30)
                footers = [e.get("footer", {}).get("text", "") for e in reply.embeds]
                line = "bot offline 40 min in this period: messages recovered, voice not recorded"
                assert any(line in f for f in footers), (name, reply.content, footers)


async def messages_in(backend: Backend, guild_id: int) -> int:
    m = t.message_hourly
    async with backend.engine.connect() as conn:
        total = await conn.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(m.c.messages), 0)).where(m.c.guild_id == guild_id)
        )
    return int(total or 0)


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
