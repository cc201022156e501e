"""/mentor card and /mentor watchlist: one member's engagement and drop-off risk, and who is drifting away.

Stores nothing: it reads what the tracking cogs recorded (db/mentor.py); the card
and the watchlist are composed in ``bot.reports.mentor`` (shared with the digest,
nudges and the dashboard) and the method is ``bot.analytics`` (activity.py, risk.py).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

import discord
from discord import app_commands
from discord.ext import commands

from bot.analytics.nudges import nudged_ago
from bot.commands.errors import NothingRecorded, UserError
from bot.commands.options import image_cooldown, period_choices
from bot.commands.permissions import is_mentor, member_of
from bot.commands.replies import EMBED_COLOUR, report_embed, send_report
from bot.render.alt import alt_mentor
from bot.reports.builders import check_options, render_period
from bot.reports.context import guild_period, with_coverage
from bot.reports.mentor import (
    assess,
    build_card,
    build_watchlist,
    card_figures,
    risk_window,
    watchlist_text,
)
from db.days import active_days_mask
from db.guilds import get_settings
from db.mentor import ActiveDays, MentorData
from db.nudges import last_sent
from db.privacy import is_opted_out

if TYPE_CHECKING:
    from bot.app import StatsBot

log = logging.getLogger(__name__)

PERIODS = period_choices()  # "Last 30 days" shown, 30d sent
DEFAULT_MENTOR_PERIOD: Final = "30d"
NOT_ALLOWED_CARD: Final = "Only mentors or members with Manage Server can open another member's card."
NOT_ALLOWED_WATCHLIST: Final = "Only mentors or members with Manage Server can open the watchlist."


class Mentor(commands.Cog):
    """The /mentor commands: a member's card and the drop-off watchlist."""

    mentor = app_commands.Group(name="mentor", description="Mentor cards and the drop-off watchlist", guild_only=True)

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot

    @property
    def data(self) -> MentorData:
        """Mentor reads on the bot's read engine: the replica when set (opened in ``setup_hook``)."""
        return MentorData(self.bot.read_engine, self.bot.reports.snapshots, self.bot.reports.days)

    @mentor.command(name="card", description="A member's activity, regularity, trend, engagement and drop-off risk")
    @app_commands.describe(
        member="Whose card",
        period="Time span (default 30d)",
        public="Show the card to the whole channel (default: only you see it)",
    )
    @app_commands.choices(period=PERIODS)
    @image_cooldown
    async def card(
        self,
        interaction: discord.Interaction,
        member: discord.User,
        period: str = DEFAULT_MENTOR_PERIOD,
        public: bool = False,
    ) -> None:
        """A member's activity, regularity, trend, engagement and drop-off risk."""
        caller = member_of(interaction)
        check_options(period)
        guild = caller.guild
        settings = await get_settings(self.bot.engine, guild.id)
        if member.id != caller.id and not is_mentor(caller, settings.mentor_role_id):
            raise UserError(NOT_ALLOWED_CARD)
        target = guild.get_member(member.id)
        if target is None:
            raise UserError("That user is not a member of this server.")
        if target.bot:
            raise UserError("Bots are not tracked.")
        if await is_opted_out(self.bot.engine, guild.id, target.id):
            if target.id == caller.id:
                raise UserError("You opted out, so nothing is recorded or shown about you; /privacy optin resumes it.")
            raise UserError(f"{target.display_name} opted out of tracking, so there is no card for them.")
        span = await guild_period(self.bot, guild.id, period)
        window = risk_window(span)
        hours = await self.data.member_hours(guild.id, target.id, window.start, span.end)
        inside = hours.epochs >= int(span.start.timestamp())
        if not (hours.messages[inside].any() or hours.active_s[inside].any()):
            raise NothingRecorded(f"Nothing was recorded for {target.display_name} in this period.")
        # A member's drop-off risk is for the mentor's eyes unless they choose to share it.
        await interaction.response.defer(thinking=True, ephemeral=not public)
        data = await self.data.guild_days(guild.id, window.start, span.end, span.tz)
        joins = await self.data.membership(guild.id)
        active = ActiveDays(data.first_day, data.member_ids, active_days_mask(data.messages, data.active_s))
        risk = assess(active, joins.first_joined, span)
        model = build_card(
            guild_name=guild.name,
            display_name=target.display_name,
            user_id=target.id,
            period=span,
            data=data,
            hours=hours,
            period_days=window.period_days,
            risk=risk,
            joined=joins.first_joined.get(target.id) or target.joined_at,
        )
        nudged = await last_sent(self.bot.engine, guild.id, target.id)
        nudge_line = "" if nudged is None else f"\n{nudged_ago(nudged, span.end).capitalize()}."
        embed = report_embed(
            f"Mentor card · {target.display_name}",
            card_figures(model),
            description=f"**Risk {model.risk}**: {model.risk_reason}{nudge_line}",
            footer=await with_coverage(self.bot, guild.id, span, model.period.describe()),
        )
        await send_report(
            self.bot, interaction, kind="mentor", model=model, alt=alt_mentor(model), embed=embed, ephemeral=not public
        )

    @mentor.command(name="watchlist", description="Members at risk of dropping off, with the reason")
    @app_commands.describe(period="Time span to look back over (default 30d; risk always looks at 42 days or more)")
    @app_commands.choices(period=PERIODS)
    async def watchlist(self, interaction: discord.Interaction, period: str = DEFAULT_MENTOR_PERIOD) -> None:
        """Members at risk of dropping off, with the reason."""
        caller = member_of(interaction)
        check_options(period)
        guild = caller.guild
        settings = await get_settings(self.bot.engine, guild.id)
        if not is_mentor(caller, settings.mentor_role_id):
            raise UserError(NOT_ALLOWED_WATCHLIST)
        span = await guild_period(self.bot, guild.id, period)
        await interaction.response.defer(thinking=True, ephemeral=True)  # who is drifting away is for mentors only
        entries = await build_watchlist(self.data, guild.id, span)
        entries = [e for e in entries if not _is_bot(guild, e.member_id)]
        high = sum(1 for e in entries if e.level.word == "high")
        embed = discord.Embed(
            title=f"Watchlist · {guild.name}",
            description=watchlist_text(entries) or "Nobody is drifting away: no member is at medium or high risk.",
            colour=EMBED_COLOUR,
        )
        embed.add_field(name="At risk", value=str(len(entries)), inline=True)
        embed.add_field(name="High", value=str(high), inline=True)
        embed.add_field(name="Medium", value=str(len(entries) - high), inline=True)
        embed.set_footer(text=await with_coverage(self.bot, guild.id, span, render_period(span).describe()))
        await interaction.followup.send(embed=embed, ephemeral=True)


def _is_bot(guild: discord.Guild, user_id: int) -> bool:
    """Whether a cached member is a bot (bots are never recorded, this is belt and braces)."""
    member = guild.get_member(user_id)
    return member is not None and member.bot


async def setup(bot: StatsBot) -> None:
    """Load the cog."""
    await bot.add_cog(Mentor(bot))
