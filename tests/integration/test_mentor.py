"""/mentor card and /mentor watchlist on the real bot, both backends, with history written straight into the tables."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import discord
import numpy as np
import pytest
import sqlalchemy as sa

from bot.analytics import (
    activity_points,
    assess_guild,
    current_streak,
    engagement_scores,
    longest_streak,
)
from bot.analytics.periods import Period, parse_period, parse_timezone
from bot.reports.mentor import Window, risk_window
from cogs import TRACKING_EXTENSIONS
from db import tables as t
from db.guilds import update_settings
from db.mentor import MentorData
from db.reports import Snapshots
from db.series import MESSAGES
from sandbox import SandboxDiscord
from tests.conftest import Backend
from tests.support.live import counted_and_flushed, live_bot

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
TODAY = NOW.replace(hour=0, minute=0)
WINDOW = 42  # days the watchlist and the card's risk read
PERIOD = 30
EXTENSIONS = (*TRACKING_EXTENSIONS, "cogs.mentor")


def clock() -> float:
    """The bot's fixed time."""
    return NOW.timestamp()


@dataclass
class History:
    """Daily messages and active voice seconds of one member over the window, oldest first, today last."""

    user_id: int
    messages: list[int]
    voice_s: list[int]


def pattern(active_days: Iterable[int], messages: int = 3, voice_s: int = 0) -> tuple[list[int], list[int]]:
    """Per-day lists with activity on the given day offsets (0 = today, 1 = yesterday, …)."""
    days = set(active_days)
    msgs = [messages if WINDOW - 1 - i in days else 0 for i in range(WINDOW)]
    voice = [voice_s if WINDOW - 1 - i in days else 0 for i in range(WINDOW)]
    return msgs, voice


async def write_history(backend: Backend, guild_id: int, channel_id: int, histories: list[History]) -> None:
    """Hourly rows (10:00 messages, 08:00 voice) and the matching member_daily rows, plus an old join."""
    hourly_msg, hourly_voice, daily, joins = [], [], [], []
    for h in histories:
        joins.append(
            {
                "guild_id": guild_id,
                "user_id": h.user_id,
                "joined_at": TODAY - timedelta(days=200),
                "invite_code": "unknown",
            }
        )
        for i, (m, v) in enumerate(zip(h.messages, h.voice_s, strict=True)):
            day = TODAY - timedelta(days=WINDOW - 1 - i)
            if m:
                hourly_msg.append(
                    {"guild_id": guild_id, "hour": day + timedelta(hours=10), "channel_id": channel_id}
                    | {"user_id": h.user_id, "messages": m, "characters": 10 * m}
                )
            if v:
                hourly_voice.append(
                    {"guild_id": guild_id, "hour": day + timedelta(hours=8), "channel_id": channel_id}
                    | {"user_id": h.user_id, "active_s": v}
                )
            if m or v:
                daily.append({"guild_id": guild_id, "day": day, "user_id": h.user_id, "messages": m, "active_s": v})
    async with backend.engine.begin() as conn:
        for table, rows in (
            (t.message_hourly, hourly_msg),
            (t.voice_hourly, hourly_voice),
            (t.member_daily, daily),
            (t.member_joins, joins),
        ):
            if rows:
                await conn.execute(sa.insert(table), rows)


async def opt_out(backend: Backend, guild_id: int, user_id: int) -> None:
    """Record an opt-out (``hide``) before the bot starts."""
    async with backend.engine.begin() as conn:
        await conn.execute(sa.insert(t.optouts).values(guild_id=guild_id, user_id=user_id, mode="hide", created_at=NOW))


def fields(embed: dict[str, object]) -> dict[str, str]:
    """The embed's fields by name."""
    raw = embed.get("fields") or []
    assert isinstance(raw, list)
    return {f["name"]: f["value"] for f in raw}


