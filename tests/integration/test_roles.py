"""Activity roles through the real bot: preview on a seeded history, apply through Discord's API, idempotent."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import cast

import discord
import pytest
import sqlalchemy as sa

from cogs.roles import ActivityRoles
from db import tables as t
from db.guilds import update_settings
from db.series import MESSAGES, VOICE
from sandbox import SandboxDiscord, SandboxGuild, SandboxRole
from tests.conftest import Backend
from tests.support.live import LiveBot, counted_and_flushed, live_bot

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)  # a Sunday
TODAY = NOW.replace(hour=0, minute=0)
EXTENSIONS = ("cogs.roles",)
MANAGE_ROLES = discord.Permissions(manage_roles=True).value
MANAGE_GUILD = discord.Permissions(manage_guild=True).value


def roles_cog(bot: LiveBot) -> ActivityRoles:
    """The loaded cog (discord.py loads extensions as fresh modules: no isinstance)."""
    cog = bot.get_cog("ActivityRoles")
    assert cog is not None and type(cog).__name__ == "ActivityRoles"
    return cast(ActivityRoles, cog)


def hour(days_ago: int, at: int = 10) -> int:
    """The epoch of an hour ``days_ago`` days before today."""
    return int((TODAY - timedelta(days=days_ago)).timestamp()) + at * 3600


def holders(guild: SandboxGuild, role: SandboxRole) -> set[int]:
    """Who holds a role in the sandbox."""
    return {u for u, m in guild.members.items() if role.id in m.role_ids}


# UTC: whole days from member_daily; Berlin: local days from the hourly rows (the same dates here).
@pytest.mark.parametrize(("zone", "event_start"), [("UTC", "20:00"), ("Europe/Berlin", "21:00")])
async def test_rules_preview_exactly_their_members_and_apply_idempotently_through_the_api(
    backend: Backend, zone: str, event_start: str
) -> None:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Roles Guild")
        general = sb.add_channel(guild, "general")
        hall = sb.add_channel(guild, "Hall", kind=discord.ChannelType.voice)
        active = sb.add_role(guild, "Active")
        voice_top = sb.add_role(guild, "Voice Top")
        regular = sb.add_role(guild, "Regular")
        mine = sb.add_role(guild, "StatsBot", permissions=MANAGE_ROLES)
        above = sb.add_role(guild, "Moderators")
        admin = sb.add_role(guild, "admin", permissions=MANAGE_GUILD)
        guild.members[sb.bot_user.id].role_ids.append(mine.id)
        names = ("alice", "bob", "carol", "dave", "erin")
        people = {n: sb.add_member(guild, n).user.id for n in names}  # ids grow in this order
        guild.members[people["carol"]].role_ids.append(active.id)
        guild.members[people["dave"]].role_ids.append(active.id)
        helper = sb.add_member(guild, "helper", bot=True, roles=[active])
        boss = sb.add_member(guild, "boss", roles=[admin])
        alice, bob, carol, dave, erin = (people[n] for n in names)

        # Rule "at least 10 messages in each of the last 5 weeks" reads days -34..0 in periods of 7:
        # alice: 10 in each; bob misses the third; dave's last one is today (hourly rows); carol
        # (who holds the role) nothing lately; erin meets it but opted out.
        increments: list[tuple[tuple[int | str, ...], int]] = []

        def messages(user: int, days_ago: int, count: int) -> None:
            increments.append(((MESSAGES.code, guild.id, hour(days_ago, 0 if days_ago == 0 else 10),
                                general.id, user, "messages"), count))  # fmt: skip

        def voice(user: int, days_ago: int, seconds: int) -> None:
            increments.append(((VOICE.code, guild.id, hour(days_ago, 8), hall.id, user, "active_s"), seconds))

        for week in range(5):
            messages(alice, 1 + 7 * week, 10)
            messages(erin, 1 + 7 * week, 10)
            if week != 2:
                messages(bob, 1 + 7 * week, 10)
            messages(dave, 7 * week, 10)
        messages(bob, 21, 9)  # nothing in days -20..-14: 9 more in the week before do not make up for it
        messages(carol, 40, 50)  # before the window
        # Top 2 by voice over 30 days: alice 100 min; bob and dave tie at 50 (the smaller id wins);
        # erin would lead but opted out; carol's 300 minutes are older than 30 days.
        voice(alice, 3, 6000)
        voice(bob, 10, 3000)
        voice(dave, 29, 3000)
        voice(erin, 2, 30000)
        voice(carol, 30, 18000)
        await counted_and_flushed(backend, NOW.timestamp(), increments)
        async with backend.engine.begin() as conn:
            await conn.execute(
                sa.insert(t.optouts).values(guild_id=guild.id, user_id=erin, mode="hide", created_at=NOW)
            )
            # A daily event at 20:00 UTC for 10 minutes in the hall: alice at two of them (20 min), bob at one.
            await conn.execute(
                sa.insert(t.events).values(
                    guild_id=guild.id,
                    start_time=event_start,
                    minutes=10,
                    days=0b1111111,
                    channels=json.dumps({"ids": [hall.id]}),
                )
            )
            sessions = [(alice, 2), (alice, 4), (bob, 4), (dave, 9)]
            await conn.execute(
                sa.insert(t.voice_sessions),
                [
                    {
                        "guild_id": guild.id,
                        "user_id": u,
                        "channel_id": hall.id,
                        "open": False,
                        "started_at": TODAY - timedelta(days=d) + timedelta(hours=19, minutes=55),
                        "ended_at": TODAY - timedelta(days=d) + timedelta(hours=20, minutes=15),
                    }
                    for u, d in sessions
                ],
            )
        await update_settings(backend.engine, guild.id, timezone=zone)

        async with live_bot(backend, sb, extensions=EXTENSIONS, clock=lambda: NOW.timestamp()) as bot:
            cog = roles_cog(bot)

            async def run(sub: str, options: dict[str, object], user: object = boss) -> str:
                reply = await (await sb.invoke(guild, general, user, f"roles {sub}", options)).final(timeout=15)  # type: ignore[arg-type]
                assert reply.ephemeral and not reply.embeds
                return reply.content

            # A role above the bot's highest role is refused with the reason, and nothing is saved.
            refused = await run(
                "add", {"role": above, "metric": "messages", "kind": "threshold", "value": 10, "days": 7}
            )
            assert "not below my highest role (StatsBot)" in refused and len(refused) <= 200
            assert "Manage Server" in await run("list", {}, user=people_member(sb, guild, alice))
            assert await run("list", {}) == "No activity role rules yet."
            bad = await run(
                "add", {"role": voice_top, "metric": "voice", "kind": "top", "value": 2, "days": 30, "weeks": 2}
            )
            assert "weeks only applies to threshold rules" in bad

            saved = await run(
                "add",
                {"role": active, "metric": "messages", "kind": "threshold", "value": 10, "days": 7, "weeks": 5},
            )
            assert saved.startswith("Rule #") and "at least 10 messages in each of the last 5 weeks" in saved
            rules = await backend_rules(backend, guild.id)
            assert len(rules) == 1
            active_rule = rules[0]
            again = await run("add", {"role": active, "metric": "messages", "kind": "threshold", "value": 1, "days": 1})
            assert "Active already has a rule" in again

            # The preview: exactly the members the rule selects, against who holds the role now.
            preview = await run("preview", {"rule": active_rule})
            assert f"Would gain it (1): <@{alice}>\n" in preview
            assert f"Would lose it (1): <@{carol}>\n" in preview
            assert preview.endswith("Keep it: 1.")  # dave; the bot helper is never counted or touched
            # Off until applied: the hourly pass leaves it alone.
            await asyncio.wait_for(cog.loop.run_once(), 30)
            assert sb.role_changes == []

            sb.rate_limit("PUT /guilds", times=1)  # discord.py waits the 429 out and retries
            applied = await run("apply", {"rule": active_rule})
            assert "1 gained it, 1 lost it" in applied and "Applied hourly" in applied
            changes = [(c.user_id, c.role_id, c.action) for c in sb.role_changes]
            assert changes == [(alice, active.id, "add"), (carol, active.id, "remove")]
            assert [r.status for r in sb.requests if r.method == "PUT" and "/roles/" in r.path] == [429, 204]
            assert all(c.reason and c.reason.startswith(f"Activity role rule #{active_rule}") for c in sb.role_changes)
            assert holders(guild, active) == {alice, dave, helper.user.id}
            await sb.barrier()

            # Applying again, on demand or hourly, changes nothing.
            assert "0 gained it, 0 lost it" in await run("apply", {"rule": active_rule})
            await asyncio.wait_for(cog.loop.run_once(), 30)
            assert len(sb.role_changes) == 2

            # A top rule and an event-minutes rule, previewed against hand-computed members.
            await run("add", {"role": voice_top, "metric": "voice", "kind": "top", "value": 2, "days": 30})
            await run("add", {"role": regular, "metric": "event_minutes", "kind": "threshold", "value": 15, "days": 7})
            by_role = {r_role: r_id for r_id, r_role in await backend_rule_roles(backend, guild.id)}
            top_preview = await run("preview", {"rule": by_role[voice_top.id]})
            assert f"Would gain it (2): <@{alice}> <@{bob}>\n" in top_preview
            event_preview = await run("preview", {"rule": by_role[regular.id]})
            assert f"Would gain it (1): <@{alice}>\n" in event_preview  # bob 10 min, dave's is 9 days ago
            listed = await run("list", {})
            assert listed.count("\n") == 2 and "applied hourly" in listed and "preview only" in listed

            # Apply them all; the hourly pass then keeps them as they are.
            result = await run("apply", {})
            assert "Rule #" in result and result.count("gained it") == 3
            await sb.barrier()
            assert holders(guild, voice_top) == {alice, bob} and holders(guild, regular) == {alice}
            made = len(sb.role_changes)
            await asyncio.wait_for(cog.loop.run_once(), 30)
            assert len(sb.role_changes) == made

            assert "no rule #999" in await run("preview", {"rule": 999})
            removed = await run("remove", {"rule": by_role[regular.id]})
            assert "removed" in removed and len(await backend_rules(backend, guild.id)) == 2


def people_member(sb: SandboxDiscord, guild: SandboxGuild, user_id: int) -> object:
    """The sandbox member of a user id."""
    return guild.members[user_id]


async def backend_rules(backend: Backend, guild_id: int) -> list[int]:
    """The guild's rule ids, oldest first."""
    r = t.role_rules
    async with backend.engine.connect() as conn:
        return [
            int(x)
            for x in (await conn.execute(sa.select(r.c.id).where(r.c.guild_id == guild_id).order_by(r.c.id))).scalars()
        ]


async def backend_rule_roles(backend: Backend, guild_id: int) -> list[tuple[int, int]]:
    """(rule id, role id) of the guild's rules."""
    r = t.role_rules
    async with backend.engine.connect() as conn:
        rows = (await conn.execute(sa.select(r.c.id, r.c.role_id).where(r.c.guild_id == guild_id))).all()
    return [(int(a), int(b)) for a, b in rows]
