"""The weekly summary: posted to the report channel at the guild's weekly time, and /report weekly on demand.

Stores nothing but its ``posted_reports`` claims (key: the ISO week, ``2026-W47``).
Reads the message and voice totals (db/reports/), the event attendance of the
week (the same minutes as the event-hour reports, each event under the name it had
that week) and the guild's members. Names are shown, never mentions: the post pings nobody.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

import discord
from discord import app_commands

from bot.analytics.periods import Period, parse_iso_week, parse_timezone
from bot.commands.errors import NothingRecorded
from bot.commands.options import image_cooldown, recent_weeks
from bot.commands.permissions import require_manage
from bot.commands.replies import MAX_ALT, figure, report_embed
from bot.posts.attendance import attendance, event_title, plans
from bot.posts.posting import NO_MENTIONS, Post, ScheduledReports, Settle
from bot.posts.schedule import (
    CATCH_UP,
    Occurrence,
    next_weekly,
    occurrence_on,
    previous_week,
    week_before,
    weekly_dues,
)
from bot.render import models
from bot.render.alt import alt_weekly, change_text
from bot.reports.context import member_names
from db import events as repo
from db.guilds import GuildSettings, get_settings
from db.names import left_since
from db.posted import posted_keys
from db.privacy import opted_out_ids
from db.reports import split_period

if TYPE_CHECKING:
    from bot.app import StatsBot

log = logging.getLogger(__name__)

KIND: Final = "weekly"
TOP: Final = 10
FIELD_MAX: Final = 1024


@dataclass(frozen=True, slots=True)
class HeldEvent:
    """One event's occurrences that week, under the name it had then."""

    title: str
    times: int
    member_minutes: int

    def text(self) -> str:
        """``Morning study — 5 times, 212 member-minutes``."""
        times = "once" if self.times == 1 else f"{self.times} times"
        return f"{self.title} — {times}, {figure(self.member_minutes)} member-minutes"


@dataclass(frozen=True, slots=True)
class EventWeek:
    """The week's event attendance: minutes per member, the occurrences held, and each event's share."""

    minutes: dict[int, int]
    held: list[Occurrence]
    events: tuple[HeldEvent, ...]


@dataclass(frozen=True, slots=True)
class WeeklyFigures:
    """What the summary shows, before rendering."""

    model: models.WeeklyReport
    empty: bool
    events: tuple[HeldEvent, ...] = ()


def _lines(items: tuple[models.RankedItem, ...], unit: str) -> str:
    """``1. Name 120 unit`` per line, cut to an embed field."""
    text = "\n".join(f"{i}. {item.name} {figure(item.value)}{unit}" for i, item in enumerate(items, 1))
    return text[:FIELD_MAX] or "—"


