"""The weekly summary: posted to the report channel at the guild's weekly time, and /report weekly on demand.

Stores nothing but its ``posted_reports`` claims (key: the ISO week, ``2026-W47``).
Reads the message and voice totals (db/reports.py), the event attendance of the
week (the same minutes as the event-hour reports) and the guild's members. Names
are shown, never mentions: the post pings nobody.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

import discord
from discord import app_commands

from bot.analytics.periods import Period, parse_iso_week, parse_timezone
from bot.commands.errors import NothingRecorded
from bot.commands.permissions import require_manage
from bot.commands.replies import MAX_ALT, figure, report_embed
from bot.posts.attendance import attendance, plans
from bot.posts.posting import NO_MENTIONS, Post, ScheduledReports, Settle, display_name
from bot.posts.schedule import CATCH_UP, next_weekly, occurrence_on, previous_week, week_before, weekly_dues
from bot.render import models
from bot.render.alt import alt_weekly, change_text
from db import events as repo
from db.guilds import GuildSettings, get_settings
from db.privacy import opted_out_ids
from db.reports import split_period

if TYPE_CHECKING:
    from bot.app import StatsBot

log = logging.getLogger(__name__)

KIND: Final = "weekly"
TOP: Final = 10
FIELD_MAX: Final = 1024


@dataclass(frozen=True, slots=True)
class WeeklyFigures:
    """What the summary shows, before rendering."""

    model: models.WeeklyReport
    empty: bool


def _lines(items: tuple[models.RankedItem, ...], unit: str) -> str:
    """``1. Name 120 unit`` per line, cut to an embed field."""
    text = "\n".join(f"{i}. {item.name} {figure(item.value)}{unit}" for i, item in enumerate(items, 1))
    return text[:FIELD_MAX] or "—"


def summary_embed(model: models.WeeklyReport) -> discord.Embed:
    """The embed: each total as a field with just its number, rankings and absentees by name."""
    embed = report_embed(
        f"Weekly summary · {model.period.label.removeprefix('Week ')}",
        {t.name: t.value for t in model.totals},
        description="\n".join(f"{t.name}: {change_text(t)}" for t in model.totals),
        footer=model.period.describe(),
    )
    embed.add_field(name="Top by messages", value=_lines(model.top_messages, ""), inline=False)
    embed.add_field(name="Top by voice", value=_lines(model.top_voice, " min"), inline=False)
    embed.add_field(name="Event attendance", value=_lines(model.attendance, " min"), inline=False)
    if model.events_held:
        never = ", ".join(model.never_present) or "Everyone attended at least one event."
        embed.add_field(name=f"Never at an event ({len(model.never_present)})", value=never[:FIELD_MAX], inline=False)
    else:
        embed.add_field(name="Never at an event", value="No events were held this week.", inline=False)
    return embed


class Weekly(ScheduledReports):
    """The /report weekly command and the weekly posting loop."""

    report = app_commands.Group(
        name="report",
        description="Scheduled reports on demand",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: StatsBot) -> None:
        super().__init__(bot, "weekly summaries", KIND)

    # -- figures ----------------------------------------------------------------------------

    async def figures(self, guild: discord.Guild, week: Period, now: datetime) -> WeeklyFigures:
        """The summary of ``week`` (events count once they ended by ``now``)."""
        tz_name = str(week.tz.key)
        before = previous_week(week)
        this = await self.bot.reports.totals(guild.id, split_period(week.start, week.end, rollups=False))
        last = await self.bot.reports.totals(guild.id, split_period(before.start, before.end, rollups=False))
        span = split_period(week.start, week.end, rollups=False)
        by_messages = await self.bot.reports.top_members(guild.id, span, "messages", TOP)
        by_voice = await self.bot.reports.top_members(guild.id, span, "voice", TOP)
        minutes, held = await self.event_minutes(guild, week, now)
        last_minutes, _ = await self.event_minutes(guild, before, now)
        hidden = await opted_out_ids(self.bot.engine, guild.id)
        never: tuple[str, ...] = ()
        if held:
            never = tuple(
                sorted(
                    (
                        m.display_name
                        for m in guild.members
                        if not m.bot
                        and m.id not in minutes
                        and m.id not in hidden
                        and not self.bot.optouts.excluded(guild.id, m.id)
                    ),
                    key=str.lower,
                )
            )
        ranked = sorted(minutes.items(), key=lambda kv: (-kv[1], display_name(guild, kv[0]).lower()))
        model = models.WeeklyReport(
            guild_name=guild.name,
            period=models.Period(f"Week {week.label}", week.start, week.end, tz_name),
            totals=(
                models.WeeklyTotal("Messages", this.messages, last.messages),
                models.WeeklyTotal("Voice minutes", round(this.voice_minutes), round(last.voice_minutes)),
                models.WeeklyTotal("Active members", this.active_members, last.active_members),
                models.WeeklyTotal("Event minutes", sum(minutes.values()), sum(last_minutes.values())),
            ),
            top_messages=tuple(models.RankedItem(display_name(guild, u), v, u) for u, v in by_messages),
            top_voice=tuple(models.RankedItem(display_name(guild, u), round(v / 60), u) for u, v in by_voice),
            attendance=tuple(models.RankedItem(display_name(guild, u), v, u) for u, v in ranked),
            never_present=never,
            events_held=held,
        )
        empty = not (this.messages or this.voice_seconds or last.messages or last.voice_seconds or minutes)
        return WeeklyFigures(model, empty)

    async def event_minutes(self, guild: discord.Guild, week: Period, now: datetime) -> tuple[dict[int, int], int]:
        """Event minutes per member over the occurrences that started in ``week`` and ended; how many."""
        events = await repo.list_events(self.bot.engine, guild.id)
        totals: dict[int, int] = {}
        held = 0
        first = week.start.astimezone(week.tz).date()
        for event in events:
            [plan] = plans([event])
            for offset in range(8):
                occ = occurrence_on(plan, first + timedelta(days=offset), week.tz)
                if occ is None or not (week.start <= occ.start < week.end) or occ.end > now:
                    continue
                held += 1
                flags, _ = await attendance(self.bot, guild, event, occ)
                for user, row in flags.items():
                    totals[user] = totals.get(user, 0) + int(row.sum())
        return totals, held

    # -- the posting loop -------------------------------------------------------------------

    async def guild_due(self, guild: discord.Guild, now: datetime, pending: Settle) -> datetime:
        """Post one guild's due weekly summaries; when its next one is due."""
        settings = await get_settings(self.bot.engine, guild.id)
        tz = parse_timezone(settings.timezone)
        dues = weekly_dues(settings.weekly_weekday, settings.weekly_time, tz, now - CATCH_UP, now)
        done = await repo.posted_keys(self.bot.engine, guild.id, KIND, [d.key for d in dues])
        for due in dues:
            if due.key not in done:
                await pending.once()
                await self.post_week(guild, settings, due.week, now)
        return next_weekly(settings.weekly_weekday, settings.weekly_time, tz, now)

    async def post_week(self, guild: discord.Guild, settings: GuildSettings, week: Period, now: datetime) -> bool:
        """Claim, build and post one week's summary; True when this call posted it."""

        async def build() -> Post | None:
            result = await self.figures(guild, week, now)
            if result.empty:
                return None  # nothing happened in either week: nothing worth posting
            return Post("weekly", result.model, alt_weekly(result.model), summary_embed(result.model))

        return await self.post_once(guild, settings, week.label, now, build)

    # -- /report weekly -----------------------------------------------------------------------

    @report.command(name="weekly", description="The weekly summary, on demand")
    @app_commands.describe(week="ISO week such as 2026-W47 (default: the last whole week)")
    async def weekly(self, interaction: discord.Interaction, week: str | None = None) -> None:
        """The weekly summary, on demand."""
        caller = require_manage(interaction)
        guild = caller.guild
        settings = await get_settings(self.bot.engine, guild.id)
        tz = parse_timezone(settings.timezone)
        now = self.now()
        period = parse_iso_week(week, tz) if week is not None else week_before(now, tz)
        if period.start >= now:
            raise NothingRecorded(f"Week {period.label} has not started yet.")
        result = await self.figures(guild, period, now)
        if result.empty:
            raise NothingRecorded(f"Nothing was recorded in this server in week {period.label} or the week before.")
        await interaction.response.defer(thinking=True)
        model = result.model
        embed = summary_embed(model)
        png = await self.bot.render_pool.render("weekly", model)
        embed.set_image(url="attachment://weekly.png")
        file = discord.File(io.BytesIO(png), filename="weekly.png", description=alt_weekly(model)[:MAX_ALT])
        await interaction.followup.send(embed=embed, file=file, allowed_mentions=NO_MENTIONS)


async def setup(bot: StatsBot) -> None:
    """Load the cog."""
    await bot.add_cog(Weekly(bot))
