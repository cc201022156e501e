"""Message tracking.

Stores, per guild, UTC hour (the message's snowflake time), channel (the thread's id
for threads and forum posts) and member: ``messages``, ``characters`` (code points
of the content as received), ``attachments`` and ``replies``; and a ``channel``
record per channel and thread (parent, kind, name) so reports can put threads under
their parent. Never message content. Bots, webhooks, system messages and members who
opted out are not counted; edits and deletions change nothing.
"""

from __future__ import annotations

import logging
from typing import Final

import discord
from discord.ext import commands

from bot.app import StatsBot
from bot.tracking.messages import Place, channel_record, count_message

log = logging.getLogger(__name__)

# Forget which channels were recorded past this many (they are recorded again: harmless).
_KNOWN_MAX: Final = 200_000


class MessageTracker(commands.Cog):
    """Counts members' messages per channel and hour."""

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot
        self.counters = bot.counters
        self.optouts = bot.optouts
        self._known: set[int] = set()
        # The first message live tracking counted in each channel during this run (backfill's boundary).
        self.first_seen: dict[int, int] = {}

    async def cog_load(self) -> None:
        self.bot.feed.subscribe_members(self.handle_message)
        for guild in self.bot.guilds:
            self.record_channels(guild)

    async def cog_unload(self) -> None:
        self.bot.feed.unsubscribe(self.handle_message)

    def handle_message(self, message: discord.Message, place: Place) -> None:
        """Count one created message (the feed passes only countable ones)."""
        count_message(self.counters, message, place)
        if place[2] not in self.first_seen:
            self._first_in_channel(message, place)

    def _first_in_channel(self, message: discord.Message, place: Place) -> None:
        """The first message counted in a channel this run: note it, record the channel if new."""
        self.first_seen[place[2]] = message.id
        if place[2] not in self._known:
            self._remember(message.channel, place[0])

    def _remember(self, channel: object, guild_id: int) -> None:
        rec = channel_record(channel, guild_id)
        if rec is None:
            return
        if len(self._known) >= _KNOWN_MAX:
            self._known.clear()
        self._known.add(rec[0][2])  # type: ignore[arg-type]
        self.counters.record(*rec)

    def record_channels(self, guild: discord.Guild) -> None:
        """Record every channel and active thread of a guild (names and parents for reports)."""
        for channel in guild.channels:
            self._remember(channel, guild.id)
        for thread in guild.threads:
            self._remember(thread, guild.id)

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        self.record_channels(guild)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.record_channels(guild)

    @commands.Cog.listener()
    async def on_guild_channel_create(self, channel: discord.abc.GuildChannel) -> None:
        self._remember(channel, channel.guild.id)

    @commands.Cog.listener()
    async def on_guild_channel_update(self, _before: discord.abc.GuildChannel, after: discord.abc.GuildChannel) -> None:
        self._remember(after, after.guild.id)

    @commands.Cog.listener()
    async def on_thread_create(self, thread: discord.Thread) -> None:
        self._remember(thread, thread.guild.id)

    @commands.Cog.listener()
    async def on_thread_update(self, _before: discord.Thread, after: discord.Thread) -> None:
        self._remember(after, after.guild.id)


async def setup(bot: StatsBot) -> None:
    await bot.add_cog(MessageTracker(bot))
