"""What every report command needs first: the guild's period, and names for ids."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import discord

from bot.analytics.periods import Period, parse_period, parse_timezone
from bot.commands.errors import NothingRecorded
from bot.reports.builders import fallback_name
from db.coverage import gaps as stored_gaps
from db.guilds import get_settings
from db.names import names_of
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


def duration_words(seconds: int) -> str:
    """``2 h 10 min``, ``45 min``, ``30 s``: how long a gap lasted, in the report's notice."""
    if seconds < 60:
        return f"{max(0, seconds)} s"
    minutes = round(seconds / 60)
    h, m = divmod(minutes, 60)
    if not h:
        return f"{m} min"
    return f"{h} h {m} min" if m else f"{h} h"


def coverage_notice(offline_s: int) -> str | None:
    """The one line a report over a period with gaps carries; None without any."""
    if offline_s <= 0:
        return None
    return f"bot offline {duration_words(offline_s)} in this period: messages recovered, voice not recorded"


async def coverage_line(bot: StatsBot, guild_id: int, period: Period) -> str | None:
    """The one line a report carries when its period contains gaps in live tracking (#16), else None."""
    gaps = await stored_gaps(bot.engine, guild_id, period.start, period.end)
    offline = sum(max(0.0, (min(g.to_at, period.end) - max(g.from_at, period.start)).total_seconds()) for g in gaps)
    return coverage_notice(round(offline))


async def with_coverage(bot: StatsBot, guild_id: int, period: Period, footer: str) -> str:
    """A report's footer with the coverage line under it when the period contains gaps."""
    line = await coverage_line(bot, guild_id, period)
    return footer if line is None else f"{footer}\n{line}"


def member_name(guild: discord.Guild, user_id: int) -> str:
    """A member's display name from discord.py's cache, else ``User 1234``."""
    member = guild.get_member(user_id)
    return member.display_name if member is not None else fallback_name(user_id)


async def member_names(bot: StatsBot, guild: discord.Guild, user_ids: Iterable[int]) -> dict[int, str]:
    """Display names of ``user_ids``: members by their name, members who left by the last name seen, "(left)".

    Only an id the bot never saw a name for falls back to ``User 1234``.
    """
    wanted = set(user_ids)
    out = {u: m.display_name for u in wanted if (m := guild.get_member(u)) is not None}
    gone = wanted - set(out)
    stored = await names_of(bot.engine, guild.id, gone) if gone else {}
    for user in gone:
        seen = stored.get(user)
        out[user] = f"{seen.name} (left)" if seen is not None else fallback_name(user)
    return out


def channel_name(guild: discord.Guild, channel_id: int, stored: dict[int, ChannelInfo]) -> str:
    """A channel's or thread's name from the cache, else from the ``channels`` table, else its id."""
    channel = guild.get_channel_or_thread(channel_id)
    if channel is not None:
        return channel.name
    info = stored.get(channel_id)
    return info.name if info is not None else f"channel {channel_id}"
