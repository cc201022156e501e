"""/privacy through the real bot: hide stops recording and optin shows the data again; delete erases
everything of the member in this guild, including counters still in the process and the buffer store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from cogs import TRACKING_EXTENSIONS
from db import privacy
from db import tables as t
from sandbox import SandboxDiscord
from sandbox.state import SandboxChannel, SandboxGuild, SandboxMember
from tests.conftest import Backend
from tests.support.live import LiveBot, flush, live_bot

pytestmark = pytest.mark.integration

EXTENSIONS = (*TRACKING_EXTENSIONS, "cogs.privacy")


async def messages_of(backend: Backend, guild_id: int, user_id: int) -> int:
    m = t.message_hourly
    async with backend.engine.connect() as conn:
        total = await conn.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(m.c.messages), 0)).where(
                m.c.guild_id == guild_id, m.c.user_id == user_id
            )
        )
    return int(total or 0)


async def say(sb: SandboxDiscord, channel: SandboxChannel, member: SandboxMember, n: int = 1) -> None:
    for i in range(n):
        await sb.send_message(channel, member.user, f"hello {i} 🎉")
    await sb.barrier()


async def run(
    sb: SandboxDiscord,
    guild: SandboxGuild,
    channel: SandboxChannel,
    member: SandboxMember,
    name: str,
    options: dict[str, str] | None = None,
) -> str:
    reply = await (await sb.invoke(guild, channel, member.user, name, options or {})).final()
    assert reply.ephemeral and not reply.embeds and len(reply.content) <= 200
    return reply.content


async def test_hide_stops_recording_and_optin_shows_old_data(backend: Backend) -> None:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Hide Guild")
        general = sb.add_channel(guild, "general")
        alice = sb.add_member(guild, "alice")
        async with live_bot(backend, sb, extensions=EXTENSIONS) as bot:
            assert "recorded" in await run(sb, guild, general, alice, "privacy status")
            await say(sb, general, alice, 3)
            await flush(bot)
            assert await messages_of(backend, guild.id, alice.user.id) == 3
            text = await run(sb, guild, general, alice, "privacy optout", {"mode": "hide"})
            assert "no longer recorded" in text
            assert bot.optouts.excluded(guild.id, alice.user.id)
            assert "hide" in await run(sb, guild, general, alice, "privacy status")
            await say(sb, general, alice, 2)  # not recorded
            await flush(bot)
            assert await messages_of(backend, guild.id, alice.user.id) == 3  # kept, hidden
            assert await privacy.get_mode(backend.engine, guild.id, alice.user.id) == "hide"
            assert "earlier data shows" in await run(sb, guild, general, alice, "privacy optin")
            assert not bot.optouts.excluded(guild.id, alice.user.id)
            assert await privacy.get_mode(backend.engine, guild.id, alice.user.id) is None
            await say(sb, general, alice, 1)
            await flush(bot)
            assert await messages_of(backend, guild.id, alice.user.id) == 4
            assert "already recorded" in await run(sb, guild, general, alice, "privacy optin")


async def test_delete_erases_tables_buffer_and_process_counters(backend: Backend) -> None:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Delete Guild")
        other = sb.add_guild("Other Guild")
        general = sb.add_channel(guild, "general")
        elsewhere = sb.add_channel(other, "general")
        alice = sb.add_member(guild, "alice")
        sb.add_member(other, alice.user)
        bob = sb.add_member(guild, "bob")
        async with live_bot(backend, sb, extensions=EXTENSIONS) as bot:
            await say(sb, general, alice, 2)
            await say(sb, elsewhere, alice, 1)
            await say(sb, general, bob, 1)
            await flush(bot)  # in the tables
            await say(sb, general, alice, 2)
            await bot.pusher.drain()  # in the buffer store
            await say(sb, general, alice, 2)  # still in the process
            await seed_rows(bot, guild.id, alice.user.id, bob.user.id)
            before = await privacy.member_rows(backend.engine, guild.id, alice.user.id)
            assert before["message_hourly"] and before["member_joins"] and before["invites.inviter_id"]
            text = await run(sb, guild, general, alice, "privacy optout", {"mode": "delete"})
            assert "erased" in text
            # Nothing of hers is left in the process or in the buffer store (public discard: 0 found).
            assert bot.counters.discard_member(guild.id, alice.user.id) == 0
            assert await bot.store.discard_member(guild.id, alice.user.id) == 0
            await flush(bot)
            after = await privacy.member_rows(backend.engine, guild.id, alice.user.id)
            assert after == dict.fromkeys(after, 0), after
            # Sent after the opt-out: not recorded either.
            await say(sb, general, alice, 1)
            await flush(bot)
            assert await messages_of(backend, guild.id, alice.user.id) == 0
            # Other members and the member's data in another guild are untouched.
            assert await messages_of(backend, guild.id, bob.user.id) == 1
            assert await messages_of(backend, other.id, alice.user.id) == 1
            async with backend.engine.connect() as conn:
                bob_join = (
                    await conn.execute(sa.select(t.member_joins).where(t.member_joins.c.user_id == bob.user.id))
                ).one()
            assert bob_join.invite_code == "abc" and bob_join.inviter_id is None
            assert "delete" in await run(sb, guild, general, alice, "privacy status")
            assert "erased" in await run(sb, guild, general, alice, "privacy optin")
            await say(sb, general, alice, 1)
            await flush(bot)
            assert await messages_of(backend, guild.id, alice.user.id) == 1


async def seed_rows(bot: LiveBot, guild_id: int, alice_id: int, bob_id: int) -> None:
    """Alice joined, invited Bob with her invite, and had a voice session: rows in the other tables."""
    at = datetime(2026, 11, 1, 12, tzinfo=UTC)
    async with bot.engine.begin() as conn:
        await conn.execute(
            sa.insert(t.member_joins),
            [
                {
                    "guild_id": guild_id,
                    "user_id": alice_id,
                    "joined_at": at,
                    "invite_code": "vanity",
                    "inviter_id": None,
                },
                {
                    "guild_id": guild_id,
                    "user_id": bob_id,
                    "joined_at": at,
                    "invite_code": "abc",
                    "inviter_id": alice_id,
                },
            ],
        )
        await conn.execute(sa.insert(t.invites).values(guild_id=guild_id, code="abc", inviter_id=alice_id, uses=1))
        await conn.execute(
            sa.insert(t.voice_sessions).values(
                guild_id=guild_id, user_id=alice_id, started_at=at, channel_id=1, ended_at=at, open=False
            )
        )


async def test_hide_then_delete_erases_and_invalid_mode_is_refused(backend: Backend) -> None:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Switch Guild")
        general = sb.add_channel(guild, "general")
        alice = sb.add_member(guild, "alice")
        async with live_bot(backend, sb, extensions=EXTENSIONS) as bot:
            await say(sb, general, alice, 2)
            await flush(bot)
            await run(sb, guild, general, alice, "privacy optout", {"mode": "hide"})
            assert await messages_of(backend, guild.id, alice.user.id) == 2
            await run(sb, guild, general, alice, "privacy optout", {"mode": "delete"})
            assert await messages_of(backend, guild.id, alice.user.id) == 0
            assert await privacy.get_mode(backend.engine, guild.id, alice.user.id) == "delete"
            bad = await (await sb.invoke(guild, general, alice.user, "privacy optout", {"mode": "forget"})).final()
            assert bad.ephemeral and not bad.embeds and len(bad.content) <= 200
