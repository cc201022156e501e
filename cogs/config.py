"""/config: the server's settings (timezone, report channel, events, mentor role, weekly post, retention).

Stores settings in ``guild_settings`` (db/guilds.py) and events in ``events`` with
their history (db/events.py); no member data. Manage Server only: registered as the group's
default permission and checked in every command. Replies are short and ephemeral.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final
from zoneinfo import available_timezones

import discord
from discord import app_commands
from discord.app_commands import Choice
from discord.ext import commands

from bot.analytics.nudges import MAX_INTERVAL_DAYS, check_text, nudge_text
from bot.analytics.periods import parse_timezone
from bot.commands.errors import UserError
from bot.commands.options import matching, times_of_day
from bot.commands.permissions import require_manage
from bot.hooks import Topic
from bot.posts.eventconfig import (
    DEFAULT_MINUTES,
    MAX_MINUTES,
    MAX_NAME,
    ChannelSpec,
    days_text,
    parse_channels,
    parse_days,
    parse_minutes,
    parse_name,
    parse_start,
)
from db import events as events_db
from db.guilds import GuildSettings, get_settings, update_settings
from db.nudges import DEFAULT_INTERVAL_DAYS, ActingSettings, get_acting, update_acting
from db.roles import RoleRule, list_rules

if TYPE_CHECKING:
    from bot.app import StatsBot

log = logging.getLogger(__name__)

WEEKDAY_NAMES: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_RETENTION_DAYS: Final = 36500
# The scheduled reports whose times follow the timezone, the report channel, the events and the weekly time.
SCHEDULED_REPORTS: Final[tuple[Topic, ...]] = ("events", "weekly", "digest")
# What the bot needs in the report channel to post reports.
REPORT_PERMISSIONS: Final = {
    "view_channel": "view",
    "send_messages": "send messages",
    "embed_links": "embed links",
    "attach_files": "attach files",
}


def missing_report_permissions(channel: discord.abc.GuildChannel, me: discord.Member) -> list[str]:
    """The permissions the bot lacks to post reports in ``channel``, in words."""
    perms = channel.permissions_for(me)
    return [words for name, words in REPORT_PERMISSIONS.items() if not getattr(perms, name)]


def timezone_choices(zones: list[str], current: str, limit: int = 25) -> list[str]:
    """Timezone names for autocomplete: names starting with what was typed first, then names containing it."""
    typed = current.strip().lower().replace(" ", "_")
    starts = [z for z in zones if z.lower().startswith(typed)]
    contains = [z for z in zones if typed in z.lower() and z not in starts] if typed else []
    return (starts + contains)[:limit]


def event_line(event: events_db.EventConfig) -> str:
    """One configured event in words, its name first when it has one: ``Morning study: 07:00 for 60 min, …``."""
    spec = ChannelSpec(ids=event.channel_ids, pattern=event.pattern)
    words = f"{event.start_time} for {event.minutes} min, {days_text(event.days)}, in {spec.text() or 'no channel'}"
    return f"{event.name}: {words}" if event.name else words


def acting_lines(acting: ActingSettings, settings: GuildSettings, rules: int, applied: int) -> list[str]:
    """``/config show``'s lines for the mentor digest, nudges and activity roles."""
    when = f"{WEEKDAY_NAMES[settings.weekly_weekday % 7]}s {settings.weekly_time}"
    if not acting.digest_enabled:
        digest = "off"
    elif acting.digest_channel_id is not None:
        digest = f"on, posted in <#{acting.digest_channel_id}> on {when}"
    else:
        mentors = f"<@&{settings.mentor_role_id}>" if settings.mentor_role_id else "the mentor role (not set)"
        digest = f"on, by DM to each mentor ({mentors}) on {when}"
    if acting.nudges_enabled:
        after = f" or, regular before, silent {acting.nudge_after_days} days" if acting.nudge_after_days else ""
        nudges = f"on: when drop-off risk becomes high{after}; at most once in {acting.nudge_interval_days} days"
    else:
        nudges = "off"
    text = acting.nudge_text
    shown = "the default" if text is None else "“" + (text if len(text) <= 120 else text[:119] + "…") + "”"
    return [
        f"Mentor digest: {digest}",
        f"Nudges: {nudges}",
        f"Nudge text: {shown}",
        f"Activity roles: {rules} rule{'s' if rules != 1 else ''}" + (f", {applied} applied" if rules else ""),
    ]


