"""The report commands through the real bot in the sandbox: figures, image, alt text, bad input, privacy, isolation."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import pytest
import sqlalchemy as sa
from PIL import Image

from bot.render.reports import SIZES
from cogs import TRACKING_EXTENSIONS
from db import privacy
from db import tables as t
from db.reports import Reports, Totals, split_period
from db.series import APPS, MESSAGES, VOICE, hour_of
from sandbox import SandboxDiscord
from sandbox.state import SandboxChannel, SandboxGuild, SandboxMember
from tests.conftest import Backend
from tests.support.live import LiveBot, flush, live_bot

pytestmark = pytest.mark.integration

REPORTS = (*TRACKING_EXTENSIONS, "cogs.stats", "cogs.top", "cogs.emoji_report", "cogs.invite_report")
APP_ID = 4242


@dataclass
class World:
    """Two guilds with activity; Alpha's figures are what the tests check."""

    sb: SandboxDiscord
    bot: LiveBot
    alpha: SandboxGuild
    beta: SandboxGuild
    general: SandboxChannel
    thread: SandboxChannel
    voice: SandboxChannel
    other: SandboxChannel
    alice: SandboxMember
    bob: SandboxMember
    carol: SandboxMember
    dave: SandboxMember


@pytest.fixture
async def world(backend: Backend) -> AsyncIterator[World]:
    async with SandboxDiscord() as sb:
        alpha = sb.add_guild("Alpha")
        general = sb.add_channel(alpha, "general")
        thread = sb.add_thread(general, "plans")
        voice = sb.add_channel(alpha, "lounge", kind=discord.ChannelType.voice)
        alice = sb.add_member(alpha, "alice")
        bob = sb.add_member(alpha, "bob")
        carol = sb.add_member(alpha, "carol")
        beta = sb.add_guild("Beta")
        other = sb.add_channel(beta, "elsewhere")
        dave = sb.add_member(beta, "dave")
        async with live_bot(backend, sb, extensions=REPORTS) as bot:
            w = World(sb, bot, alpha, beta, general, thread, voice, other, alice, bob, carol, dave)
            await seed(w, backend)
            yield w


