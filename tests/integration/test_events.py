"""Event-hour reports through the real bot: minutes per member, posted once, caught up after downtime."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import UTC, datetime
from typing import cast

import discord
import pytest
import sqlalchemy as sa

from cogs import TRACKING_EXTENSIONS
from cogs.events import Events
from db import tables as t
from db.guilds import update_settings
from sandbox import SandboxDiscord, SandboxGuild, SandboxMember, StoredMessage
from tests.conftest import Backend
from tests.support.live import LiveBot, live_bot

pytestmark = pytest.mark.integration

EXTENSIONS = (*TRACKING_EXTENSIONS, "cogs.events")
# Monday 23 Nov 2026, 07:00 in Berlin.
START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
T0 = int(START.timestamp())
MINUTES = 10
LINE = re.compile(r"^(.+) — (\d+) min$")


async def add_event(backend: Backend, guild_id: int, channels: dict[str, object], start: str = "07:00") -> int:
    """An events row as /config event writes it."""
    async with backend.engine.begin() as conn:
        result = await conn.execute(
            sa.insert(t.events).values(
                guild_id=guild_id, start_time=start, minutes=MINUTES, days=0b1111111, channels=json.dumps(channels)
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def posted(sb: SandboxDiscord, channel_id: int) -> list[StoredMessage]:
    """What the bot posted in a channel, oldest first."""
    return sorted(sb.world.channel_messages(channel_id).values(), key=lambda m: m.id)


def minutes_in(embed: dict[str, object]) -> dict[str, int]:
    """Minutes per member from the embed's lines."""
    out = {}
    for line in str(embed.get("description") or "").splitlines():
        match = LINE.match(line)
        assert match, line
        out[match.group(1)] = int(match.group(2))
    return out


