"""/config through the real bot: permissions, timezone, report channel check, events round trip, weekly, retention."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import discord
import pytest
import sqlalchemy as sa

from bot.hooks import Topic
from cogs.config import timezone_choices
from db import tables as t
from db.guilds import get_settings
from sandbox import InteractionReply, SandboxDiscord
from sandbox.state import SandboxChannel, SandboxGuild, SandboxMember, SandboxRole
from tests.conftest import Backend
from tests.support.live import LiveBot, live_bot

pytestmark = pytest.mark.integration


@dataclass
class World:
    sb: SandboxDiscord
    bot: LiveBot
    guild: SandboxGuild
    general: SandboxChannel
    reports: SandboxChannel
    study1: SandboxChannel
    study2: SandboxChannel
    boss: SandboxMember
    alice: SandboxMember
    mentors: SandboxRole
    other: SandboxGuild
    other_general: SandboxChannel


@pytest.fixture
async def world(backend: Backend) -> AsyncIterator[World]:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Config Guild")
        other = sb.add_guild("Other Guild")
        general = sb.add_channel(guild, "general")
        reports = sb.add_channel(guild, "reports")
        study1 = sb.add_channel(guild, "Study 1", kind=discord.ChannelType.voice)
        study2 = sb.add_channel(guild, "Study 2", kind=discord.ChannelType.voice)
        admin = sb.add_role(guild, "admin", permissions=discord.Permissions(manage_guild=True).value)
        mentors = sb.add_role(guild, "mentors")
        boss = sb.add_member(guild, "boss", roles=[admin])
        other_admin = sb.add_role(other, "admin", permissions=discord.Permissions(manage_guild=True).value)
        sb.add_member(other, boss.user, roles=[other_admin])
        other_general = sb.add_channel(other, "general")
        alice = sb.add_member(guild, "alice")
        async with live_bot(backend, sb, extensions=("cogs.config",)) as bot:
            yield World(sb, bot, guild, general, reports, study1, study2, boss, alice, mentors, other, other_general)


async def config(
    w: World,
    name: str,
    options: dict[str, Any] | None = None,
    member: SandboxMember | None = None,
    guild: SandboxGuild | None = None,
) -> InteractionReply:
    reply = await (
        await w.sb.invoke(
            guild or w.guild,
            w.other_general if guild is w.other else w.general,
            (member or w.boss).user,
            f"config {name}",
            options or {},
        )
    ).final()
    assert reply.ephemeral and len(reply.content) <= 200
    return reply


async def test_members_without_manage_server_are_refused(world: World) -> None:
    refused: list[tuple[str, dict[str, Any]]] = [
        ("show", {}),
        ("timezone", {"tz": "Europe/Berlin"}),
        ("retention", {"days": 5}),
        ("event", {"action": "list"}),
        ("weekly", {}),
    ]
    for name, options in refused:
        reply = await config(world, name, options, member=world.alice)
        assert reply.content == "You need the Manage Server permission to use this command.", name
        assert not reply.embeds
    (command,) = [c for c in world.sb.world.global_commands if c["name"] == "config"]
    assert int(command["default_member_permissions"]) == discord.Permissions(manage_guild=True).value
    assert (await get_settings(world.bot.engine, world.guild.id)).timezone == "UTC"


def test_timezone_autocomplete_suggests_iana_names() -> None:
    zones = ["America/New_York", "Europe/Berlin", "Europe/Paris", "UTC"]
    assert timezone_choices(zones, "eur") == ["Europe/Berlin", "Europe/Paris"]
    assert timezone_choices(zones, "new york") == ["America/New_York"]
    assert timezone_choices(zones, "") == zones
    assert timezone_choices(zones, "", limit=2) == zones[:2]


async def test_timezone_is_validated(world: World) -> None:
    assert (await config(world, "timezone", {"tz": "Europe/Berlin"})).content == "Timezone set to Europe/Berlin."
    for bad in ("Mars/Olympus", "../etc/passwd", "Europe/"):
        reply = await config(world, "timezone", {"tz": bad})
        assert "timezone" in reply.content and not reply.embeds
    assert (await get_settings(world.bot.engine, world.guild.id)).timezone == "Europe/Berlin"
    assert (await get_settings(world.bot.engine, world.other.id)).timezone == "UTC"


async def test_report_channel_needs_the_bots_permissions(world: World, backend: Backend) -> None:
    reply = await config(world, "report-channel", {"channel": world.reports})
    assert reply.content == f"Reports will be posted in <#{world.reports.id}>."
    assert (await get_settings(world.bot.engine, world.guild.id)).report_channel_id == world.reports.id


async def test_report_channel_refused_when_the_bot_cannot_post(backend: Backend) -> None:
    view_only = discord.Permissions(view_channel=True).value
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Locked Guild", everyone_permissions=view_only)
        reports = sb.add_channel(guild, "reports")
        admin = sb.add_role(guild, "admin", permissions=discord.Permissions(manage_guild=True).value)
        boss = sb.add_member(guild, "boss", roles=[admin])
        async with live_bot(backend, sb, extensions=("cogs.config",)) as bot:
            reply = await (
                await sb.invoke(guild, reports, boss.user, "config report-channel", {"channel": reports})
            ).final()
            assert reply.ephemeral and not reply.embeds
            assert reply.content == (
                f"I cannot send messages, embed links, attach files in <#{reports.id}>; "
                "give me those permissions first."
            )
            assert (await get_settings(bot.engine, guild.id)).report_channel_id is None


async def test_event_add_list_remove_round_trip(world: World, backend: Backend) -> None:
    added = await config(
        world,
        "event",
        {
            "action": "add",
            "start": "7:00",
            "days": "mon,wed,fri",
            "channels": f"<#{world.study1.id}> <#{world.study2.id}>",
        },
    )
    assert (
        added.content == f"Event added: 07:00 for 60 min, Mon, Wed, Fri, in <#{world.study1.id}> <#{world.study2.id}>."
    )
    added = await config(
        world, "event", {"action": "add", "start": "16:00", "minutes": 90, "days": "weekdays", "channels": "Study*"}
    )
    assert added.content == "Event added: 16:00 for 90 min, weekdays, in voice channels named `Study*`."
    await config(world, "event", {"action": "add", "start": "23:00"})
    listed = (await config(world, "event", {"action": "list"})).content.splitlines()
    assert listed == [
        f"• 07:00 for 60 min, Mon, Wed, Fri, in <#{world.study1.id}> <#{world.study2.id}>",
        "• 16:00 for 90 min, weekdays, in voice channels named `Study*`",
        "• 23:00 for 60 min, every day, in every voice channel",
    ]
    async with backend.engine.connect() as conn:
        rows = (await conn.execute(sa.select(t.events).order_by(t.events.c.id))).all()
    assert [(r.start_time, r.minutes, r.days, json.loads(r.channels)) for r in rows] == [
        ("07:00", 60, 0b10101, {"ids": [world.study1.id, world.study2.id]}),
        ("16:00", 90, 0b11111, {"pattern": "Study*"}),
        ("23:00", 60, 0b1111111, {"pattern": "*"}),
    ]
    assert rows[0].guild_id == world.guild.id
    assert (await config(world, "event", {"action": "remove", "start": "07:00"})).content == "Removed 1 event at 07:00."
    assert "No event starts at 07:00" in (await config(world, "event", {"action": "remove", "start": "07:00"})).content
    shown = await config(world, "show")
    description = shown.embeds[0]["description"]
    assert "Events (2):" in description and "16:00 for 90 min" in description and "07:00" not in description
    other = await config(world, "event", {"action": "list"}, guild=world.other)
    assert other.content == "No events are configured."


async def test_event_bad_inputs_get_one_sentence(world: World, backend: Backend) -> None:
    bad: list[dict[str, Any]] = [
        {"action": "add"},
        {"action": "add", "start": "25:00"},
        {"action": "add", "start": "7"},
        {"action": "add", "start": "07:00", "minutes": 0},
        {"action": "add", "start": "07:00", "minutes": 1441},
        {"action": "add", "start": "07:00", "days": "someday"},
        {"action": "add", "start": "07:00", "days": ","},
        {"action": "add", "start": "07:00", "channels": f"<#{world.general.id}>"},
        {"action": "add", "start": "07:00", "channels": f"<#{world.study1.id}> Study*"},
        {"action": "remove"},
    ]
    for options in bad:
        reply = await config(world, "event", options)
        assert reply.content and not reply.embeds, options
        assert not reply.content.startswith("Something went wrong"), (options, reply.content)
    async with backend.engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(t.events)) == 0


async def test_mentor_role_weekly_retention_and_show(world: World) -> None:
    # A role with View Server Insights is accepted as it is; one without it is set, with a warning
    # (Discord's developer policy expects it for member-level activity, which mentors see).
    insights = world.sb.add_role(
        world.guild, "insights", permissions=discord.Permissions(view_guild_insights=True).value
    )
    assert (await config(world, "mentor-role", {"role": insights})).content == (
        f"Mentors are now the members with <@&{insights.id}>."
    )
    assert (await config(world, "mentor-role", {"role": world.mentors})).content == (
        f"Mentors are now the members with <@&{world.mentors.id}>. Warning: this role lacks View Server "
        "Insights, which Discord expects for member-level activity."
    )
    assert (await config(world, "weekly", {})).content == "The weekly summary will be posted on Mondays at 00:00."
    assert (await config(world, "weekly", {"weekday": 4, "time": "18:30"})).content == (
        "The weekly summary will be posted on Fridays at 18:30."
    )
    assert "HH:MM" in (await config(world, "weekly", {"time": "noon"})).content
    kept = (await config(world, "retention", {"days": 90})).content
    assert re.fullmatch(
        r"Keeping 90 days: activity and joins recorded before \d{4}-\d\d-\d\d \d\d:\d\d UTC will be dropped "
        r"within the hour, and older data every hour after\.",
        kept,
    ), kept
    assert (await config(world, "retention", {"days": 0})).content == "All data is kept forever."
    assert "Retention must be" in (await config(world, "retention", {"days": -1})).content
    settings = await get_settings(world.bot.engine, world.guild.id)
    assert (settings.mentor_role_id, settings.weekly_weekday, settings.weekly_time, settings.retention_days) == (
        world.mentors.id,
        4,
        "18:30",
        0,
    )
    shown = await config(world, "show")
    assert shown.embeds[0]["description"].splitlines() == [
        "Timezone: UTC",
        "Report channel: not set",
        f"Mentor role: <@&{world.mentors.id}>",
        "Weekly report: Friday 18:30",
        "Retention: keep forever",
        "Rich Presence tracking: off",
        "Mentor digest: off",
        "Nudges: off",
        "Nudge text: the default",
        "Activity roles: 0 rules",
        "Events: none",
    ]


# Which /config commands re-plan which scheduled cogs (through the Bot's hooks).
REPLANS: list[tuple[str, dict[str, Any], set[Topic]]] = [
    ("timezone", {"tz": "Europe/Berlin"}, {"events", "weekly", "digest"}),
    ("weekly", {"weekday": 2, "time": "09:00"}, {"events", "weekly", "digest"}),
    ("event", {"action": "add", "start": "16:00"}, {"events", "weekly", "digest"}),
    ("event", {"action": "remove", "start": "16:00"}, {"events", "weekly", "digest"}),
    ("digest", {"state": "off"}, {"digest"}),
    ("nudges", {"state": "on"}, {"nudges"}),
    ("nudges", {"state": "off"}, set()),
    ("retention", {"days": 30}, set()),
]


async def test_config_commands_replan_the_cogs_they_concern(world: World) -> None:
    heard: list[tuple[Topic, int]] = []
    topics: tuple[Topic, ...] = ("events", "weekly", "digest", "nudges")

    def hearing(topic: Topic) -> Callable[[int], None]:
        return lambda guild_id: heard.append((topic, guild_id))

    for topic in topics:
        world.bot.hooks.add_replan(topic, hearing(topic))
    presence: list[tuple[int, bool]] = []
    world.bot.hooks.add_presence(lambda guild, enabled: presence.append((guild.id, enabled)))

    async def run(name: str, options: dict[str, Any]) -> None:
        # Not config(): the nudges reply quotes the DM and is longer than 200 characters.
        reply = await (
            await world.sb.invoke(world.guild, world.general, world.boss.user, f"config {name}", options)
        ).final()
        assert reply.ephemeral, name

    for name, options, expected in REPLANS:
        heard.clear()
        await run(name, options)
        assert set(heard) == {(t, world.guild.id) for t in expected}, name
    await run("presence", {"enabled": True})
    await run("presence", {"enabled": False})
    assert presence == [(world.guild.id, True), (world.guild.id, False)]
    heard.clear()
    await run("report-channel", {"channel": world.reports})
    assert set(heard) == {(t, world.guild.id) for t in ("events", "weekly", "digest")}
