"""The mentor card and the watchlist, composed: the mentor queries (``db.mentor``) and the analytics
(``bot.analytics``) turned into the card's model, its figures and the members at risk.

Shared by ``/mentor``, the mentor digest, nudges and the dashboard, so that all of them
judge a member the same way. Risk needs at least 35 days of history whatever the
period, so every view reads a window of at least ``RISK_WINDOW_DAYS`` local days ending
today; the card's period figures are the last days of that window.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import numpy as np

from bot.analytics import (
    GuildRisk,
    Period,
    WatchlistEntry,
    activity_points,
    assess_guild,
    engagement_scores,
    hour_of_week_profile,
    last_seen,
    summarise_member,
    trend,
)
from bot.render import models
from bot.render.alt import last_seen_text, trend_text
from bot.reports.builders import render_period
from db.days import local_midnight
from db.mentor import ActiveDays, DailyActivity, MemberHours, MentorData, history_columns

log = logging.getLogger(__name__)

# 28 days to learn a member's rhythm, 7 to compare, and a week to spare (risk.py).
RISK_WINDOW_DAYS: Final = 42
# Discord: an embed description holds 4096 characters; keep room for the "more" line.
DESCRIPTION_LIMIT: Final = 4000


@dataclass(frozen=True, slots=True)
class Window:
    """The local days read for risk (at least ``RISK_WINDOW_DAYS``) and how many of the last ones are the period."""

    start: datetime
    period_days: int


def risk_window(period: Period) -> Window:
    """The window ending with the period's last local day: the period's days, or the risk minimum if longer."""
    days = period.days()
    count = max(len(days), RISK_WINDOW_DAYS)
    first = days[-1].date - timedelta(days=count - 1)
    return Window(local_midnight(first, period.tz), len(days))


def assess(days: ActiveDays, first_joined: dict[int, datetime], period: Period) -> GuildRisk:
    """Drop-off risk of every member in the window, with join dates as the start of their history."""
    starts = history_columns(days.member_ids, first_joined, days.first_day, period.tz, days.active)
    # Only active days count for risk (risk.py): an active day stands as one message (bytes, not
    # 64-bit counts: a large guild's window is a million cells).
    messages = days.active.view(np.uint8)
    return assess_guild(messages, np.zeros_like(messages), days.member_ids, starts)


def build_card(
    *,
    guild_name: str,
    display_name: str,
    user_id: int,
    period: Period,
    data: DailyActivity,
    hours: MemberHours,
    period_days: int,
    risk: GuildRisk,
    joined: datetime | None = None,
) -> models.MentorReport:
    """The mentor card model of one member from the guild's window matrices and the member's hourly rows.

    The day figures (active days, streaks, regularity) count the period's days from
    the member's join (``joined``; unknown: from the guild's first recorded day), so
    that days before the member was there, or before the bot saw anything, are not
    counted as inactive.
    """
    row = data.row(user_id)
    n = data.days
    if row is None:
        messages_row = np.zeros(n)
        voice_row = np.zeros(n)
    else:
        messages_row, voice_row = data.messages[row], data.active_s[row]
    history = None
    if row is not None:
        risk_row = int(np.flatnonzero(risk.member_ids == user_id)[0])
        history = int(n - risk.history_days[risk_row])
    start = max(n - period_days, 0, member_start(data, joined, period))
    start = min(start, n - 1)
    summary = summarise_member(messages_row[start:], voice_row[start:], data.first_day + timedelta(days=start))
    points = activity_points(messages_row, voice_row)
    member_trend = trend(points, history_start=history if history is not None else n)
    scores = engagement_scores(data.messages[:, -period_days:], data.active_s[:, -period_days:])
    engagement = round(float(scores[row])) if row is not None else 0
    if row is None:
        level, reason = "low", "no activity in the period"
    else:
        assessment = risk.assessment(int(np.flatnonzero(risk.member_ids == user_id)[0]))
        level, reason = assessment.level.word, assessment.reason
    inside = (hours.epochs >= int(period.start.timestamp())) & (hours.epochs < int(period.end.timestamp()))
    hour_points = activity_points(hours.messages, hours.active_s)
    return models.MentorReport(
        guild_name=guild_name,
        period=render_period(period),
        user_id=user_id,
        display_name=display_name,
        messages=int(hours.messages[inside].sum()),
        voice_minutes=float(hours.active_s[inside].sum()) / 60.0,
        active_days=summary.active_days,
        period_days=summary.days,
        current_streak=summary.current_streak,
        longest_streak=summary.longest_streak,
        regularity=summary.regularity.share_active,
        weekday_spread=summary.regularity.weekday_spread,
        # Messages only, as on the member card: the heatmap says "messages" and holds them.
        heatmap=hour_of_week_profile(hours.epochs[inside], hours.messages[inside], period.tz).reshape(7, 24),
        daily_activity=points[-period_days:].astype(np.float64),
        trend_pct=None if member_trend.ratio is None else (member_trend.ratio - 1.0) * 100.0,
        engagement=engagement,
        risk=level,
        risk_reason=reason,
        last_seen=last_seen(hours.epochs, hour_points),
        trend_word=member_trend.word,
    )


def member_start(data: DailyActivity, joined: datetime | None, period: Period) -> int:
    """The window column of the member's first local day: their join, else the guild's first recorded day."""
    if joined is not None:
        column = (joined.astimezone(period.tz).date() - data.first_day).days
        if column < data.days:  # a join after the window (a clock set back) says nothing
            return column
    recorded = np.flatnonzero(data.messages.any(axis=0) | data.active_s.any(axis=0))
    return int(recorded[0]) if recorded.size else 0


async def build_watchlist(data: MentorData, guild_id: int, period: Period) -> list[WatchlistEntry]:
    """Members at medium or high risk, highest first; opted-out members and those who left are left out."""
    window = risk_window(period)
    # Two connections at once: the database works on both while the rows come back.
    days, joins = await asyncio.gather(
        data.active_days(guild_id, window.start, period.end, period.tz), data.membership(guild_id)
    )
    entries = assess(days, joins.first_joined, period).watchlist()
    log.debug("watchlist of guild %s: %d of %d members flagged", guild_id, len(entries), days.member_ids.size)
    return [e for e in entries if e.member_id not in joins.departed]


def card_figures(model: models.MentorReport) -> dict[str, int | float | str]:
    """The embed fields of a card, one per metric, each just the figure."""
    return {
        "Messages": model.messages,
        "Voice minutes": round(model.voice_minutes),
        "Active days": model.active_days,
        "Current streak": model.current_streak,
        "Longest streak": model.longest_streak,
        "Regularity": f"{model.regularity:.0%}",
        "Weekly spread": f"{model.weekday_spread:.0%}",
        "Trend": trend_text(model.trend_pct, model.trend_word),
        "Engagement": model.engagement,
        "Risk": model.risk,
        "Last seen": (
            "never in this period"
            if model.last_seen is None
            else last_seen_text(model.last_seen, model.period.timezone).removeprefix("Last seen ")
        ),
    }


def watchlist_text(entries: list[WatchlistEntry], limit: int = DESCRIPTION_LIMIT) -> str:
    """One line per member, ``<@id> — high: reason``, cut to ``limit`` characters with a count of the rest."""
    lines: list[str] = []
    used = 0
    for shown, entry in enumerate(entries):
        line = f"<@{entry.member_id}> — {entry.level.word}: {entry.reason}"
        rest = len(entries) - shown - 1
        more = f"\n…and {rest} more" if rest else ""
        if used + len(line) + 1 + len(more) > limit:
            lines.append(f"…and {len(entries) - shown} more")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)
