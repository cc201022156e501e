"""Slash-command options shared by the cogs: period choices in words, ranges, autocompletes, cooldowns.

Discord enforces what an option declares before the bot sees it: a number outside its
``app_commands.Range`` or a period that is not a choice never reaches a command. Free
text that would otherwise have to be typed as a code (a date, a time of day, an ISO
week) gets an autocomplete of the values that make sense, labelled in words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo

import discord
from discord import app_commands

from bot.analytics.periods import PERIOD_CHOICES, iso_week_label, parse_iso_week

# The contract's period values, shown as words.
PERIOD_WORDS: Final = {
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "365d": "Last 365 days",
    "all": "All time",
}
MAX_SUGGESTIONS: Final = 25  # Discord's limit for choices and autocomplete results
RECENT_DAYS: Final = 14
RECENT_WEEKS: Final = 8
TIME_STEP_MINUTES: Final = 30
# Image commands: a member may ask for this many images per window, a guild for that many.
MEMBER_IMAGES: Final = (3, 30.0)
GUILD_IMAGES: Final = (15, 60.0)

F = TypeVar("F", bound=Callable[..., Any])


def period_choices() -> list[app_commands.Choice[str]]:
    """The ``period`` choices: "Last 7 days" shown, ``7d`` sent."""
    return [app_commands.Choice(name=PERIOD_WORDS[p], value=p) for p in PERIOD_CHOICES]


def matching(choices: Iterable[app_commands.Choice[str]], current: str) -> list[app_commands.Choice[str]]:
    """The choices whose words or value contain what was typed so far (all when nothing), at most 25."""
    typed = current.strip().lower()
    found = [c for c in choices if not typed or typed in c.name.lower() or typed in c.value.lower()]
    return found[:MAX_SUGGESTIONS]


def recent_days(now: datetime, tz: ZoneInfo, current: str, count: int = RECENT_DAYS) -> list[app_commands.Choice[str]]:
    """The last ``count`` local days, today first: ``2026-11-22`` sent, "Sun 22 Nov 2026 (today)" shown."""
    today = now.astimezone(tz).date()
    choices = []
    for back in range(count):
        day = today - timedelta(days=back)
        when = " (today)" if back == 0 else " (yesterday)" if back == 1 else ""
        choices.append(app_commands.Choice(name=f"{day:%a %d %b %Y}{when}", value=day.isoformat()))
    return matching(choices, current)


def recent_weeks(
    now: datetime, tz: ZoneInfo, current: str, count: int = RECENT_WEEKS
) -> list[app_commands.Choice[str]]:
    """The last ``count`` whole ISO weeks, latest first, labelled by their dates ("2026-W47 · 16–22 Nov 2026")."""
    this_monday = parse_iso_week(iso_week_label(now, tz), tz).start.astimezone(tz).date()
    choices = []
    for back in range(1, count + 1):
        monday = this_monday - timedelta(days=7 * back)
        sunday = monday + timedelta(days=6)
        year, week, _ = monday.isocalendar()
        value = f"{year:04d}-W{week:02d}"
        span = (
            f"{monday:%d %b} – {sunday:%d %b %Y}" if monday.month != sunday.month else f"{monday:%d}–{sunday:%d %b %Y}"
        )
        last = " (last week)" if back == 1 else ""
        choices.append(app_commands.Choice(name=f"{value} · {span}{last}", value=value))
    return matching(choices, current)


def times_of_day(
    current: str, known: Sequence[tuple[str, str]] = (), step: int = TIME_STEP_MINUTES
) -> list[app_commands.Choice[str]]:
    """``HH:MM`` suggestions: the ``known`` ones first (value, words), then every ``step`` minutes of the day."""
    choices = [app_commands.Choice(name=words, value=value) for value, words in known]
    seen = {value for value, _ in known}
    for minute in range(0, 24 * 60, step):
        value = f"{minute // 60:02d}:{minute % 60:02d}"
        if value not in seen:
            choices.append(app_commands.Choice(name=value, value=value))
    typed = current.strip()
    if typed:
        # "16" finds 16:00 and 16:30 (and a known 16:45); the words match too ("study").
        found = [c for c in choices if c.value.startswith(typed) or typed.lower() in c.name.lower()]
        return found[:MAX_SUGGESTIONS]
    return choices[:MAX_SUGGESTIONS]


def _member_key(interaction: discord.Interaction) -> tuple[int | None, int]:
    return interaction.guild_id, interaction.user.id


def _guild_key(interaction: discord.Interaction) -> int | None:
    return interaction.guild_id


def _cooldown(rate: int, per: float) -> Callable[[discord.Interaction], app_commands.Cooldown | None]:
    def factory(interaction: discord.Interaction) -> app_commands.Cooldown | None:
        # The demo (and the tests built on it) run commands faster than people do, on purpose.
        if not getattr(interaction.client, "command_cooldowns", True):
            return None
        return app_commands.Cooldown(rate, per)

    return factory


def image_cooldown(func: F) -> F:
    """Cooldowns of an image command, per member and per guild; over them: "try again in N s" (ephemeral)."""
    member_rate, member_per = MEMBER_IMAGES
    guild_rate, guild_per = GUILD_IMAGES
    func = app_commands.checks.dynamic_cooldown(_cooldown(member_rate, member_per), key=_member_key)(func)
    func = app_commands.checks.dynamic_cooldown(_cooldown(guild_rate, guild_per), key=_guild_key)(func)
    return func
