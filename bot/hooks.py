"""Settings hooks: how /config tells the cogs that follow a guild's settings that they changed.

The Bot holds one ``SettingsHooks`` (nothing to close). A cog registers its
callback in ``cog_load`` and removes it in ``cog_unload``, so no cog looks another
up by name; calling a topic nobody registered does nothing (its cog is not loaded).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeAlias

import discord

# What a scheduled cog plans: event-hour reports, weekly summaries, the mentor digest, nudges.
Topic: TypeAlias = Literal["events", "weekly", "digest", "nudges"]
# Re-plan after the guild's settings changed (the guild's id).
Replan: TypeAlias = Callable[[int], None]
# Start or stop following a guild's Rich Presence (the guild, whether it is now on).
PresenceChanged: TypeAlias = Callable[[discord.Guild, bool], None]


class SettingsHooks:
    """One re-plan callback per topic and one presence callback, registered by the cogs that own them."""

    def __init__(self) -> None:
        self._replans: dict[Topic, Replan] = {}
        self._presence: PresenceChanged | None = None

    def add_replan(self, topic: Topic, callback: Replan) -> None:
        """Call ``callback`` when a guild's settings for ``topic`` change; one callback per topic."""
        if topic in self._replans:
            raise ValueError(f"a re-plan hook for {topic!r} is already registered")
        self._replans[topic] = callback

    def remove_replan(self, topic: Topic, callback: Replan) -> None:
        """Forget ``callback`` for ``topic`` (nothing if another, or none, is registered)."""
        if self._replans.get(topic) == callback:
            del self._replans[topic]

    def add_presence(self, callback: PresenceChanged) -> None:
        """Call ``callback`` when a guild turns Rich Presence tracking on or off."""
        if self._presence is not None:
            raise ValueError("a presence hook is already registered")
        self._presence = callback

    def remove_presence(self, callback: PresenceChanged) -> None:
        """Forget ``callback`` (nothing if another, or none, is registered)."""
        if self._presence == callback:
            self._presence = None

    def replan(self, guild_id: int, *topics: Topic) -> None:
        """Tell the cogs of ``topics`` that the guild's settings changed."""
        for topic in topics:
            callback = self._replans.get(topic)
            if callback is not None:
                callback(guild_id)

    def presence_changed(self, guild: discord.Guild, enabled: bool) -> None:
        """Tell the presence tracker that the guild turned Rich Presence tracking on or off."""
        if self._presence is not None:
            self._presence(guild, enabled)
