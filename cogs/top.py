"""/top: members ranked by messages, voice, emojis, invites or commands over a period.

Stores nothing: it reads what the tracking cogs recorded (db/reports/).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.analytics.periods import DEFAULT_PERIOD
from bot.commands.errors import NothingRecorded
from bot.commands.options import image_cooldown, period_choices
from bot.commands.permissions import member_of
from bot.commands.replies import leaderboard_lines, report_embed, send_report
from bot.render import models
from bot.render.alt import alt_leaderboard
from bot.reports.builders import DEFAULT_LIMIT, TOP_METRICS, check_options, read_span, render_period
from bot.reports.context import guild_period, member_names, with_coverage

if TYPE_CHECKING:
    from bot.app import StatsBot


class Top(commands.Cog):
    """The /top leaderboard."""

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot

    @app_commands.command(name="top", description="Leaderboard of members by a metric")
    @app_commands.describe(
        metric="What to rank by", period="Time span (default 7d)", limit="How many members to list (1–25, default 10)"
    )
    @app_commands.choices(
        metric=[app_commands.Choice(name=m, value=m) for m in TOP_METRICS],
        period=period_choices(),
    )
    @app_commands.guild_only()
    @image_cooldown
    async def top(
        self,
        interaction: discord.Interaction,
        metric: str,
        period: str = DEFAULT_PERIOD,
        limit: app_commands.Range[int, 1, 25] = DEFAULT_LIMIT,  # LIMIT_RANGE, enforced by Discord
    ) -> None:
        """Leaderboard of members by a metric."""
        caller = member_of(interaction)
        check_options(period, metric, limit)
        guild = caller.guild
        span_period = await guild_period(self.bot, guild.id, period)
        rows = await self.bot.reports.top_members(guild.id, read_span(span_period), metric, limit)
        if not rows:
            raise NothingRecorded(f"Nobody has any {metric} recorded in this period.")
        await interaction.response.defer(thinking=True)
        title, unit, field = TOP_METRICS[metric]
        # Voice is stored in seconds and shown in whole minutes.
        values = [(u, round(v / 60) if metric == "voice" else v) for u, v in rows]
        names = await member_names(self.bot, guild, (u for u, _ in values))  # members who left: "Ana (left)"
        model = models.LeaderboardReport(
            guild_name=guild.name,
            period=render_period(span_period),
            metric=title,
            unit=unit,
            entries=tuple(models.RankedItem(names[u], v, u) for u, v in values),
        )
        embed = report_embed(
            f"Top {len(values)} by {metric}",
            {field: sum(v for _, v in values)},
            description=leaderboard_lines(values),
            footer=await with_coverage(self.bot, guild.id, span_period, model.period.describe()),
        )
        await send_report(
            self.bot, interaction, kind="leaderboard", model=model, alt=alt_leaderboard(model), embed=embed
        )


async def setup(bot: StatsBot) -> None:
    """Load the cog."""
    await bot.add_cog(Top(bot))
