"""/emojis: the most used emojis, in messages and as reactions, of the server or one member.

Stores nothing: it reads what the emoji tracking cog recorded (db/reports/).
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
from bot.commands.replies import report_embed, send_report
from bot.render import models
from bot.render.alt import alt_emojis
from bot.reports.builders import check_options, read_span, render_period
from bot.reports.context import guild_period, with_coverage

if TYPE_CHECKING:
    from bot.app import StatsBot

SHOWN = 15


class EmojiReport(commands.Cog):
    """The /emojis report."""

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot

    @app_commands.command(name="emojis", description="Most used emojis, in messages and as reactions")
    @app_commands.describe(period="Time span (default 7d)", member="Only this member's emojis")
    @app_commands.choices(period=period_choices())
    @app_commands.guild_only()
    @image_cooldown
    async def emojis(
        self, interaction: discord.Interaction, period: str = DEFAULT_PERIOD, member: discord.User | None = None
    ) -> None:
        """Most used emojis, in messages and as reactions."""
        caller = member_of(interaction)
        check_options(period)
        guild = caller.guild
        target = None if member is None else guild.get_member(member.id)
        if member is not None and target is None:
            raise UserError("That user is not a member of this server.")
        span_period = await guild_period(self.bot, guild.id, period)
        uses = await self.bot.reports.emojis(
            guild.id, read_span(span_period), None if target is None else target.id, SHOWN
        )
        if not uses:
            who = f"by {target.display_name}" if target is not None else "in this server"
            raise NothingRecorded(f"No emojis were used {who} in this period.")
        await interaction.response.defer(thinking=True)
        model = models.EmojiReport(
            guild_name=guild.name,
            period=render_period(span_period),
            emojis=tuple(models.EmojiUse(u.emoji, u.message, u.reaction) for u in uses),
            member_name=None if target is None else target.display_name,
        )
        lines = "\n".join(f"{i}. {u.emoji} {u.message + u.reaction:,}" for i, u in enumerate(uses[:10], 1))
        embed = report_embed(
            "Most used emojis" + (f" · {target.display_name}" if target is not None else ""),
            {
                "Emojis in messages": sum(u.message for u in uses),
                "Reactions added": sum(u.reaction for u in uses),
                "Different emojis": len(uses),
            },
            description=lines,
            footer=await with_coverage(self.bot, guild.id, span_period, model.period.describe()),
        )
        await send_report(self.bot, interaction, kind="emojis", model=model, alt=alt_emojis(model), embed=embed)


async def setup(bot: StatsBot) -> None:
    """Load the cog."""
    await bot.add_cog(EmojiReport(bot))
