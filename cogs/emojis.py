"""Emoji tracking.

Stores, per guild, UTC hour, channel and member, how often each emoji was used,
kept apart by kind: ``message`` (each occurrence in a created message's content:
unicode RGI sequences without U+FE0F, custom emojis as ``<:name:id>`` /
``<a:name:id>``) and ``reaction`` (each reaction added; removals do not subtract).
The same messages count as for message tracking: no bots, webhooks, system
messages or members who opted out; edits do not count again.
"""

from __future__ import annotations

import functools
import logging

import discord
from discord.ext import commands

from bot.app import StatsBot
from bot.tracking.emoji_scan import REACTION_KIND, count_emojis, custom_emoji_scanner, reaction_name
from bot.tracking.feed import MemberHandler
from bot.tracking.messages import count_message_emojis
from db.series import hour_of

log = logging.getLogger(__name__)


class EmojiTracker(commands.Cog):
    """Counts emojis in messages and reactions added."""

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot
        self.counters = bot.counters
        self.optouts = bot.optouts
        self.scanner = custom_emoji_scanner(bot)
        # Counts the emojis of one countable message; a partial saves a call per message.
        self.handle_message: MemberHandler = functools.partial(count_message_emojis, self.counters, self.scanner)

    async def cog_load(self) -> None:
        self.bot.feed.subscribe_members(self.handle_message)

    async def cog_unload(self) -> None:
        self.bot.feed.unsubscribe(self.handle_message)

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.handle_reaction(payload)

    def handle_reaction(self, payload: discord.RawReactionActionEvent) -> None:
        """Count one reaction added by a member, in the channel of the message."""
        guild_id = payload.guild_id
        if guild_id is None:
            return
        member = payload.member
        if member is not None:
            if member.bot:
                return
        else:
            user = self.bot.get_user(payload.user_id)
            if user is not None and user.bot:
                return
        if self.optouts.excluded(guild_id, payload.user_id):
            return
        e = payload.emoji
        name = reaction_name(e.name, e.id, e.animated)
        if name is None:
            return
        if e.id is not None and (known := self.bot.get_emoji(e.id)) is not None:
            name = reaction_name(known.name, known.id, known.animated) or name
        # A reaction has no id of its own: its hour is when the gateway delivered it.
        hour = hour_of(self.bot.clock())
        count_emojis(self.counters, guild_id, hour, payload.channel_id, payload.user_id, [name], REACTION_KIND)


async def setup(bot: StatsBot) -> None:
    await bot.add_cog(EmojiTracker(bot))
