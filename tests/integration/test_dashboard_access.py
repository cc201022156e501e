"""/dashboard and the access levels behind it, on the real bot against the sandbox, both backends:
the link works in another process's dashboard (the secret kept in the database), role changes and
leaves reach the database through the cog's loop, and /config mentor-role warns about View Server Insights.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import discord
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.web.auth import resolve_secret, viewer_of
from bot.web.server import Dashboard
from db.dashboard import member_access
from db.reports import Reports, Snapshots
from sandbox import SandboxDiscord
from sandbox.payloads import member_payload
from sandbox.state import SandboxGuild, SandboxMember, SandboxRole
from tests.conftest import Backend
from tests.support.live import LiveBot, live_bot

pytestmark = pytest.mark.integration


@dataclass
class World:
    sb: SandboxDiscord
    bot: LiveBot
    guild: SandboxGuild
    boss: SandboxMember
    mo: SandboxMember
    mia: SandboxMember
    ina: SandboxMember
    mentors: SandboxRole
    insights: SandboxRole

    @property
    def cog(self) -> Any:
        return self.bot.get_cog("Dashboard")

    async def level(self, member: SandboxMember) -> str | None:
        access, role = await member_access(self.bot.engine, self.guild.id, member.user.id)
        return None if access is None else access.level(role)


@pytest.fixture
async def world(backend: Backend) -> AsyncIterator[World]:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Dashboard Guild")
        sb.add_channel(guild, "general")
        admin = sb.add_role(guild, "admin", permissions=discord.Permissions(manage_guild=True).value)
        mentors = sb.add_role(guild, "mentors")
        insights = sb.add_role(guild, "insights", permissions=discord.Permissions(view_guild_insights=True).value)
        boss = sb.add_member(guild, "boss", roles=[admin])
        mo = sb.add_member(guild, "mo", roles=[mentors])
        mia = sb.add_member(guild, "mia")
        ina = sb.add_member(guild, "ina", roles=[insights])
        async with live_bot(backend, sb, extensions=("cogs.config", "cogs.dashboard")) as bot:
            yield World(sb, bot, guild, boss, mo, mia, ina, mentors, insights)


async def command(w: World, member: SandboxMember, name: str, options: dict[str, Any] | None = None) -> Any:
    channel = next(iter(w.guild.channels.values()))
    return await (await w.sb.invoke(w.guild, channel, member.user, name, options or {})).final()


async def test_levels_follow_roles_the_mentor_setting_and_leaves(world: World) -> None:
    await world.cog.save_now()  # what on_guild_available noted
    assert [await world.level(m) for m in (world.boss, world.mo, world.mia, world.ina)] == [
        "admin",
        "member",  # no mentor role configured yet
        "member",
        "mentor",  # View Server Insights
    ]
    await command(world, world.boss, "config mentor-role", {"role": world.mentors})
    assert await world.level(world.mo) == "mentor"
    # The mentor role is taken away: GUILD_MEMBER_UPDATE, noted by the listener, written by the loop.
    world.mo.role_ids = []
    await world.sb.gateway.dispatch_guild(
        world.guild, "GUILD_MEMBER_UPDATE", member_payload(world.mo) | {"guild_id": str(world.guild.id)}
    )
    await world.sb.barrier()
    assert (world.guild.id, world.mo.user.id) in world.cog.pending
    assert await world.level(world.mo) == "mentor"  # the listener wrote nothing itself
    await world.cog.save_now()
    assert await world.level(world.mo) == "member"
    await world.sb.member_leave(world.guild, world.mia)
    await world.sb.barrier()
    await world.cog.save_now()
    assert await world.level(world.mia) is None
    access, _ = await member_access(world.bot.engine, world.guild.id, world.mia.user.id)
    assert access is not None and access.name == "Mia"  # the last name seen stays, for "(left)"


async def test_a_member_who_joins_and_leaves_between_saves_is_kept_as_left(world: World) -> None:
    await world.cog.save_now()
    newcomer = await world.sb.member_join(world.guild, "newcomer")
    await world.sb.member_leave(world.guild, newcomer.user)
    await world.sb.barrier()
    await world.cog.save_now()
    access, _ = await member_access(world.bot.engine, world.guild.id, newcomer.user.id)
    assert access is not None and access.name == "Newcomer" and not access.present
    assert await world.level(newcomer) is None


async def test_dashboard_link_works_once_in_another_process(world: World) -> None:
    reply = await command(world, world.mia, "dashboard")
    assert reply.ephemeral and not reply.message.embeds
    found = re.search(r"http://localhost:8080(/login/\S+)", reply.content)
    assert found is not None, reply.content
    # Another process (python -m bot web) on the same database finds the same secret.
    engine = world.bot.engine
    secret = await resolve_secret(engine, None)
    dashboard = Dashboard(
        engine,
        Reports(engine, Snapshots()),
        secret=secret,
        base_url="http://localhost:8080",
        clock=lambda: datetime.now(UTC).timestamp(),
    )
    async with TestClient(TestServer(dashboard.app())) as client:
        first = await client.get(found.group(1), allow_redirects=False)
        assert first.status == 303
        assert (await client.get(f"/g/{world.guild.id}/")).status == 200
        again = await client.get(found.group(1), allow_redirects=False)
        assert again.status == 403
    assert (await viewer_of(engine, world.guild.id, world.mia.user.id)).level == "member"


async def test_mentor_role_warns_without_view_server_insights(world: World) -> None:
    warned = await command(world, world.boss, "config mentor-role", {"role": world.mentors})
    assert "View Server Insights" in warned.content and len(warned.content) <= 200
    fine = await command(world, world.boss, "config mentor-role", {"role": world.insights})
    assert "View Server Insights" not in fine.content
