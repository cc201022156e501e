"""/stats server, /stats user and /stats channel: totals, series, rankings and the member and channel cards.

Stores nothing: it reads what the tracking cogs recorded (db/reports/).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.analytics.periods import DEFAULT_PERIOD, Period
from bot.commands.errors import NothingRecorded, UserError
from bot.commands.options import image_cooldown, period_choices
from bot.commands.permissions import member_of
from bot.commands.replies import leaderboard_lines, report_embed, send_report
from bot.render import models
from bot.render.alt import alt_channel, alt_server, alt_user, delta_text
from bot.reports.builders import (
    activity_series,
    changes,
    check_options,
    heatmap,
    previous_period,
    read_span,
    render_period,
    series_span,
)
from bot.reports.context import channel_name, coverage_line, guild_period, member_names, with_coverage
from db.names import member_growth
from db.privacy import is_opted_out

if TYPE_CHECKING:
    from bot.app import StatsBot

PERIODS = period_choices()  # "Last 7 days" shown, 7d sent
Channel = app_commands.AppCommandChannel | app_commands.AppCommandThread
TOP = 10


class Stats(commands.Cog):
    """The /stats commands: a server, a member or a channel over a period."""

    stats = app_commands.Group(name="stats", description="Activity statistics of this server", guild_only=True)

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot

    @stats.command(name="server", description="Server totals, activity over time, top channels and members")
    @app_commands.describe(period="Time span (default 7d)", channel="Only this channel and its threads")
    @app_commands.choices(period=PERIODS)
    @image_cooldown
    async def server(
        self, interaction: discord.Interaction, period: str = DEFAULT_PERIOD, channel: Channel | None = None
    ) -> None:
        """Server totals, activity over time, top channels and members."""
        member = member_of(interaction)
        check_options(period)
        guild = member.guild
        span_period = await guild_period(self.bot, guild.id, period)
        channels = None if channel is None else await self._channel_family(guild, channel.id)
        span = read_span(span_period)
        # The series covers the whole period exactly: the totals are its sums.
        points = await self.bot.reports.series(guild.id, series_span(span_period), channels)
        totals = await self.bot.reports.totals_from(guild.id, span, points, channels)
        if totals.messages == 0 and totals.voice_seconds == 0:
            where = "in that channel" if channel is not None else "in this server"
            raise NothingRecorded(f"Nothing was recorded {where} in this period.")
        await interaction.response.defer(thinking=True)
        top_members = await self.bot.reports.top_members(guild.id, span, "messages", TOP, channels)
        top_channels = [] if channels is not None else await self.bot.reports.top_channels(guild.id, span, TOP)
        stored = await self.bot.reports.channel_info(guild.id, [c for c, _ in top_channels])
        names = await member_names(self.bot, guild, (u for u, _ in top_members))  # members who left: "Ana (left)"
        label = (
            None
            if channel is None
            else channel_name(guild, channel.id, await self.bot.reports.channel_info(guild.id, [channel.id]))
        )
        figures = {
            "Messages": totals.messages,
            "Voice minutes": round(totals.voice_minutes),
            "Active members": totals.active_members,
        }
        before, compared_with = await self._previous_totals(guild.id, span_period, channels)
        growth = None
        if channel is None:  # joins and leaves are the server's, not a channel's
            growth = models.MemberGrowth(
                *await member_growth(self.bot.engine, guild.id, span_period.start, span_period.end)
            )
        model = models.ServerReport(
            guild_name=guild.name,
            period=render_period(span_period),
            messages=totals.messages,
            voice_minutes=totals.voice_minutes,
            active_members=totals.active_members,
            series=activity_series(points, span_period),
            top_channels=tuple(models.RankedItem(channel_name(guild, c, stored), v, c) for c, v in top_channels),
            top_members=tuple(models.RankedItem(names[u], v, u) for u, v in top_members),
            channel_name=label,
            changes=changes(figures, before),
            compared_with=compared_with,
            growth=growth,
        )
        shown: dict[str, int | float | str] = dict(figures)
        if growth is not None:
            shown.update({"Joins": growth.joins, "Leaves": growth.leaves, "Net members": growth.net})
        embed = report_embed(
            f"{guild.name}" + (f" · #{label}" if label else ""),
            shown,
            description=_joined(
                _change_lines(model.changes, compared_with), _top_block("Top members by messages", top_members)
            ),
            footer="\n".join(
                filter(None, (model.period.describe(), await coverage_line(self.bot, guild.id, span_period)))
            ),
        )
        await send_report(self.bot, interaction, kind="server", model=model, alt=alt_server(model), embed=embed)

    @stats.command(name="user", description="A member's card: messages, voice, rank, active hours, channels, emojis")
    @app_commands.describe(member="Whose card (default: you)", period="Time span (default 7d)")
    @app_commands.choices(period=PERIODS)
    @image_cooldown
    async def user(
        self, interaction: discord.Interaction, member: discord.User | None = None, period: str = DEFAULT_PERIOD
    ) -> None:
        """A member's card: messages, voice, rank, active hours, channels, emojis."""
        caller = member_of(interaction)
        check_options(period)
        guild = caller.guild
        target = caller if member is None else guild.get_member(member.id)
        if target is None:
            raise UserError("That user is not a member of this server.")
        if target.bot:
            raise UserError("Bots are not tracked.")
        if await is_opted_out(self.bot.engine, guild.id, target.id):
            if target.id == caller.id:
                raise UserError("You opted out, so nothing is recorded or shown about you; /privacy optin resumes it.")
            raise NothingRecorded(f"Nothing was recorded for {target.display_name} in this period.")
        span_period = await guild_period(self.bot, guild.id, period)
        span = read_span(span_period)
        voice = await self.bot.reports.member_voice(guild.id, target.id, span)
        voice_total = voice.active_s + voice.muted_s + voice.deafened_s + voice.alone_s
        # The member's own hourly rows (the heatmap's): whether they wrote anything, before deferring.
        hours = await self.bot.reports.member_hours(guild.id, target.id, span)
        if voice_total == 0 and not any(n for _, n in hours):
            raise NothingRecorded(f"Nothing was recorded for {target.display_name} in this period.")
        await interaction.response.defer(thinking=True)
        # Ranking aggregates every member of the period: after the deferral.
        messages, rank, ranked = await self.bot.reports.member_rank(guild.id, target.id, span)
        channels = await self.bot.reports.member_channels(guild.id, target.id, span)
        emojis = await self.bot.reports.emojis(guild.id, span, target.id, limit=5)
        stored = await self.bot.reports.channel_info(guild.id, [c for c, _ in channels])
        breakdown = models.VoiceBreakdown(
            active=voice.active_s / 60,
            muted=voice.muted_s / 60,
            deafened=voice.deafened_s / 60,
            alone=voice.alone_s / 60,
            streaming=voice.streaming_s / 60,
            video=voice.video_s / 60,
        )
        model = models.UserReport(
            guild_name=guild.name,
            period=render_period(span_period),
            user_id=target.id,
            display_name=target.display_name,
            messages=messages,
            voice=breakdown,
            heatmap=heatmap(hours, span_period),
            rank=rank or None,
            ranked_members=ranked,
            top_channels=tuple(models.RankedItem(channel_name(guild, c, stored), v, c) for c, v in channels),
            top_emojis=tuple(models.EmojiUse(e.emoji, e.message, e.reaction) for e in emojis),
        )
        now_figures = {"Messages": messages, "Voice minutes": round(breakdown.total)}
        before, compared_with = await self._member_before(guild.id, target.id, span_period)
        model = dataclasses.replace(model, changes=changes(now_figures, before), compared_with=compared_with)
        figures: dict[str, int | float | str] = dict(now_figures)
        if rank:
            figures["Rank"] = rank
        embed = report_embed(
            target.display_name,
            figures,
            description=_change_lines(model.changes, compared_with),
            footer=await with_coverage(self.bot, guild.id, span_period, model.period.describe()),
        )
        await send_report(self.bot, interaction, kind="user", model=model, alt=alt_user(model), embed=embed)

    @stats.command(name="channel", description="A channel's card: messages, voice, active members, top members")
    @app_commands.describe(channel="The channel (its threads count with it)", period="Time span (default 7d)")
    @app_commands.choices(period=PERIODS)
    @image_cooldown
    async def channel(self, interaction: discord.Interaction, channel: Channel, period: str = DEFAULT_PERIOD) -> None:
        """A channel's card: messages, voice, active members, top members."""
        caller = member_of(interaction)
        check_options(period)
        guild = caller.guild
        family = await self._channel_family(guild, channel.id)
        span_period = await guild_period(self.bot, guild.id, period)
        span = read_span(span_period)
        points = await self.bot.reports.series(guild.id, series_span(span_period), family)
        totals = await self.bot.reports.totals_from(guild.id, span, points, family)
        name = channel_name(guild, channel.id, await self.bot.reports.channel_info(guild.id, [channel.id]))
        if totals.messages == 0 and totals.voice_seconds == 0:
            raise NothingRecorded(f"Nothing was recorded in #{name} in this period.")
        await interaction.response.defer(thinking=True)
        top = await self.bot.reports.top_members(guild.id, span, "messages", TOP, family)
        names = await member_names(self.bot, guild, (u for u, _ in top))
        model = models.ChannelReport(
            guild_name=guild.name,
            period=render_period(span_period),
            channel_name=name,
            messages=totals.messages,
            voice_minutes=totals.voice_minutes,
            active_members=totals.active_members,
            series=activity_series(points, span_period),
            top_members=tuple(models.RankedItem(names[u], v, u) for u, v in top),
        )
        figures = {
            "Messages": totals.messages,
            "Voice minutes": round(totals.voice_minutes),
            "Active members": totals.active_members,
        }
        before, compared_with = await self._previous_totals(guild.id, span_period, family)
        model = dataclasses.replace(model, changes=changes(figures, before), compared_with=compared_with)
        embed = report_embed(
            f"#{name}",
            dict(figures),
            description=_joined(
                _change_lines(model.changes, compared_with), _top_block("Top members by messages", top)
            ),
            footer=await with_coverage(self.bot, guild.id, span_period, model.period.describe()),
        )
        await send_report(self.bot, interaction, kind="channel", model=model, alt=alt_channel(model), embed=embed)

    async def _member_before(self, guild_id: int, user_id: int, period: Period) -> tuple[dict[str, float] | None, str]:
        """A member's messages and voice minutes in the previous period of the same length; None for ``all``."""
        previous = previous_period(period)
        if previous is None:
            return None, ""
        before, name = previous
        span = read_span(before)
        messages = await self.bot.reports.member_total(guild_id, user_id, span, "messages")
        voice = await self.bot.reports.member_voice(guild_id, user_id, span)
        seconds = voice.active_s + voice.muted_s + voice.deafened_s + voice.alone_s
        return {"Messages": float(messages), "Voice minutes": float(round(seconds / 60))}, name

    async def _previous_totals(
        self, guild_id: int, period: Period, channels: list[int] | None = None
    ) -> tuple[dict[str, float] | None, str]:
        """The key figures of the previous period of the same length, and its name; None for ``all``."""
        previous = previous_period(period)
        if previous is None:
            return None, ""
        before, name = previous
        totals = await self.bot.reports.totals(guild_id, read_span(before), channels)
        figures = {
            "Messages": float(totals.messages),
            "Voice minutes": float(round(totals.voice_minutes)),
            "Active members": float(totals.active_members),
        }
        return figures, name

    async def _channel_family(self, guild: discord.Guild, channel_id: int) -> list[int]:
        """The channel and its threads, or a UserError when it is not a channel of this guild."""
        if guild.get_channel_or_thread(channel_id) is None and not await self.bot.reports.channel_info(
            guild.id, [channel_id]
        ):
            raise UserError("That channel is not part of this server.")
        return await self.bot.reports.channel_family(guild.id, channel_id)


def _change_lines(figures: tuple[models.Change, ...], compared_with: str) -> str | None:
    """``Messages: +12 % vs previous 7 days`` per key figure, for the embed description."""
    return "\n".join(f"{c.name}: {delta_text(c, compared_with)}" for c in figures) or None


def _joined(*blocks: str | None) -> str | None:
    """Description blocks separated by a blank line, or nothing."""
    return "\n\n".join(b for b in blocks if b) or None


def _top_block(title: str, entries: list[tuple[int, int]]) -> str | None:
    """A leaderboard under a heading for the embed description, or nothing."""
    if not entries:
        return None
    return f"**{title}**\n{leaderboard_lines(entries)}"


async def setup(bot: StatsBot) -> None:
    """Load the cog."""
    await bot.add_cog(Stats(bot))
