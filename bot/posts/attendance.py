"""Event attendance: an event's voice channels, and who was present in each of its minutes.

Shared by the event-hour report and the weekly summary, so that both count the
same minutes: a minute counts for a member present at least 30 seconds of it
(``bot.analytics.attendance``), from the exact voice sessions the voice tracker stored.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from datetime import datetime
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
VOICE_KIND_NAMES: Final = frozenset(k.name for k in VOICE_KINDS)


def plans(events: Iterable[repo.EventConfig]) -> list[EventPlan]:
    """The scheduler's view of configured events."""
    return [EventPlan(e.id, e.start_time, e.minutes, e.days) for e in events]


def choose_channels(
    event: repo.EventConfig, known: Iterable[tuple[int, str, bool]], afk_channel_id: int | None = None
) -> dict[int, str]:
    """The event's channels by id with their names, from known ``(id, name, is_voice)`` channels; never AFK.

    Listed ids are taken as they are (named when known); a pattern matches the names of
    voice channels, case-insensitively. The bot passes its live guild (and the channels
    stored since deleted), the dashboard the stored ``channels`` table, so both agree.
    """
    names = {i: (n, v) for i, n, v in known}
    if event.pattern is not None:
        pattern = event.pattern.lower()
        chosen = {i: n for i, (n, v) in names.items() if v and fnmatch.fnmatchcase(n.lower(), pattern)}
    else:
        chosen = {i: names[i][0] if i in names else f"channel {i}" for i in event.channel_ids}
    if afk_channel_id is not None:
        chosen.pop(afk_channel_id, None)
    return chosen


def stored_kind_is_voice(kind: str) -> bool:
    """Whether a ``channels.kind`` (a ``discord.ChannelType`` name) is a voice or stage channel."""
    return kind in VOICE_KIND_NAMES


def event_channels(guild: discord.Guild, event: repo.EventConfig, stored: dict[int, str]) -> dict[int, str]:
    """The event's voice channels by id with their names: listed ids, or names matching the pattern; never AFK."""
    live = {c.id: (c.id, c.name, c.type in VOICE_KINDS) for c in guild.channels}
    # A stored channel no longer in the guild (deleted) still counts for a pattern: its sessions stay.
    known = [*live.values(), *((i, n, True) for i, n in stored.items() if i not in live)]
    return choose_channels(event, known, guild.afk_channel.id if guild.afk_channel is not None else None)


def member_during(joined: datetime | None, left: datetime | None, held: Iterable[Occurrence]) -> bool:
    """Whether a member who joined at ``joined`` (None: unknown) and left at ``left`` (None: still a member)
    was a member during at least one of the ``held`` occurrences ("never present" judges only them)."""
    never = float("inf")
    mask = members_during(
        np.array([-never if joined is None else joined.timestamp()]),
        np.array([never if left is None else left.timestamp()]),
        list(held),
    )
    return bool(mask[0])


def members_during(
    joined: npt.NDArray[np.float64], left: npt.NDArray[np.float64], held: Sequence[Occurrence]
) -> npt.NDArray[np.bool_]:
    """``member_during`` for many members at once: join and leave as epoch seconds (``-inf``: unknown join,
    ``inf``: still a member). A member counts when some occurrence started before they left and ended
    after they joined: among the occurrences starting before the leave, the latest end is after the join."""
    if not held:
        return np.zeros(joined.shape, dtype=bool)
    by_start = sorted(held, key=lambda o: o.start)
    starts = np.array([o.start.timestamp() for o in by_start])
    latest_end = np.maximum.accumulate(np.array([o.end.timestamp() for o in by_start]))
    before_leave = np.searchsorted(starts, left, side="left")
    ok = before_leave > 0
    out = np.zeros(joined.shape, dtype=bool)
    out[ok] = latest_end[before_leave[ok] - 1] > joined[ok]
    return out


def event_title(event: repo.EventConfig) -> str:
    """The event's title in reports: its configured name, else ``Event 07:00 (60 min)``."""
    return event.name or f"Event {event.start_time} ({event.minutes} min)"


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