def expected_minutes(timeline: list[tuple[int, str, str | None]], event_channels: set[str], end: int) -> dict[str, int]:
    """The 30-second rule computed second by second from what the test sent."""
    where: dict[str, str | None] = {}
    changes = sorted(timeline)
    seconds: dict[str, list[int]] = {}
    index = 0
    for second in range(-600, end - T0):
        while index < len(changes) and changes[index][0] <= second:
            _, who, channel = changes[index]
            where[who] = channel
            index += 1
        if second < 0:
            continue
        for who, channel in where.items():
            if channel in event_channels:
                row = seconds.setdefault(who, [0] * MINUTES)
                row[second // 60] += 1
    minutes = {who: sum(s >= 30 for s in row) for who, row in seconds.items()}
    return {who: m for who, m in minutes.items() if m}


def shown(member: SandboxMember) -> str:
    """The display name discord.py gives a sandbox member."""
    return member.nick or member.user.global_name or member.user.username


def guild_with_rooms(sb: SandboxDiscord) -> tuple[SandboxGuild, dict[str, int]]:
    guild = sb.add_guild("Event Guild")
    rooms = {
        "reports": sb.add_channel(guild, "reports").id,
        "Event Hall": sb.add_channel(guild, "Event Hall", kind=discord.ChannelType.voice).id,
        "Event Side": sb.add_channel(guild, "Event Side", kind=discord.ChannelType.voice).id,
        "Lounge": sb.add_channel(guild, "Lounge", kind=discord.ChannelType.voice).id,
        # Its name matches the pattern, but the AFK channel never counts.
        "Event AFK": sb.add_channel(guild, "Event AFK", kind=discord.ChannelType.voice, afk=True).id,
    }
    return guild, rooms


async def test_members_moving_through_an_event_get_the_minutes_the_30_second_rule_gives(backend: Backend) -> None:
    now = [float(T0 - 300)]
    async with SandboxDiscord() as sb:
        guild, rooms = guild_with_rooms(sb)
        names = ("alice", "bob", "carol", "dave", "erin")
        members = {n: sb.add_member(guild, n) for n in names}
        await update_settings(backend.engine, guild.id, timezone="Europe/Berlin", report_channel_id=rooms["reports"])
        await add_event(backend, guild.id, {"pattern": "event*"})
        # (seconds after the start, member, channel or None to leave)
        timeline: list[tuple[int, str, str | None]] = [
            (-120, "alice", "Event Hall"),  # spans the start
            (-60, "carol", "Lounge"),
            (20, "dave", "Event Hall"),
            (49, "dave", None),  # 29 s of minute 0: not present
            (90, "bob", "Event Hall"),  # muted, still present
            (130, "dave", "Event Hall"),
            (160, "dave", None),  # exactly 30 s of minute 2
            (245, "alice", None),
            (300, "carol", "Event Side"),
            (330, "erin", "Event Hall"),
            (345, "erin", "Lounge"),  # 15 s in an event channel …
            (350, "erin", "Event Side"),  # … plus 10 s: 25 s, not present
            (360, "erin", None),
            (400, "carol", "Event AFK"),
            (455, "carol", "Lounge"),
            (470, "carol", "Event Hall"),  # 10 + 20 s in minute 7 across two sessions: 20 s, not present
            (480, "bob", None),
            (490, "alice", "Event Side"),
            (500, "alice", "Lounge"),  # 10 s, then 20 s: exactly 30 s of minute 8 across two sessions
            (520, "alice", "Event Hall"),
            (575, "bob", "Event Hall"),  # 25 s of the last minute, stays past the end
        ]
        async with live_bot(backend, sb, extensions=EXTENSIONS, clock=lambda: now[0]) as bot:
            for offset, who, channel in timeline:
                now[0] = float(T0 + offset)
                target = None if channel is None else rooms[channel]
                await sb.voice_update(guild, members[who], target, self_mute=who == "bob", self_deaf=who == "bob")
                await sb.barrier()
            cog = events_cog(bot)
            now[0] = float(T0 + MINUTES * 60 + 30)
            await asyncio.wait_for(cog.loop.run_once(), 30)
            messages = posted(sb, rooms["reports"])
            assert len(messages) == 1
            report = messages[0]
            sent = expected_minutes(timeline, {"Event Hall", "Event Side"}, T0 + MINUTES * 60)
            expected = {shown(members[who]): m for who, m in sent.items()}
            assert minutes_in(report.embeds[0]) == expected
            assert sent == {"alice": 6, "bob": 7, "carol": 4, "dave": 1}
            assert "<@" not in report.content
            fields = {f["name"]: f["value"] for f in report.embeds[0]["fields"]}
            assert fields == {"Members present": str(len(expected)), "Member-minutes": str(sum(expected.values()))}
            alt = report.files[0].description or ""
            assert all(f"{who}: {m} min" in alt or f"{who} {m} min" in alt for who, m in expected.items()), alt
            assert report.embeds[0]["title"].endswith("Mon 23 Nov 2026 07:00")

            # On demand: the latest event by default, the same minutes; bad options get one sentence.
            general = rooms["reports"]
            reply = await (await sb.invoke(guild, general, members["carol"], "event report", {})).final()
            assert not reply.ephemeral and minutes_in(reply.embeds[0]) == expected
            by_day = await (
                await sb.invoke(
                    guild, general, members["carol"], "event report", {"date": "2026-11-23", "start": "07:00"}
                )
            ).final()
            assert minutes_in(by_day.embeds[0]) == expected
            for options, words in (
                ({"date": "2026-11-22"}, "Nobody attended"),
                ({"date": "23.11.2026"}, "YYYY-MM-DD"),
                ({"start": "25:00"}, "HH:MM"),
                ({"date": "2026-11-23", "start": "08:00"}, "No event"),
                ({"date": "2026-11-24"}, "No event"),  # not yet ended
            ):
                bad = await (await sb.invoke(guild, general, members["carol"], "event report", options)).final()
                assert bad.ephemeral and not bad.embeds and len(bad.content) <= 200, options
                assert words in bad.content, (options, bad.content)


async def write_sessions(backend: Backend, guild_id: int, rows: list[tuple[int, int, int, int]]) -> None:
    """voice_sessions rows (user, channel, start, end) as the voice tracker stores them."""
    async with backend.engine.begin() as conn:
        await conn.execute(
            sa.insert(t.voice_sessions),
            [
                {
                    "guild_id": guild_id,
                    "user_id": u,
                    "channel_id": c,
                    "started_at": datetime.fromtimestamp(s, UTC),
                    "ended_at": datetime.fromtimestamp(e, UTC),
                    "open": False,
                }
                for u, c, s, e in rows
            ],
        )


def events_cog(bot: LiveBot) -> Events:
    """The loaded cog (discord.py loads extensions as fresh modules: no isinstance)."""
    cog = bot.get_cog("Events")
    assert cog is not None and type(cog).__name__ == "Events"
    return cast(Events, cog)


async def run_pass(bot: LiveBot) -> None:
    """Let the posting loop run a whole pass at the current clock."""
    await asyncio.wait_for(events_cog(bot).loop.run_once(), 30)


async def test_reports_missed_while_down_are_posted_once_and_never_twice(backend: Backend) -> None:
    day = 86400
    async with SandboxDiscord() as sb:
        guild, rooms = guild_with_rooms(sb)
        alice = sb.add_member(guild, "alice")
        bob = sb.add_member(guild, "bob")
        hall = rooms["Event Hall"]
        await update_settings(backend.engine, guild.id, timezone="Europe/Berlin", report_channel_id=rooms["reports"])
        event_id = await add_event(backend, guild.id, {"ids": [hall, rooms["Event AFK"]]})
        # Attendance 9 days ago (beyond the catch-up window), 2 days ago and today, none yesterday.
        await write_sessions(
            backend,
            guild.id,
            [
                (alice.user.id, hall, T0 - 9 * day, T0 - 9 * day + 300),
                (alice.user.id, hall, T0 - 2 * day, T0 - 2 * day + 120),
                (bob.user.id, rooms["Event AFK"], T0 - 2 * day, T0 - 2 * day + 600),  # AFK never counts
                (bob.user.id, hall, T0, T0 + 600),
            ],
        )
        now = [float(T0 + day - 60)]  # the bot was down for days; the clock jumped past the events
        async with live_bot(backend, sb, extensions=EXTENSIONS, clock=lambda: now[0]) as bot:
            await run_pass(bot)
            await run_pass(bot)  # re-running the due check posts nothing new
            first = posted(sb, rooms["reports"])
            assert [minutes_in(m.embeds[0]) for m in first] == [{shown(alice): 2}, {shown(bob): 10}]

            # Two schedulers (two processes) racing for the next event: one post.
            now[0] = float(T0 + 2 * day - 60)
            await write_sessions(backend, guild.id, [(alice.user.id, hall, T0 + day, T0 + day + 600)])
            other = Events(bot)
            moment = datetime.fromtimestamp(now[0], UTC)
            await asyncio.gather(other.post_due(moment), other.post_due(moment), run_pass(bot))
            assert len(posted(sb, rooms["reports"])) == 3

        async with live_bot(backend, sb, extensions=EXTENSIONS, clock=lambda: now[0]) as bot:
            await run_pass(bot)  # after a restart: nothing is posted again
        assert len(posted(sb, rooms["reports"])) == 3
        async with backend.engine.connect() as conn:
            keys = (await conn.execute(sa.select(t.posted_reports.c.key, t.posted_reports.c.message_id))).all()
        assert sorted(k for k, m in keys if m is not None) == [
            f"2026-11-21T07:00+01:00#{event_id}",
            f"2026-11-23T07:00+01:00#{event_id}",
            f"2026-11-24T07:00+01:00#{event_id}",
        ]
        # The occurrences nobody attended are claimed too (nothing to post), none beyond the window.
        assert sorted(k for k, m in keys if m is None) == [
            f"2026-11-{d}T07:00+01:00#{event_id}" for d in (17, 18, 19, 20, 22)
        ]


async def test_without_a_report_channel_the_loop_warns_once_and_goes_on(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    async with SandboxDiscord() as sb:
        guild, rooms = guild_with_rooms(sb)
        alice = sb.add_member(guild, "alice")
        await update_settings(backend.engine, guild.id, timezone="Europe/Berlin")
        hall = rooms["Event Hall"]
        await add_event(backend, guild.id, {"pattern": "Event Hall"})
        await write_sessions(
            backend,
            guild.id,
            [
                (alice.user.id, hall, T0 - 86400, T0 - 86400 + 600),
                (alice.user.id, hall, T0, T0 + 600),
            ],
        )
        now = [float(T0 + 3600)]
        caplog.set_level(logging.WARNING, logger="bot.posts.posting")
        async with live_bot(backend, sb, extensions=EXTENSIONS, clock=lambda: now[0]) as bot:
            await run_pass(bot)
            await run_pass(bot)
            warnings = [
                r for r in caplog.records if r.name == "bot.posts.posting" and "no report channel" in r.getMessage()
            ]
            assert len(warnings) == 1
            assert not posted(sb, rooms["reports"])
            # Once a channel is set, the next events are posted.
            await update_settings(backend.engine, guild.id, report_channel_id=rooms["reports"])
            events_cog(bot).replan(guild.id)
            await write_sessions(backend, guild.id, [(alice.user.id, hall, T0 + 86400, T0 + 86400 + 600)])
            now[0] = float(T0 + 86400 + 3600)
            await run_pass(bot)
            assert [minutes_in(m.embeds[0]) for m in posted(sb, rooms["reports"])] == [{shown(alice): 10}]


async def test_a_failed_post_gives_its_claim_back_and_is_retried(backend: Backend) -> None:
    async with SandboxDiscord() as sb:
        guild, rooms = guild_with_rooms(sb)
        alice = sb.add_member(guild, "alice")
        hall = rooms["Event Hall"]
        await update_settings(backend.engine, guild.id, timezone="Europe/Berlin", report_channel_id=rooms["reports"])
        await add_event(backend, guild.id, {"ids": [hall]})
        await write_sessions(backend, guild.id, [(alice.user.id, hall, T0, T0 + 600)])
        now = [float(T0)]
        async with live_bot(backend, sb, extensions=EXTENSIONS, clock=lambda: now[0]) as bot:
            await run_pass(bot)
            # discord.py gives up after five 429s in a row: the post fails.
            sb.rate_limit(f"POST /channels/{rooms['reports']}/messages", times=5, retry_after=0.01)
            now[0] = float(T0 + 900)
            await run_pass(bot)
            async with backend.engine.connect() as conn:
                claims = (await conn.execute(sa.select(t.posted_reports.c.key))).scalars().all()
            assert not posted(sb, rooms["reports"])
            assert not [k for k in claims if k.startswith("2026-11-23T07:00+01:00")]
            await run_pass(bot)
            assert [minutes_in(m.embeds[0]) for m in posted(sb, rooms["reports"])] == [{shown(alice): 10}]
