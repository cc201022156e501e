"""Catch-up after gaps with the real bot process (``python -m bot run``) against the offline Discord.

Messages sent while the bot is stopped, in the last moment before a SIGKILL, and while its
gateway session is lost (an invalid session: a new session that never gets them) are in
channel history only; the next run must count each exactly once, and record the gap.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from db import tables as t
from db.coverage import Gap, gaps
from sandbox import SandboxDiscord
from tests.e2e.conftest import Storage
from tests.e2e.harness import BotProcess, Bots, wait_until
from tests.e2e.stored import Join, emoji_rows, member_joins, message_rows
from tests.e2e.test_bot_process import Expected, assert_clean_exit, bot_settings, community, send_wave
from tests.support.counts import rollups_consistent

pytestmark = pytest.mark.e2e

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAR = datetime(2100, 1, 1, tzinfo=UTC)
CATCH_UP_S = 30.0


async def stored_gaps(storage: Storage, guild_id: int) -> list[Gap]:
    return await gaps(storage.engine, guild_id, EPOCH, FAR)


async def wait_counted(storage: Storage, guild_id: int, ex: Expected, bot: BotProcess, what: str) -> None:
    """Wait until the database holds exactly the expected message counts."""

    async def done() -> bool:
        return await message_rows(storage.engine, guild_id) == ex.stored_messages()

    await wait_until(done, what, timeout=CATCH_UP_S, bot=bot)


async def test_messages_sent_while_stopped_or_lost_in_a_kill_are_counted_once(
    sandbox: SandboxDiscord, storage: Storage, bots: Bots
) -> None:
    sb = sandbox
    guild_id, channels, users = community(sb)
    settings = bot_settings(sb, storage)
    ex = Expected()

    first = await bots.start_connected(settings, sb)
    await send_wave(sb, ex, "live1", channels, users)
    await wait_counted(storage, guild_id, ex, first, "the first live wave stored")
    assert_clean_exit(first, await first.terminate())

    # The bot is down: these are only in channel history (the thread's too).
    await send_wave(sb, ex, "down", channels, users)
    down = len(channels) * len(users)

    second = await bots.start_connected(settings, sb)
    await wait_counted(storage, guild_id, ex, second, "the messages sent while stopped caught up")
    await send_wave(sb, ex, "live2", channels, users)
    # A burst, then a crash before its counts can leave the process.
    await send_wave(sb, ex, "burst", channels, users)
    await second.sigkill()

    third = await bots.start_connected(settings, sb)
    await wait_counted(storage, guild_id, ex, third, "the burst before the kill caught up")
    await send_wave(sb, ex, "live3", channels, users)
    await wait_counted(storage, guild_id, ex, third, "the last live wave stored")
    assert_clean_exit(third, await third.terminate())

    assert await message_rows(storage.engine, guild_id) == ex.stored_messages()
    assert await emoji_rows(storage.engine, guild_id) == ex.emojis
    await rollups_consistent(storage.engine)
    found = await stored_gaps(storage, guild_id)
    assert [g.kind for g in found] == ["offline", "offline"], found
    assert found[0].messages_recovered == down
    assert found[0].from_at < found[0].to_at <= found[1].from_at < found[1].to_at


async def test_an_invalid_session_gap_is_caught_up(sandbox: SandboxDiscord, storage: Storage, bots: Bots) -> None:
    sb = sandbox
    guild_id, channels, users = community(sb)
    settings = bot_settings(sb, storage)
    ex = Expected()

    bot = await bots.start_connected(settings, sb)
    await send_wave(sb, ex, "before", channels, users)
    await wait_counted(storage, guild_id, ex, bot, "the first wave stored")

    async def while_lost() -> None:
        await send_wave(sb, ex, "lost", channels, users)

    await sb.invalidate_session(meanwhile=while_lost)
    await wait_counted(storage, guild_id, ex, bot, "the invalid session's gap caught up")
    await sb.barrier()
    await send_wave(sb, ex, "after", channels, users)
    await wait_counted(storage, guild_id, ex, bot, "the wave after the new session stored")
    assert_clean_exit(bot, await bot.terminate())

    assert await message_rows(storage.engine, guild_id) == ex.stored_messages()
    assert await emoji_rows(storage.engine, guild_id) == ex.emojis
    found = await stored_gaps(storage, guild_id)
    assert [(g.kind, g.messages_recovered) for g in found] == [("disconnected", len(channels) * len(users))]


def total_messages(rows: dict[tuple[int, int, int], tuple[int, int, int, int]]) -> int:
    return sum(r[0] for r in rows.values())


async def test_a_crash_during_catch_up_neither_loses_nor_doubles(
    sandbox: SandboxDiscord, storage: Storage, bots: Bots
) -> None:
    sb = sandbox
    guild_id, channels, users = community(sb)
    _general, thread = channels
    settings = bot_settings(sb, storage)
    ex = Expected()

    first = await bots.start_connected(settings, sb)
    await send_wave(sb, ex, "live1", channels, users)
    await wait_counted(storage, guild_id, ex, first, "the first live wave stored")
    assert_clean_exit(first, await first.terminate())

    # Several pages of history in each channel while the bot is down.
    for channel in channels:
        for i in range(250):
            ex.counted(await sb.send_message(channel, users[i % len(users)], f"down {i} 🎉"), ["🎉"])
    # The thread's history answers slowly: the crash comes after the channel's import, before the thread's.
    sb.rate_limit(f"/channels/{thread.id}/messages", times=6, retry_after=1.0)
    base = total_messages(await message_rows(storage.engine, guild_id))
    total = total_messages(ex.stored_messages())

    second = await bots.start_connected(settings, sb)
    # Live messages at once: each channel's gap becomes a stored range before catch-up starts.
    await send_wave(sb, ex, "live2", channels, users)

    async def partly_caught_up() -> bool:
        counted = total_messages(await message_rows(storage.engine, guild_id))
        return base + 250 <= counted < total

    await wait_until(partly_caught_up, "the channel caught up, not yet the thread", timeout=CATCH_UP_S, bot=second)
    await second.sigkill()
    sb.recorder.rules.clear()

    third = await bots.start_connected(settings, sb)
    await wait_counted(storage, guild_id, ex, third, "the rest caught up after the crash")
    progress = await third.metrics(bots.http)
    assert progress["catchup_recovered_messages_total"] > 0 and progress["catchup_pages_total"] > 0, progress
    assert_clean_exit(third, await third.terminate())

    assert await message_rows(storage.engine, guild_id) == ex.stored_messages()
    assert await emoji_rows(storage.engine, guild_id) == ex.emojis
    await rollups_consistent(storage.engine)
    assert sum(g.messages_recovered for g in await stored_gaps(storage, guild_id)) >= 500


async def left_at(storage: Storage, guild_id: int) -> dict[int, int | None]:
    j = t.member_joins
    async with storage.engine.connect() as conn:
        rows = (await conn.execute(sa.select(j.c.user_id, j.c.left_at).where(j.c.guild_id == guild_id))).all()
    return {int(u): None if at is None else int(at.timestamp()) for u, at in rows}


async def test_joins_and_leaves_while_stopped_are_recovered_from_the_member_list(
    sandbox: SandboxDiscord, storage: Storage, bots: Bots
) -> None:
    sb = sandbox
    guild_id, _channels, _users = community(sb)
    settings = bot_settings(sb, storage)

    first = await bots.start_connected(settings, sb)
    leaver = await sb.member_join(guild_id, "leaver")
    stays = await sb.member_join(guild_id, "stays")

    async def both_joined() -> bool:
        return set(await member_joins(storage.engine, guild_id)) == {leaver.user.id, stays.user.id}

    await wait_until(both_joined, "the live joins stored", bot=first)
    assert_clean_exit(first, await first.terminate())

    await sb.member_leave(guild_id, leaver.user)
    newcomer = await sb.member_join(guild_id, "newcomer")

    second = await bots.start_connected(settings, sb)

    async def recovered() -> bool:
        return newcomer.user.id in await member_joins(storage.engine, guild_id)

    await wait_until(recovered, "the join of the gap recovered", bot=second)
    assert_clean_exit(second, await second.terminate())

    joins = await member_joins(storage.engine, guild_id)
    assert joins[newcomer.user.id] == Join(newcomer.user.id, int(newcomer.joined_at.timestamp()), "unknown", None)
    (gap,) = await stored_gaps(storage, guild_id)
    # Left at the gap's start: approximate, the from_utc of the coverage export's gap.
    assert await left_at(storage, guild_id) == {
        leaver.user.id: int(gap.from_at.timestamp()),
        stays.user.id: None,
        newcomer.user.id: None,
    }
