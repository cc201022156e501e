"""Report queries: totals, series, rankings and cards behind /stats, /top, /emojis and /invites.

``spans`` decides how a period is read (rollups for whole UTC days, hourly rows at
the edges, opt-outs left out); ``queries`` holds the ``Reports`` repository;
``snapshots`` keeps answers over whole past days until the guild's history
changes; ``results`` the plain data it returns.
"""

from db.reports.queries import METRICS, Reports
from db.reports.results import (
    ChannelInfo,
    EmojiCount,
    HourlyPoint,
    InviteFigures,
    InviterFigures,
    Totals,
    VoiceStates,
)
from db.reports.snapshots import KeyedTotals, Snapshots
from db.reports.spans import ROLLUP_AFTER, Span, split_period

__all__ = [
    "METRICS",
    "ROLLUP_AFTER",
    "ChannelInfo",
    "EmojiCount",
    "HourlyPoint",
    "InviteFigures",
    "InviterFigures",
    "KeyedTotals",
    "Reports",
    "Snapshots",
    "Span",
    "Totals",
    "VoiceStates",
    "split_period",
]
