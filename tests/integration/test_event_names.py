"""Named events (issue #14) through the real bot on both backends: /config event name:, its list, the
event-hour report's title and alt text, and a past week's summary naming its events as they were then."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import discord
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from cogs.events import Events
from cogs.weekly import Weekly
from db import tables as t
from db.engine import create_engine
from db.events import event_versions, list_events
from db.guilds import update_settings
from db.migrate import alembic_config, upgrade
from sandbox import InteractionReply, SandboxDiscord, StoredMessage
from sandbox.state import SandboxChannel, SandboxGuild, SandboxMember
from tests.conftest import BACKENDS, Backend, run_database_name, service_url
from tests.support.live import LiveBot, live_bot
from tests.support.pg import drop_database, ensure_database

pytestmark = pytest.mark.integration

# Monday 23 Nov 2026 07:00 UTC (the guild keeps the default timezone, UTC).
START = datetime(2026, 11, 23, 7, tzinfo=UTC)
MINUTES = 10
C = TypeVar("C")


@dataclass
class World:
    sb: SandboxDiscord
    guild: SandboxGuild
    general: SandboxChannel
    reports: SandboxChannel
    hall: SandboxChannel
    boss: SandboxMember
    alice: SandboxMember


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Named Guild")
        general = sb.add_channel(guild, "general")
        reports = sb.add_channel(guild, "reports")
        hall = sb.add_channel(guild, "Study Hall", kind=discord.ChannelType.voice)
        admin = sb.add_role(guild, "admin", permissions=discord.Permissions(manage_guild=True).value)
        since = START - timedelta(days=90)
        boss = sb.add_member(guild, "boss", roles=[admin], joined_at=since)
        alice = sb.add_member(guild, "alice", joined_at=since)
        yield World(sb, guild, general, reports, hall, boss, alice)


async def invoke(w: World, path: str, options: dict[str, Any]) -> InteractionReply:
    """A command run by the admin in #general, and its final reply."""
    return await (await w.sb.invoke(w.guild, w.general, w.boss.user, path, options)).final()


async def config_event(w: World, options: dict[str, Any]) -> str:
    """``/config event`` with ``options``: its one ephemeral sentence."""
    reply = await invoke(w, "config event", options)
    assert reply.ephemeral and not reply.embeds and len(reply.content) <= 200, reply.content
    return reply.content


async def attended(backend: Backend, guild_id: int, user_id: int, channel_id: int, start: datetime, s: int) -> None:
    """A closed voice session as the voice tracker stores it."""
    async with backend.engine.begin() as conn:
        await conn.execute(
            sa.insert(t.voice_sessions).values(
                guild_id=guild_id,
                user_id=user_id,
                channel_id=channel_id,
                started_at=start,
                ended_at=start + timedelta(seconds=s),
                open=False,
            )
        )


def posted(sb: SandboxDiscord, channel_id: int) -> list[StoredMessage]:
    """What the bot posted in a channel, oldest first."""
    return sorted(sb.world.channel_messages(channel_id).values(), key=lambda m: m.id)


def cog(bot: LiveBot, name: str, kind: type[C]) -> C:
    """A loaded cog (discord.py loads extensions as fresh modules: no isinstance)."""
    found = bot.get_cog(name)
    assert found is not None and type(found).__name__ == kind.__name__
    return cast(C, found)


