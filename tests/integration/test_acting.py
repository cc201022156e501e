"""Acting on activity through the real bot: the weekly mentor digest and nudges, on a seeded cohort."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import discord
import pytest
import sqlalchemy as sa

from cogs.digest import MentorDigest
from cogs.nudges import Nudges
from db import tables as t
from db.guilds import update_settings
from db.nudges import nudge_count
from db.series import MESSAGES
from sandbox import SandboxChannel, SandboxDiscord, SandboxGuild, SandboxMember
from tests.conftest import Backend
from tests.support.live import LiveBot, counted_and_flushed, live_bot

pytestmark = pytest.mark.integration

# Monday 23 Nov 2026, just after the default weekly time (Monday 00:00, UTC guild).
DUE = datetime(2026, 11, 23, tzinfo=UTC)
NOW = DUE + timedelta(seconds=30)
MANAGE_GUILD = discord.Permissions(manage_guild=True).value
FADING = range(12, 42)  # active every day from 41 to 12 days ago, silent since: high risk
STEADY = range(1, 42)  # active every day up to yesterday: low risk


class Cohort:
    """A guild with a seeded history: who fades, who stays, who may never appear or be nudged."""

    def __init__(self, sb: SandboxDiscord) -> None:
        self.guild: SandboxGuild = sb.add_guild("Acting Guild")
        self.general: SandboxChannel = sb.add_channel(self.guild, "general")
        self.mentors_channel: SandboxChannel = sb.add_channel(self.guild, "mentors")
        self.mentor_role = sb.add_role(self.guild, "Mentors")
        admin = sb.add_role(self.guild, "admin", permissions=MANAGE_GUILD)
        names = ("fading", "steady", "optedout", "quiet", "closed")
        self.people: dict[str, SandboxMember] = {n: sb.add_member(self.guild, n) for n in names}
        self.people["botty"] = sb.add_member(self.guild, "botty", bot=True)
        self.mentor = sb.add_member(self.guild, "mentor", roles=[self.mentor_role])
        self.shy_mentor = sb.add_member(self.guild, "shymentor", roles=[self.mentor_role])
        self.boss = sb.add_member(self.guild, "boss", roles=[admin])
        sb.close_dms(self.people["closed"])
        sb.close_dms(self.shy_mentor)

    def id(self, name: str) -> int:
        return self.people[name].user.id

    async def seed(self, backend: Backend) -> None:
        """One message a day at 10:00 UTC on each member's active days; joins long ago; one opt-out."""
        patterns = {"fading": FADING, "steady": STEADY, "optedout": FADING, "quiet": FADING, "closed": FADING}
        patterns["botty"] = FADING  # bots are never recorded; as if one were, it must never appear
        today = int(DUE.timestamp())
        increments = [
            ((MESSAGES.code, self.guild.id, today - d * 86400 + 36000, self.general.id, self.id(n), "messages"), 1)
            for n, days in patterns.items()
            for d in days
        ]
        await counted_and_flushed(backend, NOW.timestamp(), increments)
        async with backend.engine.begin() as conn:
            await conn.execute(
                sa.insert(t.member_joins),
                [
                    {"guild_id": self.guild.id, "user_id": m.user.id, "joined_at": DUE - timedelta(days=200),
                     "invite_code": "unknown"}
                    for m in self.guild.members.values()
                ],
            )  # fmt: skip
            await conn.execute(
                sa.insert(t.optouts).values(
                    guild_id=self.guild.id, user_id=self.id("optedout"), mode="hide", created_at=DUE
                )
            )
        await update_settings(backend.engine, self.guild.id, timezone="UTC", mentor_role_id=self.mentor_role.id)


def cog(bot: LiveBot, name: str) -> Any:
    """A loaded cog by name (discord.py loads extensions as fresh modules: no isinstance)."""
    found = bot.get_cog(name)
    assert found is not None and type(found).__name__ == name
    return found


async def invoke(sb: SandboxDiscord, c: Cohort, user: SandboxMember, name: str, options: dict[str, object]) -> str:
    """Run a command and return its (ephemeral, embed-less) answer."""
    reply = await (await sb.invoke(c.guild, c.general, user, name, options)).final(timeout=15)  # type: ignore[arg-type]
    assert reply.ephemeral and not reply.embeds and len(reply.content) <= 2000
    return reply.content


