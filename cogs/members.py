"""Members' last known display names, with when they joined and left.

Stores one ``mname`` record per guild member (``member_names``: display name, join
time, leave time, when seen): for every member when a guild becomes available, and
at each join, name change and leave. Reports show a member who left by this name
("Ana (left)"), and the weekly summary uses the join and leave times to judge who
was a member during an event. Bots are not recorded; a member who opted out gets
no record, and ``/privacy optout mode:delete`` erases it with the member's other rows.
"""

from __future__ import annotations

import logging
from datetime import datetime

import discord
from discord.ext import commands

from bot.app import StatsBot
from db.series import MEMBER_NAME

log = logging.getLogger(__name__)


def _epoch(moment: object) -> int | None:
    """Whole epoch seconds of an aware datetime, None for anything else."""
    return int(moment.timestamp()) if isinstance(moment, datetime) else None


class MemberNames(commands.Cog):
    """Records the last display name the bot saw of each member, and their joins and leaves."""

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot
        self.counters = bot.counters
        self.optouts = bot.optouts

    def now(self) -> int:
        return int(self.bot.clock())

    def note(self, guild_id: int, user: discord.abc.User, *, left: bool = False) -> None:
        """Buffer one sighting of ``user`` (a member unless ``left``)."""
        if user.bot or self.optouts.excluded(guild_id, user.id):
            return
        now = self.now()
        joined = _epoch(getattr(user, "joined_at", None))
        self.counters.record(
            (MEMBER_NAME.code, guild_id, user.id), (user.display_name, joined, now if left else None, now)
        )

    def note_guild(self, guild: discord.Guild) -> None:
        """Buffer every cached member of ``guild``."""
        for member in guild.members:
            self.note(guild.id, member)

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        self.note_guild(guild)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.note_guild(guild)

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        self.note(member.guild.id, member)

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if before.display_name != after.display_name:
            self.note(after.guild.id, after)

    @commands.Cog.listener()
    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        self.note(payload.guild_id, payload.user, left=True)


async def setup(bot: StatsBot) -> None:
    """Load the cog."""
    await bot.add_cog(MemberNames(bot))