async def seed(w: World, backend: Backend) -> None:
    """Alpha: alice 3 messages (two 🎉 in one), bob 1 in the thread and a 👍 reaction, voice and commands;
    carol (opted out afterwards) lots of everything. Beta: dave, far more than anyone in Alpha."""
    sb, bot = w.sb, w.bot
    first = await sb.send_message(w.general, w.alice, "hello 🎉🎉")
    await sb.send_message(w.general, w.alice, "second")
    await sb.send_message(w.general, w.alice, "third")
    await sb.send_message(w.thread, w.bob, "in the thread")
    await sb.add_reaction(w.general, first.id, w.bob, "👍")
    for _ in range(9):
        await sb.send_message(w.general, w.carol, "carol 🎉")
    for _ in range(40):
        await sb.send_message(w.other, w.dave, "beta 🎉")
    await sb.barrier()
    hour = hour_of(time.time())
    g, b = w.alpha.id, w.beta.id
    bot.counters.incr((VOICE.code, g, hour, w.voice.id, w.alice.user.id, "active_s"), 600)
    bot.counters.incr((VOICE.code, g, hour, w.voice.id, w.alice.user.id, "muted_s"), 120)
    bot.counters.incr((VOICE.code, g, hour, w.voice.id, w.bob.user.id, "alone_s"), 300)
    bot.counters.incr((VOICE.code, g, hour, w.voice.id, w.carol.user.id, "active_s"), 99_000)
    bot.counters.incr((VOICE.code, b, hour, w.other.id, w.dave.user.id, "active_s"), 50_000)
    bot.counters.incr((APPS.code, g, hour, w.general.id, w.bob.user.id, APP_ID, "roll", "count"), 2)
    bot.counters.incr((APPS.code, g, hour, w.general.id, w.carol.user.id, APP_ID, "roll", "count"), 30)
    bot.counters.incr((APPS.code, b, hour, w.other.id, w.dave.user.id, APP_ID, "roll", "count"), 70)
    await flush(bot)
    now = datetime.now(UTC)
    async with backend.engine.begin() as conn:
        await conn.execute(
            sa.insert(t.invites),
            [
                {
                    "guild_id": g,
                    "code": "alpha1",
                    "inviter_id": w.alice.user.id,
                    "created_at": now - timedelta(hours=3),
                },
                {
                    "guild_id": g,
                    "code": "carol1",
                    "inviter_id": w.carol.user.id,
                    "created_at": now - timedelta(hours=3),
                },
                {"guild_id": b, "code": "beta1", "inviter_id": w.dave.user.id, "created_at": now - timedelta(hours=3)},
            ],
        )
        joined = now - timedelta(hours=2)
        rows: list[dict[str, Any]] = [
            {
                "guild_id": g,
                "user_id": w.bob.user.id,
                "joined_at": joined,
                "invite_code": "alpha1",
                "inviter_id": w.alice.user.id,
            },
            {
                "guild_id": g,
                "user_id": 901,
                "joined_at": joined,
                "invite_code": "alpha1",
                "inviter_id": w.alice.user.id,
                "left_at": now - timedelta(hours=1),
            },
            {"guild_id": g, "user_id": 902, "joined_at": joined, "invite_code": "vanity", "inviter_id": None},
            {
                "guild_id": g,
                "user_id": 903,
                "joined_at": joined,
                "invite_code": "carol1",
                "inviter_id": w.carol.user.id,
            },
            *(
                {
                    "guild_id": b,
                    "user_id": 950 + i,
                    "joined_at": joined,
                    "invite_code": "beta1",
                    "inviter_id": w.dave.user.id,
                }
                for i in range(7)
            ),
        ]
        await conn.execute(sa.insert(t.member_joins), [{"left_at": None, **r} for r in rows])
        await conn.execute(
            sa.insert(t.optouts).values(guild_id=g, user_id=w.carol.user.id, mode="hide", created_at=now)
        )


def fields(reply: Any) -> dict[str, str]:
    assert len(reply.embeds) == 1, reply.content
    return {f["name"]: f["value"] for f in reply.embeds[0].get("fields", [])}


def check_image(reply: Any, kind: str) -> str:
    """The PNG is valid and of the kind's size; returns its alt text."""
    assert len(reply.files) == 1
    image = Image.open(io.BytesIO(reply.files[0].data))
    assert image.format == "PNG"
    if kind == "leaderboard":  # as tall as its rows
        assert image.size[0] == SIZES[kind][0]
    else:
        assert image.size == SIZES[kind]
    alt = reply.files[0].description
    assert alt
    return str(alt)


async def ask(
    w: World,
    user: SandboxMember,
    name: str,
    options: dict[str, Any] | None = None,
    guild: SandboxGuild | None = None,
    channel: SandboxChannel | None = None,
) -> Any:
    result = await w.sb.invoke(guild or w.alpha, channel or w.general, user, name, options or {})
    return await result.final()


def assert_short(reply: Any) -> None:
    assert reply.ephemeral and not reply.embeds and 0 < len(reply.content) <= 200, reply.content


async def test_stats_server(world: World) -> None:
    w = world
    reply = await ask(w, w.alice, "stats server", {"period": "7d"})
    assert fields(reply) == {
        "Messages": "4",
        "Voice minutes": "17",
        "Active members": "2",
        # Member growth (#13): four joins of this guild in the period, one of them left again.
        "Joins": "4",
        "Leaves": "1",
        "Net members": "3",
    }
    description = reply.embeds[0]["description"]
    assert f"1. <@{w.alice.user.id}> 3" in description and f"2. <@{w.bob.user.id}> 1" in description
    assert str(w.carol.user.id) not in description and str(w.dave.user.id) not in description
    alt = check_image(reply, "server")
    assert "Messages: 4." in alt and "Voice minutes: 17." in alt and "Active members: 2." in alt
    assert "carol" not in alt.lower() and "dave" not in alt.lower()
    narrowed = await ask(w, w.alice, "stats server", {"period": "24h", "channel": w.general})
    assert fields(narrowed)["Messages"] == "4"  # the thread counts with its channel


