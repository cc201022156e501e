"""/export through the real bot: exact CSV bytes per dataset, periods, gzip, permissions, opt-outs, guild isolation."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import discord
import pytest
import sqlalchemy as sa

import sandbox.interactions as sandbox_interactions
from db import tables as t
from sandbox import InteractionReply, SandboxDiscord
from sandbox.state import SandboxChannel, SandboxGuild, SandboxMember
from tests.conftest import Backend
from tests.support.live import LiveBot, live_bot

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 22, 18, 30, tzinfo=UTC)
RECENT = datetime(2026, 11, 22, 16, tzinfo=UTC)
OLDER = datetime(2026, 11, 10, 9, tzinfo=UTC)
ANCIENT = datetime(2025, 1, 5, 0, tzinfo=UTC)


@dataclass
class World:
    sb: SandboxDiscord
    bot: LiveBot
    guild: SandboxGuild
    general: SandboxChannel
    boss: SandboxMember
    alice: SandboxMember
    hidden: SandboxMember
    other: SandboxGuild


@pytest.fixture
async def world(backend: Backend) -> AsyncIterator[World]:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Export Guild", guild_id=100_000_000_000_000_001)
        other = sb.add_guild("Other Guild", guild_id=100_000_000_000_000_002)
        general = sb.add_channel(guild, "general", channel_id=200_000_000_000_000_001)
        admin = sb.add_role(guild, "admin", permissions=discord.Permissions(manage_guild=True).value)
        boss = sb.add_member(guild, sb.add_user("boss", user_id=300_000_000_000_000_009), roles=[admin])
        alice = sb.add_member(guild, sb.add_user("alice", user_id=300_000_000_000_000_001))
        hidden = sb.add_member(guild, sb.add_user("hidden", user_id=300_000_000_000_000_002))
        await seed(backend, guild.id, other.id, general.id, alice.user.id, hidden.user.id)
        async with live_bot(backend, sb, extensions=("cogs.export",), clock=NOW.timestamp) as bot:
            bot.optouts.add(guild.id, hidden.user.id)
            yield World(sb, bot, guild, general, boss, alice, hidden, other)


async def seed(backend: Backend, gid: int, other: int, ch: int, alice: int, hidden: int) -> None:
    rows: dict[sa.Table, list[dict[str, object]]] = {
        t.message_hourly: [
            {
                "hour": RECENT,
                "channel_id": ch,
                "user_id": alice,
                "messages": 3,
                "characters": 40,
                "attachments": 1,
                "replies": 0,
            },
            {
                "hour": OLDER,
                "channel_id": ch,
                "user_id": alice,
                "messages": 1,
                "characters": 2,
                "attachments": 0,
                "replies": 1,
            },
            {
                "hour": ANCIENT,
                "channel_id": ch,
                "user_id": alice,
                "messages": 7,
                "characters": 70,
                "attachments": 0,
                "replies": 0,
            },
            {
                "hour": RECENT,
                "channel_id": ch,
                "user_id": hidden,
                "messages": 9,
                "characters": 9,
                "attachments": 0,
                "replies": 0,
            },
        ],
        t.voice_hourly: [
            {
                "hour": RECENT,
                "channel_id": ch,
                "user_id": alice,
                "active_s": 600,
                "muted_s": 60,
                "deafened_s": 0,
                "alone_s": 30,
                "streaming_s": 5,
                "video_s": 0,
            },
        ],
        t.emoji_hourly: [
            {"hour": RECENT, "channel_id": ch, "user_id": alice, "emoji": "🎉", "kind": "message", "count": 2},
            {"hour": RECENT, "channel_id": ch, "user_id": alice, "emoji": "<:a,b:123>", "kind": "reaction", "count": 1},
        ],
        t.app_hourly: [
            {
                "hour": RECENT,
                "channel_id": ch,
                "user_id": alice,
                "application_id": 555,
                "command": "stats user",
                "count": 4,
            },
        ],
        t.member_joins: [
            {
                "user_id": alice,
                "joined_at": datetime(2026, 11, 21, 8, 15, 30, 123456, tzinfo=UTC),
                "invite_code": "abc",
                "inviter_id": hidden,
                "left_at": datetime(2026, 11, 22, 1, tzinfo=UTC),
            },
            {
                "user_id": 300_000_000_000_000_003,
                "joined_at": RECENT,
                "invite_code": "vanity",
                "inviter_id": None,
                "left_at": None,
            },
            {"user_id": hidden, "joined_at": RECENT, "invite_code": "unknown", "inviter_id": None, "left_at": None},
        ],
    }
    async with backend.engine.begin() as conn:
        for table, items in rows.items():
            await conn.execute(sa.insert(table), [{"guild_id": gid, **r} for r in items])
            await conn.execute(sa.insert(table), [{"guild_id": other, **r} for r in items])
        await conn.execute(sa.insert(t.optouts).values(guild_id=gid, user_id=hidden, mode="hide", created_at=NOW))


async def export(w: World, dataset: str, period: str = "7d", member: SandboxMember | None = None) -> InteractionReply:
    result = await w.sb.invoke(
        w.guild, w.general, (member or w.boss).user, "export", {"dataset": dataset, "period": period}
    )
    return await result.final()


EXPECTED = {
    "messages": "hour_utc,channel_id,user_id,messages,characters,attachments,replies\n"
    "2026-11-22T16:00:00+00:00,200000000000000001,300000000000000001,3,40,1,0\n",
    "voice": "hour_utc,channel_id,user_id,active_s,muted_s,deafened_s,alone_s,streaming_s,video_s\n"
    "2026-11-22T16:00:00+00:00,200000000000000001,300000000000000001,600,60,0,30,5,0\n",
    "apps": "hour_utc,channel_id,user_id,application_id,command,count\n"
    "2026-11-22T16:00:00+00:00,200000000000000001,300000000000000001,555,stats user,4\n",
    "invites": "joined_at_utc,user_id,invite_code,inviter_id,left_at_utc\n"
    "2026-11-21T08:15:30+00:00,300000000000000001,abc,,2026-11-22T01:00:00+00:00\n"
    "2026-11-22T16:00:00+00:00,300000000000000003,vanity,,\n",
}


async def test_every_dataset_is_exact_csv_without_opted_out_members_or_other_guilds(world: World) -> None:
    for dataset, expected in EXPECTED.items():
        period = "24h" if dataset != "invites" else "7d"
        reply = await export(world, dataset, period)
        rows = expected.count("\n") - 1
        assert reply.ephemeral
        assert reply.content == f"{dataset}: {rows} row{'s' if rows != 1 else ''} (the last {period})."
        (stored,) = reply.files
        assert stored.filename == f"{dataset}-{period}-2026-11-22.csv"
        assert stored.data.decode() == expected.replace("\n", "\r\n"), dataset
        assert reply.embeds[0]["fields"][0] == {"name": "Rows", "value": str(rows), "inline": True}
    emojis = (await export(world, "emojis", "24h")).files[0].data.decode().splitlines()
    assert emojis[0] == "hour_utc,channel_id,user_id,emoji,kind,count"
    assert sorted(emojis[1:]) == sorted(
        [
            '2026-11-22T16:00:00+00:00,200000000000000001,300000000000000001,"<:a,b:123>",reaction,1',
            "2026-11-22T16:00:00+00:00,200000000000000001,300000000000000001,🎉,message,2",
        ]
    )


async def test_periods_select_rows_by_hour(world: World) -> None:
    def hours(reply: InteractionReply) -> list[str]:
        return [line.split(",")[0] for line in reply.files[0].data.decode().splitlines()[1:]]

    assert hours(await export(world, "messages", "24h")) == ["2026-11-22T16:00:00+00:00"]
    assert hours(await export(world, "messages", "30d")) == ["2026-11-10T09:00:00+00:00", "2026-11-22T16:00:00+00:00"]
    assert hours(await export(world, "messages", "all"))[0] == "2025-01-05T00:00:00+00:00"
    empty = await export(world, "voice", "all")
    assert empty.files[0].data.decode().count("\n") == 2


async def test_gzip_when_over_the_attachment_limit(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = (await export(world, "messages", "all")).files[0].data
    monkeypatch.setattr(sandbox_interactions, "ATTACHMENT_SIZE_LIMIT", len(plain) - 1)
    reply = await export(world, "messages", "all")
    (stored,) = reply.files
    assert stored.filename.endswith(".csv.gz")
    assert gzip.decompress(stored.data) == plain
    monkeypatch.setattr(sandbox_interactions, "ATTACHMENT_SIZE_LIMIT", 20)
    too_big = await export(world, "messages", "all")
    assert too_big.ephemeral and not too_big.files and "too large" in too_big.content


async def test_manage_server_is_required_and_registered(world: World) -> None:
    denied = await export(world, "messages", member=world.alice)
    assert denied.ephemeral and not denied.embeds and not denied.files
    assert denied.content == "You need the Manage Server permission to use this command."
    (command,) = [c for c in world.sb.world.global_commands if c["name"] == "export"]
    assert int(command["default_member_permissions"]) == discord.Permissions(manage_guild=True).value
