"""The bot's cogs: one feature per module. Which are loaded, and in what order: bot/extensions.py."""

from __future__ import annotations

from bot.extensions import COMMAND_EXTENSIONS, TRACKING_EXTENSIONS

__all__ = ["COMMAND_EXTENSIONS", "TRACKING_EXTENSIONS"]
