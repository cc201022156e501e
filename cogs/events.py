"""Event hours: the event-hour report, posted to the report channel after each event and on demand.

Stores nothing but its ``posted_reports`` claims: it reads the configured events
(/config event), the exact voice sessions of the voice tracker and the guild settings.
A minute counts for a member present at least 30 seconds of it (bot/analytics/attendance.py);
when each occurrence ends is bot/schedule.py's business.

The posting loop survives restarts and runs in several processes at once: a report
is claimed in ``posted_reports`` (insert-if-absent) before it is posted, and the
claim is dropped when the post fails so that it is tried again. Reports missed
while the bot was down are posted when it returns, up to ``CATCH_UP`` back.
"""

from __future__ import annotations

import fnmatch
import io
import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Final

import discord
import numpy as np
import numpy.typing as npt
from discord import app_commands

from bot.analytics.attendance import presence
from bot.analytics.periods import parse_timezone
from bot.errors import NothingRecorded, UserError
from bot.permissions import member_of
from bot.posting import NO_MENTIONS, ScheduledReports, Settle, display_name, post_image, report_channel
from bot.render import models
from bot.render.alt import alt_event_hour
from bot.replies import MAX_ALT, report_embed
from bot.schedule import CATCH_UP, EventPlan, Occurrence, latest_occurrence, next_end, occurrences, parse_hhmm
from db import events as repo
from db.errors import is_transient
from db.guilds import GuildSettings, get_settings

if TYPE_CHECKING:
    from bot.app import StatsBot

log = logging.getLogger(__name__)

KIND: Final = "event"
# Voice events still in flight when an event ends land within this (the loop flushes first).
SETTLE: Final = timedelta(seconds=5)
VOICE_KINDS: Final = (discord.ChannelType.voice, discord.ChannelType.stage_voice)


def plans(events: Iterable[repo.EventConfig]) -> list[EventPlan]:
    """The scheduler's view of configured events."""
    return [EventPlan(e.id, e.start_time, e.minutes, e.days) for e in events]


def event_channels(guild: discord.Guild, event: repo.EventConfig, stored: dict[int, str]) -> dict[int, str]:
    """The event's voice channels by id with their names: listed ids, or names matching the pattern; never AFK."""
    names = dict(stored)
    names.update({c.id: c.name for c in guild.channels if c.type in VOICE_KINDS})
    if event.pattern is not None:
        voice = {c.id for c in guild.channels if c.type in VOICE_KINDS}
        chosen = {
            i: n
            for i, n in names.items()
            if (i in voice or guild.get_channel(i) is None) and fnmatch.fnmatchcase(n.lower(), event.pattern.lower())
        }
    else:
        chosen = {i: names.get(i, f"channel {i}") for i in event.channel_ids}
    if guild.afk_channel is not None:
        chosen.pop(guild.afk_channel.id, None)
    return chosen


def event_title(event: repo.EventConfig) -> str:
    """The event's name in reports: ``Event 07:00 (60 min)``."""
    return f"Event {event.start_time} ({event.minutes} min)"


async def attendance(
    bot: StatsBot, guild: discord.Guild, event: repo.EventConfig, occ: Occurrence
) -> tuple[dict[int, npt.NDArray[np.bool_]], dict[int, str]]:
    """Per member present, one flag per minute of the occurrence; and the event's channels."""
    stored = await repo.stored_channel_names(bot.engine, guild.id)
    channels = event_channels(guild, event, stored)
    if not channels:
        return {}, {}
    sessions = await repo.sessions_between(bot.engine, guild.id, occ.start, occ.end)
    flags = presence(sessions, int(occ.start.timestamp()), occ.minutes, channels.keys())
    # The table is checked in SQL; an opt-out not yet written is in the bot's memory.
    return {u: f for u, f in flags.items() if not bot.optouts.excluded(guild.id, u)}, channels