async def test_the_mentor_digest_goes_out_once_a_week_across_restarts_and_two_processes(backend: Backend) -> None:
    now = [NOW.timestamp()]
    extensions = ("cogs.config", "cogs.digest")
    async with SandboxDiscord() as sb:
        c = Cohort(sb)
        await c.seed(backend)

        async def run_pass(bot: LiveBot) -> None:
            await asyncio.wait_for(cog(bot, "MentorDigest").loop.run_once(), 30)

        async with live_bot(backend, sb, extensions=extensions, clock=lambda: now[0]) as bot:
            await run_pass(bot)
            assert sb.dms_to(c.mentor) == []  # off by default
            bad = await invoke(sb, c, c.people["steady"], "config digest", {"state": "on"})
            assert "Manage Server" in bad
            answer = await invoke(sb, c, c.boss, "config digest", {"state": "on"})
            assert "by DM" in answer and "Mondays at 00:00" in answer
            await run_pass(bot)
            await run_pass(bot)
            [dm] = sb.dms_to(c.mentor)
            embed = dm.embeds[0]
            assert embed["title"] == "Mentor digest · Acting Guild · 2026-W47"
            lines = embed["description"].splitlines()
            flagged = {int(line.split(">")[0].removeprefix("<@")) for line in lines}
            # The fading members, each with the reason; never the steady, opted-out or bot member.
            assert flagged == {c.id("fading"), c.id("quiet"), c.id("closed")}
            assert all(" — high: usually active about 7 of 7 days, none in the last 12 days" in x for x in lines)
            assert {f["name"]: f["value"] for f in embed["fields"]} == {"At risk": "3", "High": "3", "Medium": "0"}
            assert sb.refused_dms == [c.shy_mentor.user.id]  # closed DMs: skipped, the others still get it

        async with live_bot(backend, sb, extensions=extensions, clock=lambda: now[0]) as bot:
            await run_pass(bot)  # after a restart: not again
            assert len(sb.dms_to(c.mentor)) == 1

            # A week later, two schedulers (two processes) race: one digest.
            now[0] = (NOW + timedelta(days=7)).timestamp()
            other = MentorDigest(bot)
            moment = datetime.fromtimestamp(now[0], UTC)
            await asyncio.gather(other.post_due(moment), other.post_due(moment), run_pass(bot))
            digests = sb.dms_to(c.mentor)
            assert len(digests) == 2 and digests[1].embeds[0]["title"].endswith("2026-W48")

            # To a mentors' channel instead: posted there once, no DMs.
            answer = await invoke(sb, c, c.boss, "config digest", {"state": "on", "channel": c.mentors_channel})
            assert c.mentors_channel.name in answer or str(c.mentors_channel.id) in answer
            now[0] = (NOW + timedelta(days=14)).timestamp()
            await run_pass(bot)
            await run_pass(bot)
            posted = [m for m in sb.messages_in(c.mentors_channel) if m.embeds]
            assert len(posted) == 1 and posted[0].embeds[0]["title"].endswith("2026-W49")
            assert "<@" in posted[0].embeds[0]["description"] and len(sb.dms_to(c.mentor)) == 2
            async with backend.engine.connect() as conn:
                keys = await conn.execute(sa.select(t.posted_reports.c.key).where(t.posted_reports.c.kind == "digest"))
                assert sorted(keys.scalars()) == ["2026-W47", "2026-W48", "2026-W49"]


async def test_nudges_reach_the_fading_member_once_and_never_the_others(backend: Backend) -> None:
    now = [NOW.timestamp()]
    extensions = ("cogs.config", "cogs.privacy", "cogs.mentor", "cogs.nudges")
    async with SandboxDiscord() as sb:
        c = Cohort(sb)
        await c.seed(backend)

        async def run_pass(bot: LiveBot) -> None:
            await asyncio.wait_for(cast(Nudges, cog(bot, "Nudges")).loop.run_once(), 30)

        everyone = [*c.people.values(), c.mentor, c.shy_mentor, c.boss]
        async with live_bot(backend, sb, extensions=extensions, clock=lambda: now[0]) as bot:
            await run_pass(bot)
            assert all(sb.dms_to(m) == [] for m in everyone) and sb.refused_dms == []  # off by default
            off = await invoke(sb, c, c.people["quiet"], "privacy nudges", {"state": "off"})
            assert "never get a nudge" in off
            bad = await invoke(sb, c, c.boss, "config nudges", {"state": "on", "text": "Hi {name}!"})
            assert "Unknown placeholder {name}" in bad
            text = "Hey {member}, {guild} misses you after {days} days!"
            on = await invoke(sb, c, c.boss, "config nudges", {"state": "on", "text": text})
            assert "at most once in 14 days" in on and "misses you" in on
            await run_pass(bot)
            await run_pass(bot)
            fading = c.people["fading"]
            [dm] = sb.dms_to(fading)
            assert dm.content == "Hey Fading, Acting Guild misses you after 12 days!"
            [row] = dm.payload["components"]
            [button] = row["components"]
            assert button["custom_id"] == f"nudges-off:{c.guild.id}"
            assert all(sb.dms_to(m) == [] for m in everyone if m is not fading)
            # Closed DMs: refused once, recorded once, not retried by the second pass.
            assert sb.refused_dms == [c.id("closed")]
            assert await nudge_count(backend.engine, c.guild.id, c.id("closed")) == {"refused": 1}
            assert await nudge_count(backend.engine, c.guild.id) == {"refused": 1, "sent": 1}

            # The mentor card shows it.
            card = await (await sb.invoke(c.guild, c.general, c.mentor, "mentor card", {"member": fading})).final(30)
            assert "Nudged today." in card.embeds[0]["description"]

        # A day later, after a restart: the interval holds, nobody is nudged again.
        now[0] = (NOW + timedelta(days=1)).timestamp()
        async with live_bot(backend, sb, extensions=extensions, clock=lambda: now[0]) as bot:
            await run_pass(bot)
            assert len(sb.dms_to(c.people["fading"])) == 1 and sb.refused_dms == [c.id("closed")]
            card = await (
                await sb.invoke(c.guild, c.general, c.mentor, "mentor card", {"member": c.people["fading"]})
            ).final(30)
            assert "Nudged 1 day ago." in card.embeds[0]["description"]

            # The button in the DM turns nudges off for that member.
            pressed = await sb.click(c.people["fading"], dm, f"nudges-off:{c.guild.id}")
            assert await pressed.responded(10) == 7  # the nudge is edited to say so
            async with backend.engine.connect() as conn:
                off_ids = (await conn.execute(sa.select(t.nudge_optouts.c.user_id))).scalars().all()
            assert sorted(off_ids) == sorted([c.id("quiet"), c.id("fading")])
