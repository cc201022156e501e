"""/mentor card and /mentor watchlist: one member's engagement and drop-off risk, and who is drifting away.

Stores nothing: it reads what the tracking cogs recorded (db/mentor.py) and leaves
the method to ``bot.analytics`` (activity.py, risk.py). Risk needs at least 35 days
of history whatever the period, so both commands read a window of at least
``RISK_WINDOW_DAYS`` local days ending today; the card's period figures are the
last days of that window.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

import discord
import numpy as np
from discord import app_commands
from discord.ext import commands

from bot.analytics import (
    GuildRisk,
    Period,
    WatchlistEntry,
    activity_points,
    assess_guild,
    engagement_scores,
    hour_of_week_profile,
    last_seen,
    summarise_member,
    trend,
)
from bot.analytics.periods import PERIOD_CHOICES
from bot.commands.errors import NothingRecorded, UserError
from bot.commands.permissions import is_mentor, member_of
from bot.commands.replies import EMBED_COLOUR, report_embed, send_report
from bot.render import models
from bot.render.alt import alt_mentor, last_seen_text, trend_text
from bot.reports.builders import check_options, render_period
from bot.reports.context import guild_period
from db.days import active_days_mask, local_midnight
from db.guilds import get_settings
from db.mentor import ActiveDays, DailyActivity, MemberHours, MentorData, history_columns
from db.privacy import is_opted_out

if TYPE_CHECKING:
    from bot.app import StatsBot

log = logging.getLogger(__name__)

PERIODS = [app_commands.Choice(name=p, value=p) for p in PERIOD_CHOICES]
DEFAULT_MENTOR_PERIOD: Final = "30d"
# 28 days to learn a member's rhythm, 7 to compare, and a week to spare (risk.py).
RISK_WINDOW_DAYS: Final = 42
# Discord: an embed description holds 4096 characters; keep room for the "more" line.
DESCRIPTION_LIMIT: Final = 4000
NOT_ALLOWED_CARD: Final = "Only mentors or members with Manage Server can open another member's card."
NOT_ALLOWED_WATCHLIST: Final = "Only mentors or members with Manage Server can open the watchlist."


@dataclass(frozen=True, slots=True)
class Window:
    """The local days read for risk (at least ``RISK_WINDOW_DAYS``) and how many of the last ones are the period."""

    start: datetime
    period_days: int


def risk_window(period: Period) -> Window:
    """The window ending with the period's last local day: the period's days, or the risk minimum if longer."""
    days = period.days()
    count = max(len(days), RISK_WINDOW_DAYS)
    first = days[-1].date - timedelta(days=count - 1)
    return Window(local_midnight(first, period.tz), len(days))


def assess(days: ActiveDays, first_joined: dict[int, datetime], period: Period) -> GuildRisk:
    """Drop-off risk of every member in the window, with join dates as the start of their history."""
    starts = history_columns(days.member_ids, first_joined, days.first_day, period.tz, days.active)
    # Only active days count for risk (risk.py): an active day stands as one message.
    messages = days.active.astype(np.int64)
    return assess_guild(messages, np.zeros_like(messages), days.member_ids, starts)


def build_card(
    *,
    guild_name: str,
    display_name: str,
    user_id: int,
    period: Period,
    data: DailyActivity,
    hours: MemberHours,
    period_days: int,
    risk: GuildRisk,
) -> models.MentorReport:
    """The mentor card model of one member from the guild's window matrices and the member's hourly rows."""
    row = data.row(user_id)
    n = data.days
    if row is None:
        messages_row = np.zeros(n)
        voice_row = np.zeros(n)
    else:
        messages_row, voice_row = data.messages[row], data.active_s[row]
    history = None
    if row is not None:
        risk_row = int(np.flatnonzero(risk.member_ids == user_id)[0])
        history = int(n - risk.history_days[risk_row])
    first_period_day = data.first_day + timedelta(days=n - period_days)
    summary = summarise_member(messages_row[-period_days:], voice_row[-period_days:], first_period_day)
    points = activity_points(messages_row, voice_row)
    member_trend = trend(points, history_start=history if history is not None else n)
    scores = engagement_scores(data.messages[:, -period_days:], data.active_s[:, -period_days:])
    engagement = round(float(scores[row])) if row is not None else 0
    if row is None:
        level, reason = "low", "no activity in the period"
    else:
        assessment = risk.assessment(int(np.flatnonzero(risk.member_ids == user_id)[0]))
        level, reason = assessment.level.word, assessment.reason
    inside = (hours.epochs >= int(period.start.timestamp())) & (hours.epochs < int(period.end.timestamp()))
    hour_points = activity_points(hours.messages, hours.active_s)
    return models.MentorReport(
        guild_name=guild_name,
        period=render_period(period),
        user_id=user_id,
        display_name=display_name,
        messages=int(hours.messages[inside].sum()),
        voice_minutes=float(hours.active_s[inside].sum()) / 60.0,
        active_days=summary.active_days,
        period_days=summary.days,
        current_streak=summary.current_streak,
        longest_streak=summary.longest_streak,
        regularity=summary.regularity.share_active,
        weekday_spread=summary.regularity.weekday_spread,
        heatmap=hour_of_week_profile(hours.epochs[inside], hour_points[inside], period.tz).reshape(7, 24),
        daily_activity=points[-period_days:].astype(np.float64),
        trend_pct=None if member_trend.ratio is None else (member_trend.ratio - 1.0) * 100.0,
        engagement=engagement,
        risk=level,
        risk_reason=reason,
        last_seen=last_seen(hours.epochs, hour_points),
        trend_word=member_trend.word,
    )


async def build_watchlist(data: MentorData, guild_id: int, period: Period) -> list[WatchlistEntry]:
    """Members at medium or high risk, highest first; opted-out members and those who left are left out."""
    window = risk_window(period)
    # Two connections at once: the database works on both while the rows come back.
    days, joins = await asyncio.gather(
        data.active_days(guild_id, window.start, period.end, period.tz), data.membership(guild_id)
    )
    entries = assess(days, joins.first_joined, period).watchlist()
    log.debug("watchlist of guild %s: %d of %d members flagged", guild_id, len(entries), days.member_ids.size)
    return [e for e in entries if e.member_id not in joins.departed]


def card_figures(model: models.MentorReport) -> dict[str, int | float | str]:
    """The embed fields of a card, one per metric, each just the figure."""
    return {
        "Messages": model.messages,
        "Voice minutes": round(model.voice_minutes),
        "Active days": model.active_days,
        "Current streak": model.current_streak,
        "Longest streak": model.longest_streak,
        "Regularity": f"{model.regularity:.0%}",
        "Weekly spread": f"{model.weekday_spread:.0%}",
        "Trend": trend_text(model.trend_pct, model.trend_word),
        "Engagement": model.engagement,
        "Risk": model.risk,
        "Last seen": (
            "never in this period"
            if model.last_seen is None
            else last_seen_text(model.last_seen, model.period.timezone).removeprefix("Last seen ")
        ),
    }


def watchlist_text(entries: list[WatchlistEntry], limit: int = DESCRIPTION_LIMIT) -> str:
    """One line per member, ``<@id> — high: reason``, cut to ``limit`` characters with a count of the rest."""
    lines: list[str] = []
    used = 0
    for shown, entry in enumerate(entries):
        line = f"<@{entry.member_id}> — {entry.level.word}: {entry.reason}"
        rest = len(entries) - shown - 1
        more = f"\n…and {rest} more" if rest else ""
        if used + len(line) + 1 + len(more) > limit:
            lines.append(f"…and {len(entries) - shown} more")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)


class Mentor(commands.Cog):
    """The /mentor commands: a member's card and the drop-off watchlist."""

    mentor = app_commands.Group(name="mentor", description="Mentor cards and the drop-off watchlist", guild_only=True)

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot

    @property
    def data(self) -> MentorData:
        """Mentor reads on the bot's engine (opened in ``setup_hook``, after the cog is built)."""
        return MentorData(self.bot.engine, self.bot.reports.snapshots, self.bot.reports.days)

    @mentor.command(name="card", description="A member's activity, regularity, trend, engagement and drop-off risk")
    @app_commands.describe(member="Whose card", period="Time span (default 30d)")
    @app_commands.choices(period=PERIODS)
    async def card(
        self, interaction: discord.Interaction, member: discord.User, period: str = DEFAULT_MENTOR_PERIOD
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
        await interaction.response.defer(thinking=True)
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
        )
        embed = report_embed(
            f"Mentor card · {target.display_name}",
            card_figures(model),
            description=f"**Risk {model.risk}**: {model.risk_reason}",
            footer=model.period.describe(),
        )
        await send_report(self.bot, interaction, kind="mentor", model=model, alt=alt_mentor(model), embed=embed)

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
        await interaction.response.defer(thinking=True)
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
        embed.set_footer(text=render_period(span).describe())
        await interaction.followup.send(embed=embed)


def _is_bot(guild: discord.Guild, user_id: int) -> bool:
    """Whether a cached member is a bot (bots are never recorded, this is belt and braces)."""
    member = guild.get_member(user_id)
    return member is not None and member.bot


async def setup(bot: StatsBot) -> None:
    """Load the cog."""
    await bot.add_cog(Mentor(bot))
