"""Event attendance: an event's voice channels, and who was present in each of its minutes.

Shared by the event-hour report and the weekly summary, so that both count the
same minutes: a minute counts for a member present at least 30 seconds of it
(``bot.analytics.attendance``), from the exact voice sessions the voice tracker stored.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

import discord
import numpy as np
import numpy.typing as npt

from bot.analytics.attendance import presence
from bot.posts.schedule import EventPlan, Occurrence
from db import events as repo
from db.voice import sessions_between

if TYPE_CHECKING:
    from bot.app import StatsBot

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
    sessions = await sessions_between(bot.engine, guild.id, occ.start, occ.end)
    flags = presence(sessions, int(occ.start.timestamp()), occ.minutes, channels.keys())
    # The table is checked in SQL; an opt-out not yet written is in the bot's memory.
    return {u: f for u, f in flags.items() if not bot.optouts.excluded(guild.id, u)}, channels