async def test_stats_user(world: World) -> None:
    w = world
    reply = await ask(w, w.bob, "stats user", {"member": w.alice, "period": "30d"})
    assert fields(reply) == {"Messages": "3", "Voice minutes": "12", "Rank": "1"}
    alt = check_image(reply, "user")
    assert "Messages: 3." in alt and "Voice minutes: 12." in alt
    own = await ask(w, w.bob, "stats user", {})
    assert fields(own) == {"Messages": "1", "Voice minutes": "5", "Rank": "2"}


async def test_stats_channel(world: World) -> None:
    w = world
    reply = await ask(w, w.alice, "stats channel", {"channel": w.general, "period": "7d"})
    assert fields(reply) == {"Messages": "4", "Voice minutes": "0", "Active members": "2"}
    assert "Messages: 4." in check_image(reply, "channel")
    voice = await ask(w, w.alice, "stats channel", {"channel": w.voice, "period": "365d"})
    assert fields(voice) == {"Messages": "0", "Voice minutes": "17", "Active members": "2"}


@pytest.mark.parametrize(
    ("metric", "lines", "total"),
    [
        ("messages", ["1. <@{alice}> 3", "2. <@{bob}> 1"], "4"),
        ("voice", ["1. <@{alice}> 12", "2. <@{bob}> 5"], "17"),
        ("emojis", ["1. <@{alice}> 2", "2. <@{bob}> 1"], "3"),
        ("invites", ["1. <@{alice}> 2"], "2"),
        ("commands", ["1. <@{bob}> 2"], "2"),
    ],
)
async def test_top(world: World, metric: str, lines: list[str], total: str) -> None:
    w = world
    reply = await ask(w, w.alice, "top", {"metric": metric, "period": "all", "limit": 5})
    ids = {"alice": w.alice.user.id, "bob": w.bob.user.id}
    assert reply.embeds[0]["description"].splitlines() == [line.format(**ids) for line in lines]
    assert list(fields(reply).values()) == [total]
    alt = check_image(reply, "leaderboard")
    assert "carol" not in alt.lower() and "dave" not in alt.lower()


async def test_emojis(world: World) -> None:
    w = world
    reply = await ask(w, w.alice, "emojis", {"period": "7d"})
    assert fields(reply) == {"Emojis in messages": "2", "Reactions added": "1", "Different emojis": "2"}
    alt = check_image(reply, "emojis")
    assert "Emojis in messages: 2. Reactions added: 1." in alt
    mine = await ask(w, w.alice, "emojis", {"period": "24h", "member": w.bob})
    assert fields(mine) == {"Emojis in messages": "0", "Reactions added": "1", "Different emojis": "1"}


async def test_invites(world: World) -> None:
    w = world
    reply = await ask(w, w.alice, "invites", {"period": "7d"})
    assert fields(reply) == {
        "Invites created": "1",
        "Joins": "3",
        "Joins by invite": "2",
        "Stayed": "1",
        "Vanity joins": "1",
        "Unknown joins": "0",
    }
    assert reply.embeds[0]["description"] == f"1. <@{w.alice.user.id}> 2"
    alt = check_image(reply, "invites")
    assert "Invites created: 1." in alt and "Stayed: 1." in alt


