"""Turning report query results into render models: series buckets, heatmaps, options.

Pure functions (no Discord, no database), so that the cogs stay thin and the
bucketing is unit-tested on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np

from bot.analytics.periods import PERIOD_CHOICES, Period
from bot.commands.errors import UserError
from bot.render import models
from db.days import HOUR_SECONDS, local_hour_index, local_midnight
from db.reports import HourlyPoint, Span, split_period

# /top metrics: (title, unit in the image, embed field name).
TOP_METRICS: Final[dict[str, tuple[str, str, str]]] = {
    "messages": ("Messages", "messages", "Messages"),
    "voice": ("Voice", "minutes", "Voice minutes"),
    "emojis": ("Emojis", "emojis", "Emojis"),
    "invites": ("Invites", "joins", "Joins"),
    "commands": ("Commands", "uses", "Commands"),
}
LIMIT_RANGE: Final = (1, 25)
DEFAULT_LIMIT: Final = 10
HOURLY_UP_TO: Final = timedelta(days=7)


def check_options(period: str, metric: str | None = None, limit: int | None = None) -> None:
    """Raise ``UserError`` (one short sentence) for an option value outside the command's choices or range."""
    if period not in PERIOD_CHOICES:
        raise UserError("The period must be one of 24h, 7d, 30d, 90d, 365d or all.")
    if metric is not None and metric not in TOP_METRICS:
        raise UserError("The metric must be one of messages, voice, emojis, invites or commands.")
    low, high = LIMIT_RANGE
    if limit is not None and not low <= limit <= high:
        raise UserError(f"The limit must be between {low} and {high}.")


def render_period(period: Period) -> models.Period:
    """The header period of a report image."""
    return models.Period(period.label, period.start, period.end, period.tz.key)


def previous_period(period: Period) -> tuple[Period, str] | None:
    """The period of the same length just before ``period``, and its name ("previous 7 days"); None for ``all``.

    ``24h`` compares with the 24 hours before; ``Nd`` with the N local days before,
    its last day cut at the same time of day as now, so that a half-day today is
    compared with the same half of that day.
    """
    if period.label == "24h":
        return Period("24h", period.start - timedelta(hours=24), period.start, period.tz), "previous 24 hours"
    if not period.label.endswith("d"):
        return None
    days = len(period.days())
    first = period.start.astimezone(period.tz).date() - timedelta(days=days)
    start = local_midnight(first, period.tz)
    wall_end = period.end.astimezone(period.tz).replace(tzinfo=None) - timedelta(days=days)
    end = min(wall_end.replace(tzinfo=period.tz).astimezone(UTC), period.start)
    return Period(period.label, start, end, period.tz), f"previous {days} days"


def changes(now: Mapping[str, float], before: Mapping[str, float] | None) -> tuple[models.Change, ...]:
    """The key figures against the previous period's (none without a previous period)."""
    if before is None:
        return ()
    return tuple(models.Change(name, float(value), float(before.get(name, 0.0))) for name, value in now.items())


def read_span(period: Period, rollups: bool | None = None) -> Span:
    """How to read a period for totals and rankings (rollups for the whole UTC days of long ones)."""
    return split_period(period.start, period.end, rollups)


def hourly_series(period: Period) -> bool:
    """Whether the series goes by hour (up to 7 days) rather than by local day."""
    return period.end - period.start <= HOURLY_UP_TO


def series_span(period: Period, rollups: bool | None = None) -> Span:
    """How to read the series: daily rollups only when local days are UTC days, so buckets stay exact."""
    if hourly_series(period):
        return split_period(period.start, period.end, False)
    aligned = all(d.utc_start.hour == 0 and d.utc_start.minute == 0 for d in period.days())
    return split_period(period.start, period.end, rollups if aligned else False)


def activity_series(points: Sequence[HourlyPoint], period: Period) -> models.ActivitySeries:
    """Messages and voice minutes per hour (up to 7 days) or per local calendar day (beyond)."""
    tz = period.tz
    epochs = np.array([int(p.ts.timestamp()) for p in points], dtype=np.int64)
    messages_in = np.array([p.messages for p in points], dtype=np.float64)
    voice_in = np.array([p.voice_seconds for p in points], dtype=np.float64) / 60.0
    if hourly_series(period):
        first = int(period.start.timestamp()) // HOUR_SECONDS * HOUR_SECONDS
        count = max(1, -(-(int(period.end.timestamp()) - first) // HOUR_SECONDS))
        index = (epochs - first) // HOUR_SECONDS
        start = datetime.fromtimestamp(first, period.start.tzinfo)
        step = 1
    else:
        days = period.days()
        count = len(days)
        index, _ = local_hour_index(epochs, tz, days[0].date) if epochs.size else (epochs, epochs)
        start = days[0].utc_start
        step = 24
    messages = np.zeros(count, dtype=np.float64)
    voice = np.zeros(count, dtype=np.float64)
    keep = (index >= 0) & (index < count)
    np.add.at(messages, index[keep], messages_in[keep])
    np.add.at(voice, index[keep], voice_in[keep])
    return models.ActivitySeries(start, step, messages, voice, timezone=tz.key)


def heatmap(hours: Sequence[tuple[datetime, int]], period: Period) -> models.FloatArray:
    """A 7×24 hour-of-week matrix (Mon..Sun, local hours) of messages."""
    matrix = np.zeros(7 * 24, dtype=np.float64)
    if hours:
        epochs = np.array([int(ts.timestamp()) for ts, _ in hours], dtype=np.int64)
        values = np.array([v for _, v in hours], dtype=np.float64)
        _, slot = local_hour_index(epochs, period.tz, period.start.astimezone(period.tz).date())
        np.add.at(matrix, slot, values)
    return matrix.reshape(7, 24)


def fallback_name(user_id: int) -> str:
    """The name shown for a member the bot no longer sees."""
    return f"User {user_id}"
