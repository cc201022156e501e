"""Event hours: the event-hour report, posted to the report channel after each event and on demand.

Stores nothing but its ``posted_reports`` claims: it reads the configured events
(/config event), the exact voice sessions of the voice tracker and the guild settings.
A minute counts for a member present at least 30 seconds of it (bot/analytics/attendance.py);
when each occurrence ends is bot/posts/schedule.py's business.

The posting loop survives restarts and runs in several processes at once: a report
is claimed in ``posted_reports`` (insert-if-absent) before it is posted, and the
claim is dropped when the post fails so that it is tried again. Reports missed
while the bot was down are posted when it returns, up to ``CATCH_UP`` back.
"""

from __future__ import annotations

import io
import logging
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Final

import discord
import numpy as np
import numpy.typing as npt
from discord import app_commands

from bot.analytics.periods import parse_timezone
from bot.commands.errors import NothingRecorded, UserError
from bot.commands.options import image_cooldown, matching, recent_days
from bot.commands.permissions import member_of
from bot.commands.replies import MAX_ALT, report_embed
from bot.posts.attendance import attendance, event_title, plans
from bot.posts.posting import NO_MENTIONS, Post, ScheduledReports, Settle, display_name
from bot.posts.schedule import CATCH_UP, Occurrence, latest_occurrence, next_end, occurrences, parse_hhmm
from bot.render import models
from bot.render.alt import alt_event_hour
from bot.reports.context import member_names
from db import events as repo
from db.guilds import GuildSettings, get_settings
from db.posted import posted_keys

if TYPE_CHECKING:
    from bot.app import StatsBot

log = logging.getLogger(__name__)

KIND: Final = "event"
# Voice events still in flight when an event ends land within this (the loop flushes first).
SETTLE: Final = timedelta(seconds=5)


def build_report(
    guild: discord.Guild,
    event: repo.EventConfig,
    occ: Occurrence,
    flags: dict[int, npt.NDArray[np.bool_]],
    channels: dict[int, str],
    tz: str,
    names: dict[int, str] | None = None,
) -> tuple[models.EventHourReport, discord.Embed, str]:
    """The render model, the embed (minutes per member, one line each) and the alt text.

    ``names`` holds the names of members who left since (``Ana (left)``).
    """
    known = names or {}
    people = sorted(
        (models.EventAttendee(known.get(u) or display_name(guild, u), row.astype(bool), u) for u, row in flags.items()),
        key=lambda a: (-a.minutes, a.name.lower(), a.id),
    )
    model = models.EventHourReport(
        guild_name=guild.name,
        event_name=event_title(event),
        start=occ.local_start,
        minutes=occ.minutes,
        attendees=tuple(people),
        timezone=tz,
        channels=tuple(sorted(channels.values())),
    )
    lines = "\n".join(f"{a.name} — {a.minutes} min" for a in people)
    embed = report_embed(
        f"{event_title(event)} · {occ.local_start:%a %d %b %Y %H:%M}",
        {"Members present": len(people), "Member-minutes": sum(a.minutes for a in people)},
        description=lines[:4000],
        footer=f"{occ.local_start:%H:%M}–{occ.end.astimezone(occ.local_start.tzinfo):%H:%M} ({tz})",
    )
    return model, embed, alt_event_hour(model)