async def test_card_figures_match_the_analytics_and_permissions_hold(backend: Backend) -> None:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Mentor Guild")
        general = sb.add_channel(guild, "general")
        mentor_role = sb.add_role(guild, "mentors")
        manager_role = sb.add_role(guild, "managers", permissions=discord.Permissions(manage_guild=True).value)
        alice = sb.add_member(guild, "alice")
        bob = sb.add_member(guild, "bob")
        carol = sb.add_member(guild, "carol")
        mentor = sb.add_member(guild, "mentor", roles=[mentor_role])
        boss = sb.add_member(guild, "boss", roles=[manager_role])
        hidden = sb.add_member(guild, "hidden")
        outsider_guild = sb.add_guild("Elsewhere")
        stranger = sb.add_member(outsider_guild, "stranger")
        alice_msgs, alice_voice = pattern([d for d in range(WINDOW) if d % 7 != 3], messages=4, voice_s=1800)
        bob_msgs, bob_voice = pattern(range(12, WINDOW), messages=2)
        carol_msgs, carol_voice = pattern(range(0, WINDOW, 2), messages=1, voice_s=30)
        hidden_msgs, hidden_voice = pattern(range(WINDOW), messages=50)
        histories = [
            History(alice.user.id, alice_msgs, alice_voice),
            History(bob.user.id, bob_msgs, bob_voice),
            History(carol.user.id, carol_msgs, carol_voice),
            History(hidden.user.id, hidden_msgs, hidden_voice),
        ]
        await write_history(backend, guild.id, general.id, histories)
        await opt_out(backend, guild.id, hidden.user.id)
        await update_settings(backend.engine, guild.id, mentor_role_id=mentor_role.id)

        async with live_bot(backend, sb, extensions=EXTENSIONS, clock=clock):
            card = await (await sb.invoke(guild, general, mentor, "mentor card", {"member": alice})).final()
            # A member's drop-off risk is for the mentor only, unless shared with public:true.
            assert card.ephemeral and card.embeds, card.content
            shared = await (
                await sb.invoke(guild, general, mentor, "mentor card", {"member": alice, "public": True})
            ).final()
            assert not shared.ephemeral and fields(shared.embeds[0]) == fields(card.embeds[0])
            got = fields(card.embeds[0])

            # What the analytics say from the rows written (the opted-out member is not in the guild's standing).
            visible = histories[:3]
            msgs = np.array([h.messages for h in visible], dtype=float)
            voice = np.array([h.voice_s for h in visible], dtype=float)
            active = (msgs[0] > 0) | (voice[0] >= 60)
            recent = active[-PERIOD:]
            assert got["Messages"] == f"{int(msgs[0, -PERIOD:].sum()):,}"
            assert got["Voice minutes"] == f"{round(voice[0, -PERIOD:].sum() / 60):,}"
            assert got["Active days"] == str(int(recent.sum()))
            assert got["Current streak"] == str(current_streak(recent))
            assert got["Longest streak"] == str(longest_streak(recent))
            scores = engagement_scores(msgs[:, -PERIOD:], voice[:, -PERIOD:])
            assert got["Engagement"] == str(round(float(scores[0])))
            assert scores[0] == 100.0  # alice has the most points of the visible members
            risk = assess_guild(msgs, voice, [h.user_id for h in visible], [0, 0, 0])
            assert got["Risk"] == risk.assessment(0).level.word
            description = card.files[0].description or ""
            assert f"Engagement score: {got['Engagement']} of 100." in description
            assert f"Active days: {got['Active days']} of {PERIOD}." in description
            assert f"Drop-off risk: {got['Risk']}." in description
            assert activity_points(msgs[0, -7:], voice[0, -7:]).sum() > 0

            # Bob went silent 12 days ago after being active daily: high risk, on his card too.
            bob_card = await (await sb.invoke(guild, general, boss, "mentor card", {"member": bob})).final()
            bob_fields = fields(bob_card.embeds[0])
            assert bob_fields["Risk"] == "high"
            assert "none in the last 12 days" in bob_card.embeds[0]["description"]

            # A member opens their own card without the role, but nobody else's, nor the watchlist.
            own = await (await sb.invoke(guild, general, carol, "mentor card", {"member": carol})).final()
            assert own.embeds and own.ephemeral
            own_fields = fields(own.embeds[0])
            assert own_fields["Voice minutes"] == f"{round(voice[2, -PERIOD:].sum() / 60)}"
            # 30 s of voice a day does not make a day active: only her message days count.
            assert own_fields["Active days"] == str(int((msgs[2, -PERIOD:] > 0).sum()))
            denied = await (await sb.invoke(guild, general, carol, "mentor card", {"member": alice})).final()
            assert denied.ephemeral and not denied.embeds and len(denied.content) <= 200
            assert "mentor" in denied.content.lower()
            denied_list = await (await sb.invoke(guild, general, carol, "mentor watchlist", {})).final()
            assert denied_list.ephemeral and not denied_list.embeds and len(denied_list.content) <= 200

            # Opted out: the card says so, one short sentence.
            gone = await (await sb.invoke(guild, general, mentor, "mentor card", {"member": hidden})).final()
            assert gone.ephemeral and not gone.embeds and "opted out" in gone.content
            # Not a member of this guild, nothing recorded, bad period: one short sentence each.
            foreign = await (await sb.invoke(guild, general, mentor, "mentor card", {"member": stranger.user})).final()
            assert foreign.ephemeral and not foreign.embeds and "not a member" in foreign.content
            empty = await (await sb.invoke(guild, general, mentor, "mentor card", {"member": boss})).final()
            assert empty.ephemeral and not empty.embeds and "Nothing was recorded" in empty.content
            short = await (
                await sb.invoke(guild, general, mentor, "mentor card", {"member": bob, "period": "7d"})
            ).final()
            assert short.ephemeral and "Nothing was recorded" in short.content  # silent for 12 days

            # Mentor role and Manage Server both open the watchlist; the opted-out member never appears.
            for who in (mentor, boss):
                listed = await (await sb.invoke(guild, general, who, "mentor watchlist", {})).final()
                assert listed.ephemeral and listed.embeds
                text = listed.embeds[0]["description"]
                assert f"<@{bob.user.id}> — high: " in text
                assert str(hidden.user.id) not in text and str(alice.user.id) not in text


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata"])
async def test_watchlist_flags_the_fading_members_of_a_cohort(backend: Backend, tz: str) -> None:
    """UTC guilds read member_daily, other timezones the hourly rows: the same cohort gives the same list."""
    rng = np.random.default_rng(7)
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Cohort Guild")
        general = sb.add_channel(guild, "general")
        admin_role = sb.add_role(guild, "admin", permissions=discord.Permissions(manage_guild=True).value)
        boss = sb.add_member(guild, "boss", roles=[admin_role])
        steady = [sb.add_member(guild, f"steady{i}") for i in range(12)]
        fading = [sb.add_member(guild, f"fading{i}") for i in range(6)]
        fading_hidden = sb.add_member(guild, "fading-hidden")
        histories = []
        for member in steady:
            days = [d for d in range(WINDOW) if rng.random() < 0.85]
            histories.append(History(member.user.id, *pattern(days, messages=int(rng.integers(1, 9)))))
        for n, member in enumerate([*fading, fading_hidden]):
            silent = 10 + n  # active almost daily, then gone for 10 days or more
            days = [d for d in range(silent, WINDOW) if rng.random() < 0.9]
            histories.append(History(member.user.id, *pattern(days, messages=5, voice_s=900)))
        await write_history(backend, guild.id, general.id, histories)
        await opt_out(backend, guild.id, fading_hidden.user.id)
        await update_settings(backend.engine, guild.id, timezone=tz)

        async with live_bot(backend, sb, extensions=EXTENSIONS, clock=clock):
            reply = await (await sb.invoke(guild, general, boss, "mentor watchlist", {"period": "30d"})).final()
            assert reply.embeds and reply.ephemeral, reply.content
            lines = reply.embeds[0]["description"].splitlines()
            flagged = {int(line.split(">")[0].removeprefix("<@")) for line in lines}
            assert flagged == {m.user.id for m in fading}
            assert all(" — high: " in line for line in lines)
            # Ordered by risk, then the longest silent first.
            assert [int(line.split(">")[0].removeprefix("<@")) for line in lines] == [
                m.user.id for m in reversed(fading)
            ]
            assert fields(reply.embeds[0])["At risk"] == str(len(fading))