def build_report(
    guild: discord.Guild,
    event: repo.EventConfig,
    occ: Occurrence,
    flags: dict[int, npt.NDArray[np.bool_]],
    channels: dict[int, str],
    tz: str,
) -> tuple[models.EventHourReport, discord.Embed, str]:
    """The render model, the embed (minutes per member, one line each) and the alt text."""
    people = sorted(
        (models.EventAttendee(display_name(guild, u), row.astype(bool), u) for u, row in flags.items()),
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
        super().__init__(bot, "event-hour reports")

    def now(self) -> datetime:
        """The bot's clock as an aware UTC datetime."""
        return datetime.fromtimestamp(self.bot.clock(), UTC)

    # -- the posting loop -------------------------------------------------------------------

    async def post_due(self, now: datetime) -> datetime | None:
        """Post every event report due and not yet posted; the next time one is due."""
        upcoming: list[datetime] = []
        pending = Settle(self.bot)
        for guild in list(self.bot.guilds):
            if guild.unavailable:
                continue
            try:
                nxt = await self.guild_due(guild, now, pending)
            except Exception as error:
                if is_transient(error):
                    raise  # the loop retries the whole pass
                log.exception("event reports of guild %s failed; the others go on", guild.id)
                continue
            if nxt is not None:
                upcoming.append(nxt)
        return min(upcoming, default=None)

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
        done = await repo.posted_keys(self.bot.engine, guild.id, KIND, [o.key for o in due])
        for occ in sorted((o for o in due if o.key not in done), key=lambda o: (o.end, o.event_id)):
            await pending.once()
            await self.post_occurrence(guild, settings, by_id[occ.event_id], occ)
        nxt = next_end(plans(events), cutoff, tz)
        return None if nxt is None else nxt + SETTLE

    async def post_occurrence(
        self, guild: discord.Guild, settings: GuildSettings, event: repo.EventConfig, occ: Occurrence
    ) -> bool:
        """Claim, build and post one occurrence's report; True when this call posted it."""
        engine = self.bot.engine
        if not await repo.claim(engine, guild.id, KIND, occ.key, self.now()):
            return False
        try:
            flags, channels = await attendance(self.bot, guild, event, occ)
            if not flags:
                return False  # nobody attended: nothing to post, the claim records it as handled
            channel = report_channel(guild, settings)
            if channel is None:
                gone = settings.report_channel_id is not None
                self._warn(guild, "the report channel is gone" if gone else "no report channel is set")
                return False
            model, embed, alt = build_report(guild, event, occ, flags, channels, settings.timezone)
            message = await post_image(self.bot, channel, "event_hour", model, alt, embed)
        except discord.HTTPException as error:
            await repo.release(engine, guild.id, KIND, occ.key)
            self._warn(guild, f"posting to the report channel failed ({error.status})")
            return False
        except BaseException:
            await repo.release(engine, guild.id, KIND, occ.key)
            raise
        await repo.record_message(engine, guild.id, KIND, occ.key, message.id)
        self._warned.discard(guild.id)
        log.info("posted event report %s in guild %s", occ.key, guild.id)
        return True

    # -- /event report ------------------------------------------------------------------------

    @event.command(name="report", description="Minute-by-minute presence at an event, and minutes per member")
    @app_commands.describe(
        date="Day the event started, YYYY-MM-DD (default: the latest event)",
        start="Start time of the event, HH:MM (default: the latest that day)",
    )
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
        model, embed, alt = build_report(guild, event, occ, flags, channels, settings.timezone)
        png = await self.bot.render_pool.render("event_hour", model)
        embed.set_image(url="attachment://event_hour.png")
        file = discord.File(io.BytesIO(png), filename="event_hour.png", description=alt[:MAX_ALT])
        await interaction.followup.send(embed=embed, file=file, allowed_mentions=NO_MENTIONS)


def _parse_date(value: str) -> date:
    """``YYYY-MM-DD`` or a UserError."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UserError("The date must look like 2026-11-22 (YYYY-MM-DD).") from None


async def setup(bot: StatsBot) -> None:
    """Load the cog."""
    await bot.add_cog(Events(bot))
