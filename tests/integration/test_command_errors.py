"""The real bot in the sandbox: bad options and missing permissions get one short ephemeral sentence."""

from __future__ import annotations

import discord
import pytest

from sandbox import SandboxDiscord
from tests.conftest import Backend
from tests.support.live import live_bot

pytestmark = pytest.mark.integration


async def test_backfill_refuses_members_without_manage_server_and_bad_days(backend: Backend) -> None:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Errors Guild")
        general = sb.add_channel(guild, "general")
        alice = sb.add_member(guild, "alice")
        admin_role = sb.add_role(guild, "admin", permissions=discord.Permissions(manage_guild=True).value)
        boss = sb.add_member(guild, "boss", roles=[admin_role])
        async with live_bot(backend, sb):
            denied = await (await sb.invoke(guild, general, alice, "backfill", {"days": 7})).final()
            assert denied.ephemeral and not denied.embeds
            assert "Manage Server" in denied.content and len(denied.content) <= 200
            bad = await (await sb.invoke(guild, general, boss, "backfill", {"days": 9999})).final()
            assert bad.ephemeral and not bad.embeds and len(bad.content) <= 200
