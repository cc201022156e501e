"""Every report kind mapped to its renderer, and the image size each one produces.

Importing this module imports matplotlib (with the Agg backend): do it in a render
worker, not on the bot's event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from bot.render.cards import MENTOR_SIZE, USER_SIZE, render_mentor, render_user
from bot.render.charts import (
    EMOJIS_SIZE,
    INVITES_SIZE,
    SERVER_SIZE,
    leaderboard_size,
    render_channel,
    render_emojis,
    render_invites,
    render_leaderboard,
    render_server,
)
from bot.render.event_hour import event_hour_size, render_event_hour
from bot.render.models import EventHourReport, LeaderboardReport
from bot.render.theme import THEMES
from bot.render.weekly import WEEKLY_SIZE, render_weekly

RENDERERS: Final[dict[str, Callable[..., bytes]]] = {
    "server": render_server,
    "user": render_user,
    "channel": render_channel,
    "leaderboard": render_leaderboard,
    "emojis": render_emojis,
    "invites": render_invites,
    "event_hour": render_event_hour,
    "weekly": render_weekly,
    "mentor": render_mentor,
}

# Every image is CANVAS_W wide; fixed-size kinds are as tall as their stacked panels.
# The leaderboard's entry is its width with a full 10 rows; it and event_hour grow with their rows.
SIZES: Final[dict[str, tuple[int, int]]] = {
    "server": SERVER_SIZE,
    "user": USER_SIZE,
    "channel": SERVER_SIZE,
    "leaderboard": leaderboard_size(10),
    "emojis": EMOJIS_SIZE,
    "invites": INVITES_SIZE,
    "weekly": WEEKLY_SIZE,
    "mentor": MENTOR_SIZE,
}


def image_size(kind: str, model: Any) -> tuple[int, int]:
    """The pixel size of the image ``render(kind, model)`` returns."""
    if kind == "event_hour":
        assert isinstance(model, EventHourReport)
        return event_hour_size(len(model.attendees))
    if kind == "leaderboard":
        assert isinstance(model, LeaderboardReport)
        return leaderboard_size(len(model.entries))
    return SIZES[kind]


def render(kind: str, model: Any, theme: str = "dark") -> bytes:
    """Render report ``kind`` for ``model`` as PNG bytes, in this process."""
    try:
        function = RENDERERS[kind]
    except KeyError:
        raise ValueError(f"unknown report kind {kind!r}") from None
    return function(model, theme=THEMES[theme])
