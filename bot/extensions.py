"""The cogs the bot loads, by extension name: the bot knows its features by name and loads them
with discord.py's extension mechanism, so that it does not import the cogs (which import it).

Add a new cog's module here to have it loaded.
"""

from __future__ import annotations

# The tracking cogs, in load order.
TRACKING_EXTENSIONS: tuple[str, ...] = (
    "cogs.messages",
    "cogs.emojis",
    "cogs.apps",
    "cogs.voice",
    "cogs.invites",
    "cogs.backfill",
    "cogs.catchup",
    "cogs.presence",
    "cogs.members",
)

# The command cogs (reports and settings), in load order.
COMMAND_EXTENSIONS: tuple[str, ...] = (
    "cogs.stats",
    "cogs.top",
    "cogs.emoji_report",
    "cogs.invite_report",
    "cogs.config",
    "cogs.privacy",
    "cogs.export",
    "cogs.mentor",
    "cogs.events",
    "cogs.weekly",
    "cogs.roles",
    "cogs.digest",
    "cogs.nudges",
    "cogs.dashboard",
)
