"""What every report command needs first: the guild's period, and names for ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import discord

from bot.analytics.periods import Period, parse_period, parse_timezone
from bot.commands.errors import NothingRecorded
from bot.reports.builders import fallback_name
from db.guilds import get_settings
from db.reports import ChannelInfo

if TYPE_CHECKING:
    from bot.app import StatsBot


async def guild_period(bot: StatsBot, guild_id: int, value: str) -> Period:
    """The period option in the guild's timezone at the bot's clock; ``NothingRecorded`` for an empty ``all``."""
    settings = await get_settings(bot.engine, guild_id)
    tz = parse_timezone(settings.timezone)
    now = datetime.fromtimestamp(bot.clock(), UTC)
    earliest = await bot.reports.earliest(guild_id) if value == "all" else None
    period = parse_period(value, now, tz, earliest)
    if period.end <= period.start:
        raise NothingRecorded("Nothing has been recorded in this server yet.")
    return period


def member_name(guild: discord.Guild, user_id: int) -> str:
    """A member's display name from discord.py's cache, else ``User 1234``."""
    member = guild.get_member(user_id)
    return member.display_name if member is not None else fallback_name(user_id)


def channel_name(guild: discord.Guild, channel_id: int, stored: dict[int, ChannelInfo]) -> str:
    """A channel's or thread's name from the cache, else from the ``channels`` table, else its id."""
    channel = guild.get_channel_or_thread(channel_id)
    if channel is not None:
        return channel.name
    info = stored.get(channel_id)
    return info.name if info is not None else f"channel {channel_id}"
