"""Every report kind mapped to its renderer, and the image size each one produces.

Importing this module imports matplotlib (with the Agg backend): do it in a render
worker, not on the bot's event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from bot.render.cards import render_mentor, render_user
from bot.render.charts import render_channel, render_emojis, render_invites, render_leaderboard, render_server
from bot.render.event_hour import event_hour_size, render_event_hour
from bot.render.models import EventHourReport
from bot.render.theme import CARD_SIZE, CHART_SIZE, THEMES
from bot.render.weekly import render_weekly

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

SIZES: Final[dict[str, tuple[int, int]]] = {
    "server": CARD_SIZE,
    "user": CARD_SIZE,
    "channel": CARD_SIZE,
    "leaderboard": CHART_SIZE,
    "emojis": CHART_SIZE,
    "invites": CHART_SIZE,
    "weekly": CARD_SIZE,
    "mentor": CARD_SIZE,
}


def image_size(kind: str, model: Any) -> tuple[int, int]:
    """The pixel size of the image ``render(kind, model)`` returns."""
    if kind == "event_hour":
        assert isinstance(model, EventHourReport)
        return event_hour_size(len(model.attendees))
    return SIZES[kind]


def render(kind: str, model: Any, theme: str = "dark") -> bytes:
    """Render report ``kind`` for ``model`` as PNG bytes, in this process."""
    try:
        function = RENDERERS[kind]
    except KeyError:
        raise ValueError(f"unknown report kind {kind!r}") from None
    return function(model, theme=THEMES[theme])