def summary_embed(model: models.WeeklyReport, events: Sequence[HeldEvent] = ()) -> discord.Embed:
    """The embed: each total as a field with just its number, rankings, the events held and absentees by name."""
    embed = report_embed(
        f"Weekly summary · {model.period.label.removeprefix('Week ')}",
        {t.name: t.value for t in model.totals},
        description="\n".join(f"{t.name}: {change_text(t)}" for t in model.totals),
        footer=model.period.describe(),
    )
    embed.add_field(name="Top by messages", value=_lines(model.top_messages, ""), inline=False)
    embed.add_field(name="Top by voice", value=_lines(model.top_voice, " min"), inline=False)
    if events:
        held = "\n".join(e.text() for e in events)
        embed.add_field(name="Events held", value=held[:FIELD_MAX], inline=False)
    embed.add_field(name="Event attendance", value=_lines(model.attendance, " min"), inline=False)
    if model.events_held:
        never = ", ".join(model.never_present) or "Everyone attended at least one event."
        embed.add_field(name=f"Never at an event ({len(model.never_present)})", value=never[:FIELD_MAX], inline=False)
    else:
        embed.add_field(name="Never at an event", value="No event took place this week.", inline=False)
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
        super().__init__(bot, "weekly summaries", KIND, "weekly")

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
        this_week = await self.event_minutes(guild, week, now)
        minutes, held = this_week.minutes, this_week.held
        last_minutes = (await self.event_minutes(guild, before, now)).minutes
        hidden = await opted_out_ids(self.bot.engine, guild.id)
        never: tuple[str, ...] = ()
        if held:
            absent = await self.never_present(guild, held, minutes, hidden)
            never = tuple(sorted(absent, key=str.lower))
        shown = {u for u, _ in by_messages} | {u for u, _ in by_voice} | set(minutes)
        names = await member_names(self.bot, guild, shown)  # members who left: "Ana (left)"
        ranked = sorted(minutes.items(), key=lambda kv: (-kv[1], names[kv[0]].lower()))
        model = models.WeeklyReport(
            guild_name=guild.name,
            period=models.Period(f"Week {week.label}", week.start, week.end, tz_name),
            totals=(
                models.WeeklyTotal("Messages", this.messages, last.messages),
                models.WeeklyTotal("Voice minutes", round(this.voice_minutes), round(last.voice_minutes)),
                models.WeeklyTotal("Active members", this.active_members, last.active_members),
                models.WeeklyTotal("Event minutes", sum(minutes.values()), sum(last_minutes.values())),
            ),
            top_messages=tuple(models.RankedItem(names[u], v, u) for u, v in by_messages),
            top_voice=tuple(models.RankedItem(names[u], round(v / 60), u) for u, v in by_voice),
            attendance=tuple(models.RankedItem(names[u], v, u) for u, v in ranked),
            never_present=never,
            events_held=len(held),
        )
        empty = not (this.messages or this.voice_seconds or last.messages or last.voice_seconds or minutes)
        return WeeklyFigures(model, empty, this_week.events)

    async def never_present(
        self, guild: discord.Guild, held: list[Occurrence], minutes: dict[int, int], hidden: frozenset[int] | set[int]
    ) -> list[str]:
        """Names of the members during at least one of the ``held`` occurrences who attended none of them.

        A current member counts from the time they joined; a former member (seen leaving
        after the first occurrence began) for the time between their join and their leave.
        """
        first = min(o.start for o in held)

        def member_during(joined: datetime | None, left: datetime | None) -> bool:
            return any((joined is None or joined < o.end) and (left is None or left > o.start) for o in held)

        def counted(user_id: int) -> bool:
            return (
                minutes.get(user_id, 0) == 0
                and user_id not in hidden
                and not self.bot.optouts.excluded(guild.id, user_id)
            )

        names = [
            m.display_name for m in guild.members if not m.bot and counted(m.id) and member_during(m.joined_at, None)
        ]
        for seen in await left_since(self.bot.engine, guild.id, first):
            gone = guild.get_member(seen.user_id) is None
            if gone and counted(seen.user_id) and member_during(seen.joined_at, seen.left_at):
                names.append(f"{seen.name} (left)")
        return names

    async def event_minutes(self, guild: discord.Guild, week: Period, now: datetime) -> EventWeek:
        """Event minutes per member over the week's occurrences that ended; those occurrences; each event's share.

        An occurrence counts only when its event was configured at the time it started
        (the event history), so that a past week is judged, and its events named, by the
        configuration of that week. Events of the same name are listed as one.
        """
        versions = await repo.event_versions(self.bot.engine, guild.id, week.start, week.end)
        totals: dict[int, int] = {}
        held: list[Occurrence] = []
        # Per title: its first occurrence that week (the listing's order), times held, member-minutes.
        by_title: dict[str, tuple[datetime, int, int]] = {}
        first = week.start.astimezone(week.tz).date()
        for version in versions:
            [plan] = plans([version.event])
            for offset in range(8):
                occ = occurrence_on(plan, first + timedelta(days=offset), week.tz)
                if occ is None or not (week.start <= occ.start < week.end) or occ.end > now:
                    continue
                if not version.in_force(occ.start):
                    continue
                held.append(occ)
                flags, _ = await attendance(self.bot, guild, version.event, occ)
                for user, row in flags.items():
                    totals[user] = totals.get(user, 0) + int(row.sum())
                title = event_title(version.event)
                first_start, times, member_minutes = by_title.get(title, (occ.start, 0, 0))
                member_minutes += sum(int(row.sum()) for row in flags.values())
                by_title[title] = (min(first_start, occ.start), times + 1, member_minutes)
        ordered = sorted(by_title.items(), key=lambda kv: (kv[1][0], kv[0]))
        events = tuple(HeldEvent(title, times, member_minutes) for title, (_, times, member_minutes) in ordered)
        return EventWeek(totals, held, events)

    # -- the posting loop -------------------------------------------------------------------

    async def guild_due(self, guild: discord.Guild, now: datetime, pending: Settle) -> datetime:
        """Post one guild's due weekly summaries; when its next one is due."""
        settings = await get_settings(self.bot.engine, guild.id)
        tz = parse_timezone(settings.timezone)
        dues = weekly_dues(settings.weekly_weekday, settings.weekly_time, tz, now - CATCH_UP, now)
        done = await posted_keys(self.bot.engine, guild.id, KIND, [d.key for d in dues])
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
            return Post("weekly", result.model, alt_weekly(result.model), summary_embed(result.model, result.events))

        return await self.post_once(guild, settings, week.label, now, build)

    # -- /report weekly -----------------------------------------------------------------------

    @report.command(name="weekly", description="The weekly summary, on demand")
    @app_commands.describe(week="ISO week such as 2026-W47 (default: the last whole week)")
    @image_cooldown
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
        embed = summary_embed(model, result.events)
        png = await self.bot.render_pool.render("weekly", model)
        embed.set_image(url="attachment://weekly.png")
        file = discord.File(io.BytesIO(png), filename="weekly.png", description=alt_weekly(model)[:MAX_ALT])
        await interaction.followup.send(embed=embed, file=file, allowed_mentions=NO_MENTIONS)

    @weekly.autocomplete("week")
    async def week_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """The last whole weeks, labelled by their dates in the server's timezone."""
        if interaction.guild_id is None:
            return []
        try:
            settings = await get_settings(self.bot.engine, interaction.guild_id)
        except Exception:  # an autocomplete never fails loudly: no suggestions
            log.warning("week autocomplete failed in guild %s", interaction.guild_id, exc_info=True)
            return []
        return recent_weeks(self.now(), parse_timezone(settings.timezone), current)


async def setup(bot: StatsBot) -> None:
    """Load the cog."""
    await bot.add_cog(Weekly(bot))
