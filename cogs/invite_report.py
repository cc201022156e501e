"""/invites: invites created, joins attributed to each inviter, and how many of them stayed.

Stores nothing: it reads what the invite tracking cog recorded (db/reports/).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.analytics.periods import DEFAULT_PERIOD
from bot.commands.errors import NothingRecorded, UserError
from bot.commands.options import image_cooldown, period_choices
from bot.commands.permissions import member_of
from bot.commands.replies import leaderboard_lines, report_embed, send_report
from bot.render import models
from bot.render.alt import alt_invites
from bot.reports.builders import check_options, read_span, render_period
from bot.reports.context import guild_period, member_names, with_coverage
from db.privacy import is_opted_out

if TYPE_CHECKING:
    from bot.app import StatsBot

SHOWN = 15


class InviteReport(commands.Cog):
    """The /invites report."""

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot

    @app_commands.command(name="invites", description="Invites, joins by inviter and how many stayed")
    @app_commands.describe(member="Only this inviter", period="Time span (default 7d)")
    @app_commands.choices(period=period_choices())
    @app_commands.guild_only()
    @image_cooldown
    async def invites(
        self, interaction: discord.Interaction, member: discord.User | None = None, period: str = DEFAULT_PERIOD
    ) -> None:
        """Invites, joins by inviter and how many stayed."""
        caller = member_of(interaction)
        check_options(period)
        guild = caller.guild
        target = None if member is None else guild.get_member(member.id)
        if member is not None and target is None:
            raise UserError("That user is not a member of this server.")
        if target is not None and await is_opted_out(self.bot.engine, guild.id, target.id):
            raise NothingRecorded(f"No invites were recorded for {target.display_name} in this period.")
        span_period = await guild_period(self.bot, guild.id, period)
        figures = await self.bot.reports.invites(
            guild.id, read_span(span_period), None if target is None else target.id
        )
        if not figures.inviters and not figures.vanity_joins and not figures.unknown_joins:
            who = f"for {target.display_name}" if target is not None else "in this server"
            raise NothingRecorded(f"No invites or joins were recorded {who} in this period.")
        await interaction.response.defer(thinking=True)
        rows = figures.inviters
        names = await member_names(self.bot, guild, (r.inviter_id for r in rows[:SHOWN]))
        model = models.InviteReport(
            guild_name=guild.name,
            period=render_period(span_period),
            inviters=tuple(
                models.InviterRow(names[r.inviter_id], r.invites, r.joins, r.stayed, r.inviter_id) for r in rows[:SHOWN]
            ),
            vanity_joins=figures.vanity_joins,
            unknown_joins=figures.unknown_joins,
            member_name=None if target is None else target.display_name,
        )
        attributed = sum(r.joins for r in rows)
        embed = report_embed(
            "Invites" + (f" · {target.display_name}" if target is not None else ""),
            {
                "Invites created": sum(r.invites for r in rows),
                "Joins": attributed + figures.vanity_joins + figures.unknown_joins,
                "Joins by invite": attributed,
                "Stayed": sum(r.stayed for r in rows),
                "Vanity joins": figures.vanity_joins,
                "Unknown joins": figures.unknown_joins,
            },
            description=leaderboard_lines([(r.inviter_id, r.joins) for r in rows if r.joins][:SHOWN]) or None,
            footer=await with_coverage(self.bot, guild.id, span_period, model.period.describe()),
        )
        await send_report(self.bot, interaction, kind="invites", model=model, alt=alt_invites(model), embed=embed)


async def setup(bot: StatsBot) -> None:
    """Load the cog."""
    await bot.add_cog(InviteReport(bot))