async def test_bad_inputs_get_one_short_sentence(world: World) -> None:
    w = world
    assert_short(await ask(w, w.alice, "top", {"metric": "messages", "limit": 26}))
    assert_short(await ask(w, w.alice, "top", {"metric": "messages", "limit": 0}))
    stranger = await ask(w, w.alice, "stats user", {"member": w.dave.user})
    assert_short(stranger)
    assert "not a member" in stranger.content
    quiet = w.sb.add_channel(w.alpha, "quiet")
    await w.sb.barrier()
    assert_short(await ask(w, w.alice, "stats channel", {"channel": quiet}))
    assert_short(await ask(w, w.alice, "stats server", {"channel": quiet}))
    assert_short(await ask(w, w.alice, "emojis", {"member": w.dave.user}))


async def test_opted_out_member(world: World) -> None:
    w = world
    own = await ask(w, w.carol, "stats user", {})
    assert_short(own)
    assert "opted out" in own.content
    asked = await ask(w, w.alice, "stats user", {"member": w.carol})
    assert_short(asked)
    assert "opted out" not in asked.content


async def test_guild_isolation(world: World) -> None:
    """Beta's figures never show in Alpha, whichever options are given, and the other way round."""
    w = world
    # Discord never resolves another guild's channel in an option; the queries are scoped anyway.
    reports = Reports(w.bot.engine)
    span = split_period(datetime(2020, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(hours=1))
    assert await reports.totals(w.alpha.id, span, [w.other.id]) == Totals(0, 0, 0)
    assert await reports.channel_info(w.alpha.id, [w.other.id]) == {}
    for metric in ("messages", "voice", "emojis", "invites", "commands"):
        reply = await ask(w, w.alice, "top", {"metric": metric, "period": "all", "limit": 25})
        assert str(w.dave.user.id) not in reply.embeds[0]["description"]
    inv = await ask(w, w.alice, "invites", {"period": "all"})
    assert fields(inv)["Joins"] == "3"
    dave = await ask(w, w.dave, "stats server", {"period": "all"}, guild=w.beta, channel=w.other)
    # Beta's own seven joins, none of alpha's four.
    assert fields(dave) == {
        "Messages": "40",
        "Voice minutes": "833",
        "Active members": "1",
        "Joins": "7",
        "Leaves": "0",
        "Net members": "7",
    }
    assert_short(await ask(w, w.dave, "stats user", {"member": w.alice.user}, guild=w.beta, channel=w.other))


async def test_reports_follow_late_counters_and_opt_outs(world: World) -> None:
    """Long-period answers are kept between commands, yet a write into past days or an opt-out shows at once."""
    w = world
    lines = ["1. <@{alice}> 3", "2. <@{bob}> 1"]
    ids = {"alice": w.alice.user.id, "bob": w.bob.user.id}

    async def top() -> list[str]:
        reply = await ask(w, w.alice, "top", {"metric": "messages", "period": "30d", "limit": 5})
        return list(reply.embeds[0]["description"].splitlines())

    assert await top() == [line.format(**ids) for line in lines]
    kept = w.bot.reports.snapshots
    assert kept is not None and len(kept) > 0
    # Counters of three days ago arrive late (as after a Redis outage, or backfill).
    three_days_ago = hour_of(time.time()) - 3 * 86_400
    w.bot.counters.incr((MESSAGES.code, w.alpha.id, three_days_ago, w.general.id, w.bob.user.id, "messages"), 10)
    await flush(w.bot)
    assert await top() == [f"1. <@{w.bob.user.id}> 11", f"2. <@{w.alice.user.id}> 3"]
    misses = kept.misses
    assert await top() == [f"1. <@{w.bob.user.id}> 11", f"2. <@{w.alice.user.id}> 3"]
    assert kept.misses == misses  # the second time from the snapshot
    await privacy.set_optout(w.bot.engine, w.alpha.id, w.bob.user.id, "hide", datetime.now(UTC))
    assert await top() == [f"1. <@{w.alice.user.id}> 3"]
    await privacy.remove_optout(w.bot.engine, w.alpha.id, w.bob.user.id)
    assert (await top())[0] == f"1. <@{w.bob.user.id}> 11"
