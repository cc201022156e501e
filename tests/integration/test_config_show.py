"""/config show through the real bot lists every setting: the mentor digest, nudges and activity roles too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import discord
import pytest

from db.roles import add_rule, enable_rules
from sandbox import InteractionReply, SandboxDiscord
from sandbox.state import SandboxChannel, SandboxGuild, SandboxMember
from tests.conftest import Backend
from tests.support.live import live_bot

pytestmark = pytest.mark.integration


async def run(
    sb: SandboxDiscord, guild: SandboxGuild, where: SandboxChannel, boss: SandboxMember, path: str, **options: Any
) -> InteractionReply:
    return await (await sb.invoke(guild, where, boss.user, f"config {path}", options)).final()


def shown_lines(reply: InteractionReply) -> dict[str, str]:
    """``/config show``'s lines as setting name -> value."""
    assert reply.ephemeral and reply.embeds
    lines = reply.embeds[0]["description"].splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line)


async def test_config_show_lists_digest_nudges_and_roles(backend: Backend) -> None:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Show Guild")
        general = sb.add_channel(guild, "general")
        mentors_channel = sb.add_channel(guild, "mentors")
        admin = sb.add_role(guild, "admin", permissions=discord.Permissions(manage_guild=True).value)
        mentor = sb.add_role(guild, "mentor")
        regular = sb.add_role(guild, "regular")
        boss = sb.add_member(guild, "boss", roles=[admin])
        async with live_bot(backend, sb, extensions=("cogs.config",)):
            defaults = shown_lines(await run(sb, guild, general, boss, "show"))
            assert defaults["Mentor digest"] == "off"
            assert defaults["Nudges"] == "off"
            assert defaults["Nudge text"] == "the default"
            assert defaults["Activity roles"] == "0 rules"
            for name in ("Timezone", "Report channel", "Mentor role", "Weekly report", "Retention"):
                assert name in defaults, name

            await run(sb, guild, general, boss, "mentor-role", role=mentor)
            await run(sb, guild, general, boss, "weekly", weekday=2, time="18:30")
            digest = await run(sb, guild, general, boss, "digest", state="on")
            assert "DM" in digest.content
            dm = shown_lines(await run(sb, guild, general, boss, "show"))
            assert dm["Mentor digest"] == f"on, by DM to each mentor (<@&{mentor.id}>) on Wednesdays 18:30"

            await run(sb, guild, general, boss, "digest", state="on", channel=mentors_channel)
            text = "Hi {member}, we miss you in {guild}!"
            await run(sb, guild, general, boss, "nudges", state="on", after_days=10, interval_days=21, text=text)
            now = datetime(2026, 12, 1, tzinfo=UTC)
            rule = await add_rule(
                backend.engine, guild.id, regular.id, metric="messages", kind="threshold", value=10, days=7,
                weeks=None, now=now,
            )  # fmt: skip
            await add_rule(
                backend.engine, guild.id, mentor.id, metric="voice", kind="top", value=3, days=30, weeks=None, now=now
            )
            assert rule is not None
            await enable_rules(backend.engine, guild.id, [rule.id])
            on = shown_lines(await run(sb, guild, general, boss, "show"))
            assert on["Mentor digest"] == f"on, posted in <#{mentors_channel.id}> on Wednesdays 18:30"
            assert on["Nudges"] == (
                "on: when drop-off risk becomes high or, regular before, silent 10 days; at most once in 21 days"
            )
            assert on["Nudge text"] == f"“{text}”"
            assert on["Activity roles"] == "2 rules, 1 applied"
