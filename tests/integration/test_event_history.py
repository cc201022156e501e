"""/config event keeps the history of every event: a past week is judged by the events configured then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import discord
import pytest
import sqlalchemy as sa

from db import events as repo
from db import tables as t
from sandbox import SandboxDiscord
from tests.conftest import Backend
from tests.support.live import live_bot

pytestmark = pytest.mark.integration

ADDED = datetime(2026, 11, 10, 12, tzinfo=UTC)
REMOVED = datetime(2026, 11, 20, 12, tzinfo=UTC)


async def test_add_and_remove_are_kept_with_their_times(backend: Backend) -> None:
    now = [ADDED.timestamp()]
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("History Guild")
        general = sb.add_channel(guild, "general")
        admin_role = sb.add_role(guild, "admin", permissions=discord.Permissions(manage_guild=True).value)
        boss = sb.add_member(guild, "boss", roles=[admin_role])
        async with live_bot(backend, sb, extensions=("cogs.config",), clock=lambda: now[0]):
            added = await (
                await sb.invoke(guild, general, boss, "config event", {"action": "add", "start": "07:00"})
            ).final()
            assert added.ephemeral and "Event added" in added.content
            now[0] = REMOVED.timestamp()
            removed = await (
                await sb.invoke(guild, general, boss, "config event", {"action": "remove", "start": "07:00"})
            ).final()
            assert removed.ephemeral and "Removed 1 event" in removed.content
    async with backend.engine.connect() as conn:
        assert (
            await conn.scalar(sa.select(sa.func.count()).select_from(t.events).where(t.events.c.guild_id == guild.id))
            == 0
        )
    # The removed event is still known for the days it was configured, and only for them.
    before = await repo.event_versions(backend.engine, guild.id, ADDED - timedelta(days=7), ADDED)
    during = await repo.event_versions(backend.engine, guild.id, ADDED, REMOVED)
    after = await repo.event_versions(backend.engine, guild.id, REMOVED, REMOVED + timedelta(days=7))
    assert before == [] and after == []
    [version] = during
    assert (version.valid_from, version.valid_to) == (ADDED, REMOVED)
    assert version.event.start_time == "07:00" and version.event.minutes == 60 and version.event.pattern == "*"
    assert version.in_force(ADDED + timedelta(days=1)) and not version.in_force(REMOVED)
    assert not version.in_force(ADDED - timedelta(seconds=1))