class Events(ScheduledReports):
    """The /event report command and the event-hour posting loop."""

    event = app_commands.Group(name="event", description="Event-hour reports", guild_only=True)

    def __init__(self, bot: StatsBot) -> None:
        super().__init__(bot, "event-hour reports", KIND, "events")

    # -- the posting loop -------------------------------------------------------------------

    async def guild_due(self, guild: discord.Guild, now: datetime, pending: Settle) -> datetime | None:
        """Post one guild's due event reports; when its next one is due."""
        events = await repo.list_events(self.bot.engine, guild.id)
        if not events:
            return None
        settings = await get_settings(self.bot.engine, guild.id)
        tz = parse_timezone(settings.timezone)
        by_id = {e.id: e for e in events}
        cutoff = now - SETTLE
        due = [o for e in plans(events) for o in occurrences(e, now - CATCH_UP, cutoff, tz)]
        done = await posted_keys(self.bot.engine, guild.id, KIND, [o.key for o in due])
        for occ in sorted((o for o in due if o.key not in done), key=lambda o: (o.end, o.event_id)):
            await pending.once()
            await self.post_occurrence(guild, settings, by_id[occ.event_id], occ)
        nxt = next_end(plans(events), cutoff, tz)
        return None if nxt is None else nxt + SETTLE

    async def post_occurrence(
        self, guild: discord.Guild, settings: GuildSettings, event: repo.EventConfig, occ: Occurrence
    ) -> bool:
        """Claim, build and post one occurrence's report; True when this call posted it."""

        async def build() -> Post | None:
            flags, channels = await attendance(self.bot, guild, event, occ)
            if not flags:
                return None  # nobody attended: nothing to post, the claim records it as handled
            names = await member_names(self.bot, guild, flags)
            model, embed, alt = build_report(guild, event, occ, flags, channels, settings.timezone, names)
            return Post("event_hour", model, alt, embed)

        return await self.post_once(guild, settings, occ.key, self.now(), build)

    # -- /event report ------------------------------------------------------------------------

    @event.command(name="report", description="Minute-by-minute presence at an event, and minutes per member")
    @app_commands.describe(
        date="Day the event started, YYYY-MM-DD (default: the latest event)",
        start="Start time of the event, HH:MM (default: the latest that day)",
    )
    @image_cooldown
    async def report(self, interaction: discord.Interaction, date: str | None = None, start: str | None = None) -> None:
        """Minute-by-minute presence at an event, and minutes per member."""
        caller = member_of(interaction)
        guild = caller.guild
        day = _parse_date(date) if date is not None else None
        at = parse_hhmm(start) if start is not None else None
        settings = await get_settings(self.bot.engine, guild.id)
        tz = parse_timezone(settings.timezone)
        events = await repo.list_events(self.bot.engine, guild.id)
        if not events:
            raise UserError("No events are configured in this server.")
        now = self.now()
        if day is None and at is not None:
            day = now.astimezone(tz).date()
            if latest_occurrence(plans(events), now, tz, day, at) is None:
                day -= timedelta(days=1)
        occ = latest_occurrence(plans(events), now, tz, day, at)
        if occ is None:
            raise UserError("No event ended at that date and time.")
        event = next(e for e in events if e.id == occ.event_id)
        flags, channels = await attendance(self.bot, guild, event, occ)
        if not flags:
            raise NothingRecorded(f"Nobody attended the event of {occ.local_start:%Y-%m-%d %H:%M}.")
        await interaction.response.defer(thinking=True)
        names = await member_names(self.bot, guild, flags)
        model, embed, alt = build_report(guild, event, occ, flags, channels, settings.timezone, names)
        png = await self.bot.render_pool.render("event_hour", model)
        embed.set_image(url="attachment://event_hour.png")
        file = discord.File(io.BytesIO(png), filename="event_hour.png", description=alt[:MAX_ALT])
        await interaction.followup.send(embed=embed, file=file, allowed_mentions=NO_MENTIONS)

    @report.autocomplete("date")
    async def report_date_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The last two weeks' days in the server's timezone, today first."""
        if interaction.guild_id is None:
            return []
        try:
            settings = await get_settings(self.bot.engine, interaction.guild_id)
        except Exception:  # an autocomplete never fails loudly: no suggestions
            log.warning("event date autocomplete failed in guild %s", interaction.guild_id, exc_info=True)
            return []
        return recent_days(self.now(), parse_timezone(settings.timezone), current)

    @report.autocomplete("start")
    async def report_start_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The configured events' start times, with their length and name."""
        if interaction.guild_id is None:
            return []
        try:
            events = await repo.list_events(self.bot.engine, interaction.guild_id)
        except Exception:  # an autocomplete never fails loudly: no suggestions
            log.warning("event start autocomplete failed in guild %s", interaction.guild_id, exc_info=True)
            return []
        starts = sorted({(e.start_time, e.minutes, e.name or "") for e in events})
        words = [(s, " · ".join(filter(None, (s, f"{m} min", n)))[:100]) for s, m, n in starts]
        return matching([app_commands.Choice(name=w, value=s) for s, w in words], current)


def _parse_date(value: str) -> date:
    """``YYYY-MM-DD`` or a UserError."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UserError("The date must look like 2026-11-22 (YYYY-MM-DD).") from None


async def setup(bot: StatsBot) -> None:
    """Load the cog."""
    await bot.add_cog(Events(bot))
