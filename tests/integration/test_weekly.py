"""The weekly summary through the real bot: figures, absentees by name, posted once, on demand."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import discord
import pytest
import sqlalchemy as sa

from cogs import TRACKING_EXTENSIONS
from cogs.weekly import Weekly
from db import tables as t
from db.guilds import update_settings
from sandbox import SandboxDiscord, SandboxMember, StoredMessage
from tests.conftest import Backend
from tests.support.live import LiveBot, live_bot

pytestmark = pytest.mark.integration

EXTENSIONS = (*TRACKING_EXTENSIONS, "cogs.weekly")
# ISO week 2026-W47 in Berlin: Monday 16 Nov 00:00 CET to Monday 23 Nov 00:00 CET.
WEEK_START = datetime(2026, 11, 15, 23, tzinfo=UTC)
DUE = datetime(2026, 11, 22, 23, tzinfo=UTC)


def shown(member: SandboxMember) -> str:
    """The display name discord.py gives a sandbox member."""
    return member.nick or member.user.global_name or member.user.username


def weekly_cog(bot: LiveBot) -> Weekly:
    """The loaded cog (discord.py loads extensions as fresh modules: no isinstance)."""
    cog = bot.get_cog("Weekly")
    assert cog is not None and type(cog).__name__ == "Weekly"
    return cast(Weekly, cog)


async def run_pass(bot: LiveBot) -> None:
    """Let the posting loop run a whole pass at the current clock."""
    await asyncio.wait_for(weekly_cog(bot).loop.run_once(), 30)


def posted(sb: SandboxDiscord, channel_id: int) -> list[StoredMessage]:
    """What the bot posted in a channel, oldest first."""
    return sorted(sb.world.channel_messages(channel_id).values(), key=lambda m: m.id)


def fields(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed["fields"]}


async def history(backend: Backend, guild_id: int, channel_id: int, voice_id: int, ids: dict[str, int]) -> None:
    """Two weeks of messages and voice, a daily 07:00 event and who attended it, one opt-out."""
    alice, bob, erin = ids["alice"], ids["bob"], ids["erin"]
    w47, w46 = WEEK_START + timedelta(days=1, hours=10), WEEK_START - timedelta(days=5)
    msgs = [(w47, alice, 30), (w47, bob, 10), (w46, alice, 20), (w47, erin, 99)]
    voice = [(w47, bob, 3600), (w47, erin, 7200)]
    # Tuesday 17 Nov 07:00 CET is 06:00 UTC: alice stays all 10 minutes, bob 5 on Wednesday, erin opted out.
    tuesday, wednesday = datetime(2026, 11, 17, 6, tzinfo=UTC), datetime(2026, 11, 18, 6, tzinfo=UTC)
    sessions = [(alice, tuesday, 600), (bob, wednesday + timedelta(minutes=5), 300), (erin, tuesday, 600)]
    async with backend.engine.begin() as conn:
        await conn.execute(
            sa.insert(t.message_hourly),
            [
                {"guild_id": guild_id, "hour": h, "channel_id": channel_id, "user_id": u, "messages": n}
                for h, u, n in msgs
            ],
        )
        await conn.execute(
            sa.insert(t.voice_hourly),
            [
                {"guild_id": guild_id, "hour": h, "channel_id": voice_id, "user_id": u, "active_s": v}
                for h, u, v in voice
            ],
        )
        await conn.execute(
            sa.insert(t.voice_sessions),
            [
                {
                    "guild_id": guild_id,
                    "user_id": u,
                    "channel_id": voice_id,
                    "started_at": start,
                    "ended_at": start + timedelta(seconds=length),
                    "open": False,
                }
                for u, start, length in sessions
            ],
        )
        event = {
            "guild_id": guild_id,
            "start_time": "07:00",
            "minutes": 10,
            "days": 0b1111111,
            "channels": json.dumps({"ids": [voice_id]}),
        }
        event_id = (await conn.execute(sa.insert(t.events).values(**event).returning(t.events.c.id))).scalar_one()
        # As /config event writes it: configured since well before the weeks reported.
        await conn.execute(
            sa.insert(t.event_history).values(
                event_id=event_id, valid_from=WEEK_START - timedelta(days=30), valid_to=None, **event
            )
        )
        await conn.execute(
            sa.insert(t.optouts).values(guild_id=guild_id, user_id=erin, mode="hide", created_at=WEEK_START)
        )


async def test_the_weekly_summary_is_posted_once_at_the_weekly_time_and_on_demand(backend: Backend) -> None:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Weekly Guild")
        general = sb.add_channel(guild, "general")
        reports = sb.add_channel(guild, "reports")
        hall = sb.add_channel(guild, "Event Hall", kind=discord.ChannelType.voice)
        admin_role = sb.add_role(guild, "admin", permissions=discord.Permissions(manage_guild=True).value)
        # Members since before the weeks reported ("never present" counts members of the time only).
        since = WEEK_START - timedelta(days=60)
        people = {n: sb.add_member(guild, n, joined_at=since) for n in ("alice", "bob", "carol", "erin")}
        boss = sb.add_member(guild, "boss", roles=[admin_role], joined_at=since)
        await history(backend, guild.id, general.id, hall.id, {n: m.user.id for n, m in people.items()})
        await update_settings(backend.engine, guild.id, timezone="Europe/Berlin", report_channel_id=reports.id)
        now = [DUE.timestamp() + 30]
        async with live_bot(backend, sb, extensions=EXTENSIONS, clock=lambda: now[0]) as bot:
            await run_pass(bot)
            await run_pass(bot)
            messages = posted(sb, reports.id)
            assert len(messages) == 1
            post = messages[0]
            embed = post.embeds[0]
            assert "2026-W47" in embed["title"] and "<@" not in post.content
            got = fields(embed)
            figures = {k: got[k] for k in ("Messages", "Voice minutes", "Active members", "Event minutes")}
            assert figures == {"Messages": "40", "Voice minutes": "60", "Active members": "2", "Event minutes": "15"}
            assert "Messages: ▲ 100.0% vs last week" in embed["description"]
            assert got["Top by messages"] == f"1. {shown(people['alice'])} 30\n2. {shown(people['bob'])} 10"
            assert got["Top by voice"] == f"1. {shown(people['bob'])} 60 min"
            assert got["Event attendance"] == f"1. {shown(people['alice'])} 10 min\n2. {shown(people['bob'])} 5 min"
            # Everyone who was a member in the week but the attendees, the opted-out member and bots.
            attended = {people[n].user.id for n in ("alice", "bob", "erin")}
            absent = sorted(
                (
                    shown(m)
                    for m in guild.members.values()
                    if not m.user.bot and m.user.id not in attended and m.joined_at < DUE
                ),
                key=str.lower,
            )
            assert shown(people["carol"]) in absent and shown(boss) in absent
            never = {k: v for k, v in got.items() if k.startswith("Never")}
            assert never == {f"Never at an event ({len(absent)})": ", ".join(absent)}
            text = json.dumps(post.payload)
            assert shown(people["erin"]) not in text  # opted out: in no figure, list or name
            alt = post.files[0].description or ""
            assert "Weekly summary of Weekly Guild" in alt and shown(people["carol"]) in alt

            # On demand, the same week; bad input gets one short sentence.
            reply = await (await sb.invoke(guild, general, boss, "report weekly", {"week": "2026-W47"})).final()
            assert not reply.ephemeral and fields(reply.embeds[0]) == got
            default = await (await sb.invoke(guild, general, boss, "report weekly", {})).final()
            assert fields(default.embeds[0]) == got
            for user, options, words in (
                (people["alice"], {}, "Manage Server"),
                (boss, {"week": "2026-W60"}, "Week 60"),
                (boss, {"week": "last week"}, "2026-W47"),
                (boss, {"week": "2020-W01"}, "Nothing was recorded"),
                (boss, {"week": "2027-W10"}, "not started"),
            ):
                bad = await (await sb.invoke(guild, general, user, "report weekly", options)).final()
                assert bad.ephemeral and not bad.embeds and len(bad.content) <= 200, options
                assert words in bad.content, (options, bad.content)

        # Down over the next weekly time: posted once when back (W48 against W47), never twice.
        now[0] = (DUE + timedelta(days=9)).timestamp()
        for _ in range(2):
            async with live_bot(backend, sb, extensions=EXTENSIONS, clock=lambda: now[0]) as bot:
                await run_pass(bot)
        messages = posted(sb, reports.id)
        assert len(messages) == 2
        late = fields(messages[1].embeds[0])
        assert "2026-W48" in messages[1].embeds[0]["title"]
        assert late["Messages"] == "0" and late["Event minutes"] == "0"
        assert "Messages: ▼ 100.0% vs last week" in messages[1].embeds[0]["description"]
