"""Rich Presence through the real bot: recorded only in guilds that enabled it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from db import tables as t
from db.guilds import update_settings
from db.series import HOUR
from sandbox import SandboxDiscord
from tests.conftest import Backend
from tests.support.live import flush, live_bot

pytestmark = pytest.mark.integration

T0 = 1_800_000_000 - 1_800_000_000 % HOUR + 600


async def test_presence_time_is_recorded_where_enabled_only(backend: Backend) -> None:
    now = [float(T0)]
    async with SandboxDiscord() as sb:
        on = sb.add_guild("Presence On")
        off = sb.add_guild("Presence Off")
        sb.add_channel(on, "general")
        sb.add_channel(off, "general")
        alice = sb.add_member(on, "alice")
        sb.add_member(off, alice.user)
        await update_settings(backend.engine, on.id, presence_tracking=True)
        async with live_bot(backend, sb, clock=lambda: now[0]) as bot:
            game = [{"name": "Chess", "type": 0, "application_id": "4242"}]
            await sb.presence_update(on, alice, activities=game)
            await sb.presence_update(off, alice, activities=game)
            await sb.barrier()
            now[0] += 125
            await sb.presence_update(on, alice, activities=[])
            await sb.presence_update(off, alice, activities=[])
            await sb.barrier()
            await flush(bot)
    async with backend.engine.connect() as conn:
        rows = (await conn.execute(sa.select(t.HOURLY["presence"]))).all()
    assert [(r.guild_id, r.user_id, r.application_id, r.name, r.seconds) for r in rows] == [
        (on.id, alice.user.id, 4242, "Chess", 125)
    ]


async def test_config_presence_switches_tracking_for_that_guild(backend: Backend) -> None:
    import discord

    from db.guilds import get_settings

    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Switch")
        general = sb.add_channel(guild, "general")
        admin_role = sb.add_role(guild, "admin", permissions=discord.Permissions(manage_guild=True).value)
        boss = sb.add_member(guild, "boss", roles=[admin_role])
        plain = sb.add_member(guild, "plain")
        async with live_bot(backend, sb) as bot:
            denied = await (await sb.invoke(guild, general, plain, "config presence", {"enabled": True})).final()
            assert denied.ephemeral and "Manage Server" in denied.content
            reply = await (await sb.invoke(guild, general, boss, "config presence", {"enabled": True})).final()
            assert reply.ephemeral and "Presence" in reply.content
            assert (await get_settings(backend.engine, guild.id)).presence_tracking
            tracker = bot.get_cog("PresenceTracker")
            assert tracker is not None and guild.id in tracker.enabled  # type: ignore[attr-defined]
            await (await sb.invoke(guild, general, boss, "config presence", {"enabled": False})).final()
            assert guild.id not in tracker.enabled  # type: ignore[attr-defined]