async def test_a_named_event_is_listed_and_its_report_carries_the_name(backend: Backend, world: World) -> None:
    w = world
    await update_settings(backend.engine, w.guild.id, report_channel_id=w.reports.id)
    now = [(START - timedelta(hours=1)).timestamp()]
    extensions = ("cogs.config", "cogs.events")
    async with live_bot(backend, w.sb, extensions=extensions, clock=lambda: now[0]) as bot:
        hall = f"<#{w.hall.id}>"
        added = await config_event(
            w,
            {"action": "add", "start": "7:00", "minutes": MINUTES, "channels": hall, "name": "  Morning study  "},
        )
        assert added == f"Event added: Morning study: 07:00 for 10 min, every day, in {hall}."
        assert await config_event(w, {"action": "add", "start": "16:00"}) == (
            "Event added: 16:00 for 60 min, every day, in every voice channel."
        )
        for name, words in (
            ("x" * 61, "An event name has at most 60 characters; this one has 61."),
            ("Morning\nstudy", "An event name must be one line of text, without line breaks or tabs."),
            ("   ", "An event name cannot be blank; leave the option out for no name."),
        ):
            assert await config_event(w, {"action": "add", "start": "08:00", "name": name}) == words
        listed = (await config_event(w, {"action": "list"})).splitlines()
        assert listed == [
            f"• Morning study: 07:00 for 10 min, every day, in {hall}",
            "• 16:00 for 60 min, every day, in every voice channel",
        ]
        shown = await invoke(w, "config show", {})
        assert f"• Morning study: 07:00 for 10 min, every day, in {hall}" in shown.embeds[0]["description"]
        # Stored with the event and in its history; the refused adds stored nothing.
        assert [(e.start_time, e.name) for e in await list_events(backend.engine, w.guild.id)] == [
            ("07:00", "Morning study"),
            ("16:00", None),
        ]
        versions = await event_versions(backend.engine, w.guild.id, START - timedelta(days=1), START)
        assert sorted((v.event.start_time, v.event.name) for v in versions) == [
            ("07:00", "Morning study"),
            ("16:00", None),
        ]

        # The event-hour report posted after the event: its embed title and alt text carry the name.
        await attended(backend, w.guild.id, w.alice.user.id, w.hall.id, START, 6 * 60)
        now[0] = (START + timedelta(minutes=MINUTES, seconds=30)).timestamp()
        await asyncio.wait_for(cog(bot, "Events", Events).loop.run_once(), 30)
        [post] = posted(w.sb, w.reports.id)
        embed = post.embeds[0]
        assert embed["title"] == "Morning study · Mon 23 Nov 2026 07:00"
        assert embed["description"] == f"{w.alice.user.global_name or w.alice.user.username} — 6 min"
        alt = post.files[0].description or ""
        assert "Morning study" in alt and "Event 07:00" not in alt, alt
        # On demand, the same title.
        reply = await invoke(w, "event report", {"date": "2026-11-23", "start": "07:00"})
        assert reply.embeds[0]["title"] == embed["title"]
        assert "Morning study" in (reply.files[0].description or "")


async def test_an_unnamed_events_report_keeps_its_time_as_title(backend: Backend, world: World) -> None:
    w = world
    await update_settings(backend.engine, w.guild.id, report_channel_id=w.reports.id)
    now = [(START - timedelta(hours=1)).timestamp()]
    async with live_bot(backend, w.sb, extensions=("cogs.config", "cogs.events"), clock=lambda: now[0]) as bot:
        await config_event(w, {"action": "add", "start": "07:00", "minutes": MINUTES})
        await attended(backend, w.guild.id, w.alice.user.id, w.hall.id, START, MINUTES * 60)
        now[0] = (START + timedelta(minutes=MINUTES, seconds=30)).timestamp()
        await asyncio.wait_for(cog(bot, "Events", Events).loop.run_once(), 30)
        [post] = posted(w.sb, w.reports.id)
        assert post.embeds[0]["title"] == "Event 07:00 (10 min) · Mon 23 Nov 2026 07:00"
        assert "Event 07:00 (10 min)" in (post.files[0].description or "")


