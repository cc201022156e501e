"""Report images: data models, alt text, and a process pool running the renderers.

Importing this package does not import matplotlib; the renderers (``bot.render.reports``
and the modules it imports) do, in the render workers.
"""

from bot.render.alt import ALT_TEXT_LIMIT, alt_text
from bot.render.models import (
    ActivitySeries,
    ChannelReport,
    EmojiReport,
    EmojiUse,
    EventAttendee,
    EventHourReport,
    InviteReport,
    InviterRow,
    LeaderboardReport,
    MentorReport,
    Period,
    RankedItem,
    ServerReport,
    UserReport,
    VoiceBreakdown,
    WeeklyReport,
    WeeklyTotal,
)
from bot.render.pool import RenderPool
from bot.render.theme import CARD_SIZE, CHART_SIZE, EVENT_HOUR_WIDTH

KINDS = ("server", "user", "channel", "leaderboard", "emojis", "invites", "event_hour", "weekly", "mentor")

__all__ = [
    "ALT_TEXT_LIMIT",
    "CARD_SIZE",
    "CHART_SIZE",
    "EVENT_HOUR_WIDTH",
    "KINDS",
    "ActivitySeries",
    "ChannelReport",
    "EmojiReport",
    "EmojiUse",
    "EventAttendee",
    "EventHourReport",
    "InviteReport",
    "InviterRow",
    "LeaderboardReport",
    "MentorReport",
    "Period",
    "RankedItem",
    "RenderPool",
    "ServerReport",
    "UserReport",
    "VoiceBreakdown",
    "WeeklyReport",
    "WeeklyTotal",
    "alt_text",
]