def random_histories(
    seed: int, users: range, *, share: float, most_messages: int, voice_steps: tuple[int, ...]
) -> list[History]:
    """Members active on about ``share`` of the window's days, each with a fixed daily amount (possibly none)."""
    rng = np.random.default_rng(seed)
    out = []
    for user in users:
        days = [d for d in range(WINDOW) if rng.random() < share]
        messages, voice_s = int(rng.integers(0, most_messages + 1)), int(rng.choice(voice_steps))
        out.append(History(user, *pattern(days, messages=messages, voice_s=voice_s)))
    return out


def thirty_days(tz: str) -> tuple[ZoneInfo, Period, Window]:
    """The zone, a ``30d`` period at NOW and the risk window it reads."""
    zone = parse_timezone(tz)
    period = parse_period("30d", NOW, zone)
    return zone, period, risk_window(period)


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata", "America/Santiago"])
async def test_kept_active_days_agree_with_a_fresh_read(backend: Backend, tz: str) -> None:
    """Active days from a snapshot of whole past UTC days plus the edges read now are what a fresh read gives."""
    guild_id, channel_id = 77, 1
    histories = random_histories(11, range(500, 530), share=0.5, most_messages=2, voice_steps=(0, 90))
    await write_history(backend, guild_id, channel_id, histories)
    zone, period, window = thirty_days(tz)
    snapshots = Snapshots()
    kept, fresh = MentorData(backend.engine, snapshots), MentorData(backend.engine)

    async def agree() -> None:
        a = await kept.active_days(guild_id, window.start, period.end, zone)
        b = await fresh.active_days(guild_id, window.start, period.end, zone)
        assert a.first_day == b.first_day
        assert a.member_ids.tolist() == b.member_ids.tolist()
        assert a.active.tolist() == b.active.tolist()

    await agree()
    misses = snapshots.misses
    await agree()
    assert snapshots.misses == misses
    # A late message on a day none of them was active: the kept sums are read again and show it.
    quiet = next(h for h in histories if h.messages[WINDOW - 6] == 0 and h.voice_s[WINDOW - 6] == 0)
    late_hour = int((TODAY - timedelta(days=5)).timestamp()) + 11 * 3600
    await counted_and_flushed(
        backend, NOW.timestamp(), [((MESSAGES.code, guild_id, late_hour, channel_id, quiet.user_id, "messages"), 1)]
    )
    await agree()
    assert snapshots.misses > misses or backend.name == "sqlite"


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata", "America/Santiago"])
async def test_kept_guild_days_agree_with_a_fresh_read(backend: Backend, tz: str) -> None:
    """The card's day matrices from a snapshot of whole past UTC days plus today read now are a fresh read's,
    including after a late write into a kept day and an opt-out."""
    guild_id, channel_id = 78, 1
    histories = random_histories(12, range(600, 640), share=0.4, most_messages=3, voice_steps=(0, 45, 90))
    await write_history(backend, guild_id, channel_id, histories)
    zone, period, window = thirty_days(tz)
    snapshots = Snapshots()
    kept, fresh = MentorData(backend.engine, snapshots), MentorData(backend.engine)

    async def agree() -> None:
        a = await kept.guild_days(guild_id, window.start, period.end, zone)
        b = await fresh.guild_days(guild_id, window.start, period.end, zone)
        assert a.first_day == b.first_day and a.days == b.days
        assert a.member_ids.tolist() == b.member_ids.tolist()
        assert a.messages.tolist() == b.messages.tolist()
        assert a.active_s.tolist() == b.active_s.tolist()

    await agree()
    misses = snapshots.misses
    await agree()
    assert snapshots.misses == misses
    # Every member with any activity is there, and the window's totals are the histories' (opted out: none yet).
    data = await kept.guild_days(guild_id, window.start, period.end, zone)
    active = {h.user_id for h in histories if any(h.messages) or any(h.voice_s)}
    assert set(data.member_ids.tolist()) == active
    assert data.messages.sum() == sum(sum(h.messages) for h in histories)
    # A late message into a kept day: read again, and shown.
    late = histories[0]
    late_hour = int((TODAY - timedelta(days=5)).timestamp()) + 11 * 3600
    await counted_and_flushed(
        backend, NOW.timestamp(), [((MESSAGES.code, guild_id, late_hour, channel_id, late.user_id, "messages"), 7)]
    )
    await agree()
    assert snapshots.misses > misses or backend.name == "sqlite"
    after = await kept.guild_days(guild_id, window.start, period.end, zone)
    assert after.messages.sum() == data.messages.sum() + 7
    # An opt-out leaves the member out of the kept path at once.
    await opt_out(backend, guild_id, late.user_id)
    await agree()
    gone = await kept.guild_days(guild_id, window.start, period.end, zone)
    assert late.user_id not in gone.member_ids.tolist()
