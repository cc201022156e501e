"""The bot's cogs: one feature per module."""

from __future__ import annotations

# The tracking cogs, in load order (the lead adds them to bot.app.EXTENSIONS).
TRACKING_EXTENSIONS: tuple[str, ...] = (
    "cogs.messages",
    "cogs.emojis",
    "cogs.apps",
    "cogs.voice",
    "cogs.invites",
    "cogs.backfill",
)