async def test_a_past_weeks_summary_names_its_events_as_they_were_then(backend: Backend, world: World) -> None:
    w = world
    await update_settings(backend.engine, w.guild.id, report_channel_id=w.reports.id)
    hall = f"<#{w.hall.id}>"
    alice = w.alice.user.id
    # ISO weeks in UTC: 2026-W46 is 9–16 Nov, 2026-W47 16–23 Nov.
    w46, w47 = datetime(2026, 11, 9, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC)
    renamed = w47 + timedelta(days=2, hours=12)  # Wednesday noon: after that day's 07:00 event
    now = [(w46 - timedelta(days=7)).timestamp()]
    async with live_bot(backend, w.sb, extensions=("cogs.config",), clock=lambda: now[0]):
        await config_event(w, {"action": "add", "start": "07:00", "minutes": 10, "channels": hall, "name": "Dawn"})
        now[0] = renamed.timestamp()
        assert await config_event(w, {"action": "remove", "start": "07:00"}) == "Removed 1 event at 07:00."
        await config_event(w, {"action": "add", "start": "07:00", "minutes": 10, "channels": hall, "name": "Sunrise"})
    seven = timedelta(hours=7)
    await attended(backend, w.guild.id, alice, w.hall.id, w46 + timedelta(days=1) + seven, 600)  # W46 Tue: 10
    await attended(backend, w.guild.id, alice, w.hall.id, w47 + timedelta(days=1) + seven, 300)  # W47 Tue: 5
    await attended(backend, w.guild.id, alice, w.hall.id, w47 + timedelta(days=4) + seven, 420)  # W47 Fri: 7

    now[0] = (w47 + timedelta(days=7, seconds=30)).timestamp()  # Monday 23 Nov 00:00:30: W47's summary is due
    async with live_bot(backend, w.sb, extensions=("cogs.weekly",), clock=lambda: now[0]) as bot:
        await asyncio.wait_for(cog(bot, "Weekly", Weekly).loop.run_once(), 30)
        [post] = posted(w.sb, w.reports.id)
        fields = {f["name"]: f["value"] for f in post.embeds[0]["fields"]}
        assert "2026-W47" in post.embeds[0]["title"]
        assert fields["Events held"] == "Dawn — 3 times, 5 member-minutes\nSunrise — 4 times, 7 member-minutes"
        assert fields["Event minutes"] == "12"
        # The week before the rename: only the name the event had then.
        reply = await invoke(w, "report weekly", {"week": "2026-W46"})
        earlier = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
        assert earlier["Events held"] == "Dawn — 7 times, 10 member-minutes"
        assert earlier["Event minutes"] == "10"


@pytest.mark.parametrize("kind", BACKENDS)
async def test_events_configured_before_the_migration_have_no_name(kind: str, tmp_path: Path) -> None:
    """Revision 0009 adds the name to ``events`` and ``event_history`` and gives it back on downgrade."""
    if kind == "sqlite":
        url, scratch = f"sqlite+aiosqlite:///{tmp_path / 'names.db'}", None
    else:
        scratch = f"{run_database_name()}_names"
        url = await ensure_database(service_url("TEST_DATABASE_URL"), scratch)
    engine = create_engine(url)
    try:
        await upgrade(engine, "0008")
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO events (guild_id, start_time, minutes, days, channels) "
                    "VALUES (5, '07:00', 60, 127, '{\"pattern\": \"*\"}')"
                )
            )
        await upgrade(engine, "0009")
        [old] = await list_events(engine, 5)
        assert (old.start_time, old.name) == ("07:00", None)
        [version] = await event_versions(engine, 5, datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
        assert version.event.name is None and version.event.id == old.id

        def down(conn: Connection) -> list[str]:
            command.downgrade(alembic_config(conn), "0008")
            return [c["name"] for c in sa.inspect(conn).get_columns("events")]

        async with engine.begin() as conn:
            assert await conn.run_sync(down) == ["id", "guild_id", "start_time", "minutes", "days", "channels"]
        await upgrade(engine)
        async with engine.connect() as conn:
            assert await conn.scalar(sa.select(sa.func.count()).select_from(t.events)) == 1
    finally:
        await engine.dispose()
        if scratch is not None:
            await drop_database(service_url("TEST_DATABASE_URL"), scratch)