def settings_lines(
    settings: GuildSettings,
    events: list[events_db.EventConfig],
    acting: ActingSettings | None = None,
    rules: Sequence[RoleRule] = (),
) -> list[str]:
    """``/config show``: every setting (digest, nudges and activity roles included), then the events."""
    acting = acting or ActingSettings(settings.guild_id)
    applied = sum(1 for r in rules if r.enabled)
    lines = [
        f"Timezone: {settings.timezone}",
        "Report channel: " + (f"<#{settings.report_channel_id}>" if settings.report_channel_id else "not set"),
        "Mentor role: " + (f"<@&{settings.mentor_role_id}>" if settings.mentor_role_id else "not set"),
        f"Weekly report: {WEEKDAY_NAMES[settings.weekly_weekday % 7]} {settings.weekly_time}",
        "Retention: " + ("keep forever" if settings.retention_days == 0 else f"{settings.retention_days} days"),
        f"Rich Presence tracking: {'on' if settings.presence_tracking else 'off'}",
        *acting_lines(acting, settings, len(rules), applied),
        f"Events ({len(events)}):" if events else "Events: none",
    ]
    lines += [f"• {event_line(e)}" for e in events]
    return lines


class Config(commands.Cog):
    """The /config commands: every setting of this server."""

    config = app_commands.Group(
        name="config",
        description="Settings of the stats bot in this server",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot
        self.zones = sorted(available_timezones())

    @config.command(name="show", description="Show every setting and the configured events")
    async def show(self, interaction: discord.Interaction) -> None:
        """Show every setting and the configured events."""
        member = require_manage(interaction)
        settings = await get_settings(self.bot.engine, member.guild.id)
        events = await events_db.list_events(self.bot.engine, member.guild.id)
        acting = await get_acting(self.bot.engine, member.guild.id)
        rules = await list_rules(self.bot.engine, member.guild.id)
        lines = settings_lines(settings, events, acting, rules)
        embed = discord.Embed(title="Settings", description="\n".join(lines)[:4000])
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @config.command(name="timezone", description="Set the timezone that days, weeks and event times use")
    @app_commands.describe(tz="An IANA timezone name, e.g. Europe/Berlin or America/New_York")
    async def timezone(self, interaction: discord.Interaction, tz: str) -> None:
        """Set the server's timezone."""
        member = require_manage(interaction)
        zone = parse_timezone(tz)
        await update_settings(self.bot.engine, member.guild.id, timezone=zone.key)
        self._replan(member.guild.id)
        await interaction.response.send_message(f"Timezone set to {zone.key}.", ephemeral=True)

    @timezone.autocomplete("tz")
    async def timezone_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Suggest IANA names matching what was typed."""
        return [app_commands.Choice(name=z, value=z) for z in timezone_choices(self.zones, current)]

    @config.command(name="report-channel", description="Set the channel where scheduled reports are posted")
    @app_commands.describe(channel="The text channel for event-hour and weekly reports")
    async def report_channel(self, interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        """Set the report channel, if the bot can post there."""
        member = require_manage(interaction)
        target = member.guild.get_channel(channel.id)
        if not isinstance(target, discord.TextChannel):
            raise UserError("Pick a text channel of this server.")
        missing = missing_report_permissions(target, member.guild.me)
        if missing:
            raise UserError(f"I cannot {', '.join(missing)} in {target.mention}; give me those permissions first.")
        await update_settings(self.bot.engine, member.guild.id, report_channel_id=target.id)
        self._replan(member.guild.id)
        await interaction.response.send_message(f"Reports will be posted in {target.mention}.", ephemeral=True)

    @config.command(name="event", description="Add, remove or list the event hours reported on")
    @app_commands.describe(
        action="add an event, remove the events at a start time, or list them",
        start="Start time HH:MM in the server's timezone, e.g. 16:00 (needed for add and remove)",
        minutes=f"Length in minutes (1–{MAX_MINUTES}, default {DEFAULT_MINUTES})",
        days="Which days: every day (default), weekdays, weekends, mon,wed,fri or mon-fri",
        channels="Voice channel mentions, or a name pattern such as Study* (default: every voice channel)",
        name=f"Shown in the event's reports, e.g. Morning study (at most {MAX_NAME} characters; default: its time)",
    )
    @app_commands.choices(action=[app_commands.Choice(name=a, value=a) for a in ("add", "remove", "list")])
    async def event(
        self,
        interaction: discord.Interaction,
        action: str,
        start: str | None = None,
        minutes: app_commands.Range[int, 1, MAX_MINUTES] = DEFAULT_MINUTES,
        days: str = "every day",
        channels: str | None = None,
        name: app_commands.Range[str, 1, MAX_NAME] | None = None,
    ) -> None:
        """Add, remove or list the event hours."""
        member = require_manage(interaction)
        guild = member.guild
        engine = self.bot.engine
        if action == "list":
            events = await events_db.list_events(engine, guild.id)
            text = "\n".join(f"• {event_line(e)}" for e in events) if events else "No events are configured."
            await interaction.response.send_message(
                text[:2000], ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
            return
        if action not in {"add", "remove"}:
            raise UserError("The action must be add, remove or list.")
        if start is None:
            raise UserError(f"Give the event's start time, e.g. start:16:00, to {action} it.")
        at = parse_start(start)
        if action == "remove":
            # The history keeps the removed events, so that past weeks are judged by them.
            now = datetime.fromtimestamp(self.bot.clock(), UTC)
            removed = await events_db.remove_events(engine, guild.id, at, now)
            self._replan(guild.id)
            if not removed:
                raise UserError(f"No event starts at {at}.")
            plural = "s" if removed > 1 else ""
            await interaction.response.send_message(f"Removed {removed} event{plural} at {at}.", ephemeral=True)
            return
        length = parse_minutes(minutes)
        mask = parse_days(days)
        spec = parse_channels(channels)
        title = parse_name(name)
        for channel_id in spec.ids:
            if not isinstance(guild.get_channel(channel_id), discord.VoiceChannel | discord.StageChannel):
                raise UserError(f"<#{channel_id}> is not a voice channel of this server.")
        await events_db.add_event(
            engine,
            guild.id,
            start_time=at,
            minutes=length,
            days=mask,
            channels=dict(spec.as_json()),
            now=datetime.fromtimestamp(self.bot.clock(), UTC),
            name=title,
        )
        self._replan(guild.id)
        event = events_db.EventConfig(0, guild.id, at, length, mask, spec.ids, spec.pattern, title)
        await interaction.response.send_message(
            f"Event added: {event_line(event)}.", ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )

    @event.autocomplete("start")
    async def event_start_choices(self, interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        """On remove: the configured events; else every half hour of the day."""
        if interaction.guild_id is None:
            return []
        try:
            events = await events_db.list_events(self.bot.engine, interaction.guild_id)
        except Exception:  # an autocomplete never fails loudly: no suggestions
            log.warning("event start autocomplete failed in guild %s", interaction.guild_id, exc_info=True)
            return []
        known = [(e.start_time, event_line(e)[:100]) for e in events]
        if getattr(interaction.namespace, "action", None) == "remove":
            return matching([Choice(name=words, value=value) for value, words in known], current)
        return times_of_day(current, known)

    @config.command(name="mentor-role", description="Set the role whose members may open mentor cards")
    @app_commands.describe(role="The mentor role")
    async def mentor_role(self, interaction: discord.Interaction, role: discord.Role) -> None:
        """Set the mentor role."""
        member = require_manage(interaction)
        if role.guild.id != member.guild.id or role.is_default():
            raise UserError("Pick a role of this server other than @everyone.")
        await update_settings(self.bot.engine, member.guild.id, mentor_role_id=role.id)
        text = f"Mentors are now the members with {role.mention}."
        perms = role.permissions
        if not (perms.view_guild_insights or perms.manage_guild or perms.administrator):
            # Discord's developer policy: member-level activity over time only for those who may view insights.
            text += " Warning: this role lacks View Server Insights, which Discord expects for member-level activity."
        await interaction.response.send_message(text, ephemeral=True)

    @config.command(name="weekly", description="Set when the weekly summary is posted")
    @app_commands.describe(
        weekday="Day of the week (default Monday)", time="Time HH:MM in the server's timezone (default 00:00)"
    )
    @app_commands.choices(weekday=[app_commands.Choice(name=n, value=i) for i, n in enumerate(WEEKDAY_NAMES)])
    async def weekly(self, interaction: discord.Interaction, weekday: int = 0, time: str = "00:00") -> None:
        """Set the weekly summary's weekday and time."""
        member = require_manage(interaction)
        if not 0 <= weekday <= 6:
            raise UserError("The weekday must be Monday to Sunday.")
        at = parse_start(time)
        await update_settings(self.bot.engine, member.guild.id, weekly_weekday=weekday, weekly_time=at)
        self._replan(member.guild.id)
        await interaction.response.send_message(
            f"The weekly summary will be posted on {WEEKDAY_NAMES[weekday]}s at {at}.", ephemeral=True
        )

    @weekly.autocomplete("time")
    async def weekly_time_choices(self, interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        """Every half hour of the day, 00:00 first."""
        return times_of_day(current)

    @config.command(name="retention", description="Drop recorded data older than a number of days")
    @app_commands.describe(days=f"Keep this many days of data (1–{MAX_RETENTION_DAYS}); 0 keeps everything forever")
    async def retention(
        self, interaction: discord.Interaction, days: app_commands.Range[int, 0, MAX_RETENTION_DAYS]
    ) -> None:
        """Set how long data is kept."""
        member = require_manage(interaction)
        if not 0 <= days <= MAX_RETENTION_DAYS:
            raise UserError(f"Retention must be 0 (keep forever) or 1 to {MAX_RETENTION_DAYS} days.")
        await update_settings(self.bot.engine, member.guild.id, retention_days=days)
        if days == 0:
            text = "All data is kept forever."
        else:
            cutoff = datetime.fromtimestamp(self.bot.clock(), UTC) - timedelta(days=days)
            text = (
                f"Keeping {days} day{'s' if days > 1 else ''}: activity and joins recorded before "
                f"{cutoff:%Y-%m-%d %H:%M} UTC will be dropped within the hour, and older data every hour after."
            )
        await interaction.response.send_message(text, ephemeral=True)

    @config.command(name="presence", description="Record which games and apps members show (Rich Presence)")
    @app_commands.describe(enabled="true to record Rich Presence time per member and app, false to stop")
    async def presence(self, interaction: discord.Interaction, enabled: bool) -> None:
        """Turn Rich Presence tracking on or off for this server."""
        member = require_manage(interaction)
        await update_settings(self.bot.engine, member.guild.id, presence_tracking=enabled)
        self.bot.hooks.presence_changed(member.guild, enabled)
        if not enabled:
            text = "Rich Presence is no longer recorded in this server."
        elif self.bot.intents.presences:
            text = "Rich Presence time per member and app is recorded from now on."
        else:
            text = (
                "Rich Presence will be recorded after the bot restarts with the Presence intent "
                "(enable it for the bot in the developer portal)."
            )
        await interaction.response.send_message(text, ephemeral=True)

    @config.command(name="digest", description="The weekly mentor digest of the watchlist: on or off, and where")
    @app_commands.describe(
        state="on: send the watchlist to the mentors every week (at the weekly summary's time); off: stop",
        channel="A mentors' channel to post it in (default: a direct message to each member with the mentor role)",
    )
    @app_commands.choices(state=[app_commands.Choice(name=v, value=v) for v in ("on", "off")])
    async def digest(
        self, interaction: discord.Interaction, state: str, channel: discord.TextChannel | None = None
    ) -> None:
        """Turn the weekly mentor digest on or off, to a channel or as DMs to the mentors."""
        member = require_manage(interaction)
        guild = member.guild
        if state not in {"on", "off"}:
            raise UserError("The state must be on or off.")
        if state == "off":
            await update_acting(self.bot.engine, guild.id, digest_enabled=False)
            self.bot.hooks.replan(guild.id, "digest")
            await interaction.response.send_message("The weekly mentor digest is off.", ephemeral=True)
            return
        settings = await get_settings(self.bot.engine, guild.id)
        when = f"{WEEKDAY_NAMES[settings.weekly_weekday % 7]}s at {settings.weekly_time}"
        if channel is not None:
            target = guild.get_channel(channel.id)
            if not isinstance(target, discord.TextChannel):
                raise UserError("Pick a text channel of this server.")
            missing = [w for w in missing_report_permissions(target, guild.me) if w != "attach files"]
            if missing:
                raise UserError(f"I cannot {', '.join(missing)} in {target.mention}; give me those permissions first.")
            await update_acting(self.bot.engine, guild.id, digest_enabled=True, digest_channel_id=target.id)
            text = f"The mentor digest will be posted in {target.mention} on {when}."
        else:
            if settings.mentor_role_id is None:
                raise UserError("Set the mentor role first (/config mentor-role), or give a channel for the digest.")
            await update_acting(self.bot.engine, guild.id, digest_enabled=True, digest_channel_id=None)
            text = f"The mentor digest will be sent to each mentor (<@&{settings.mentor_role_id}>) by DM on {when}."
        self.bot.hooks.replan(guild.id, "digest")
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())

    @config.command(name="nudges", description="Friendly DMs to members drifting away (off by default)")
    @app_commands.describe(
        state="on: nudge members whose drop-off risk became high; off: never nudge anyone",
        after_days="Also nudge a regular member silent for this many days (default: only at high risk)",
        interval_days=f"At most one nudge per member in this many days (default {DEFAULT_INTERVAL_DAYS})",
        text="The message; placeholders {member}, {guild} and {days} (default: a short friendly text)",
    )
    @app_commands.choices(state=[app_commands.Choice(name=v, value=v) for v in ("on", "off")])
    async def nudges(
        self,
        interaction: discord.Interaction,
        state: str,
        after_days: app_commands.Range[int, 1, MAX_INTERVAL_DAYS] | None = None,
        interval_days: app_commands.Range[int, 1, MAX_INTERVAL_DAYS] = DEFAULT_INTERVAL_DAYS,
        text: str | None = None,
    ) -> None:
        """Turn nudges on or off and set when and how members are nudged."""
        member = require_manage(interaction)
        guild = member.guild
        if state not in {"on", "off"}:
            raise UserError("The state must be on or off.")
        if state == "off":
            await update_acting(self.bot.engine, guild.id, nudges_enabled=False)
            await interaction.response.send_message("Nudges are off: nobody is sent one.", ephemeral=True)
            return
        if after_days is not None and not 1 <= after_days <= MAX_INTERVAL_DAYS:
            raise UserError(f"after_days must be from 1 to {MAX_INTERVAL_DAYS}.")
        if not 1 <= interval_days <= MAX_INTERVAL_DAYS:
            raise UserError(f"interval_days must be from 1 to {MAX_INTERVAL_DAYS}.")
        template = check_text(text) if text is not None else None
        values: dict[str, object] = {"nudges_enabled": True, "nudge_after_days": after_days}
        values["nudge_interval_days"] = interval_days
        if template is not None:
            values["nudge_text"] = template
        saved = await update_acting(self.bot.engine, guild.id, **values)
        self.bot.hooks.replan(guild.id, "nudges")
        when = "their drop-off risk becomes high"
        if after_days is not None:
            when += f" or, regular before, they are silent {after_days} days"
        sample = nudge_text(saved.nudge_text, member=member.display_name, guild=guild.name, days=after_days or 9)
        await interaction.response.send_message(
            f"Nudges are on: members get one DM when {when}, at most once in {interval_days} days. "
            f"It reads:\n> {sample}"[:1900],
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    def _replan(self, guild_id: int) -> None:
        """Tell the scheduled reports that a guild's schedule may have changed."""
        self.bot.hooks.replan(guild_id, *SCHEDULED_REPORTS)


async def setup(bot: StatsBot) -> None:
    """Load the /config commands."""
    await bot.add_cog(Config(bot))
