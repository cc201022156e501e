"""Rich Presence tracking: time per member and game or app, only where an admin enabled it.

Stores, per guild, UTC hour, member, application id (0 when the activity has none)
and activity name, the seconds the member's presence showed it (``presence``
series). Off by default: a guild opts in with ``/config presence``, and the bot
must be allowed the privileged Presence intent. Custom statuses are not
activities. Bots and members who opted out are not recorded.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import discord
from discord.ext import commands

from bot.app import StatsBot
from bot.loops import stopped_within
from bot.tracking.presence_state import Activity, GuildPresence
from db.guilds import presence_guilds

log = logging.getLogger(__name__)

CHECKPOINT_S: Final = 60


def activities_of(member: discord.Member) -> set[Activity]:
    """The games and apps a member's presence shows (custom statuses excluded)."""
    out: set[Activity] = set()
    for a in member.activities:
        if isinstance(a, discord.CustomActivity) or not a.name:
            continue
        app_id = getattr(a, "application_id", None) or 0
        out.add((int(app_id), str(a.name)))
    return out


class PresenceTracker(commands.Cog):
    """Tracks Rich Presence time in the guilds that enabled it."""

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot
        self.enabled: set[int] = set()
        self.guilds: dict[int, GuildPresence] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def now(self) -> int:
        return int(self.bot.clock())

    async def cog_load(self) -> None:
        if self.bot.storage_open:
            self.enabled = set(await presence_guilds(self.bot.engine))
        if self.enabled and not self.bot.intents.presences:
            log.warning(
                "presence tracking is enabled in %d guild(s) but the bot runs without the Presence intent",
                len(self.enabled),
            )
        self.bot.hooks.add_presence(self.set_enabled)
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._checkpoints(), name="presence checkpoints")

    async def cog_unload(self) -> None:
        self.bot.hooks.remove_presence(self.set_enabled)
        self._stop.set()
        if self._task is not None:
            await self._task
        now = self.now()
        for g in self.guilds.values():
            g.close_all(now)
        self.guilds.clear()

    def set_enabled(self, guild: discord.Guild, enabled: bool) -> None:
        """Start or stop tracking a guild at once (``/config presence``, through ``bot.hooks``)."""
        if enabled:
            self.enabled.add(guild.id)
            self.sync_guild(guild)
        else:
            self.enabled.discard(guild.id)
            g = self.guilds.pop(guild.id, None)
            if g is not None:
                g.close_all(self.now())

    async def _checkpoints(self) -> None:
        while not await stopped_within(self._stop, CHECKPOINT_S - self.bot.clock() % CHECKPOINT_S):
            now = self.now()
            for g in self.guilds.values():
                g.checkpoint(now)

    def _guild(self, guild_id: int) -> GuildPresence:
        g = self.guilds.get(guild_id)
        if g is None:
            optouts = self.bot.optouts
            g = self.guilds[guild_id] = GuildPresence(
                guild_id, self.bot.counters, excluded=lambda uid: optouts.excluded(guild_id, uid)
            )
        return g

    def sync_guild(self, guild: discord.Guild) -> None:
        """Start from the presences the guild shows now (GUILD_CREATE, or just enabled)."""
        if guild.id not in self.enabled:
            return
        now = self.now()
        old = self.guilds.pop(guild.id, None)
        if old is not None:
            old.close_all(now)
        g = self._guild(guild.id)
        for member in guild.members:
            if not member.bot:
                g.update(member.id, activities_of(member), now)

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        self.sync_guild(guild)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.sync_guild(guild)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        g = self.guilds.pop(guild.id, None)
        if g is not None:
            g.close_all(self.now())

    @commands.Cog.listener()
    async def on_presence_update(self, _before: discord.Member, after: discord.Member) -> None:
        self.handle_presence(after)

    def handle_presence(self, member: discord.Member) -> None:
        """Bring a member's activities to what their presence shows now."""
        if member.bot or member.guild.id not in self.enabled:
            return
        self._guild(member.guild.id).update(member.id, activities_of(member), self.now())


async def setup(bot: StatsBot) -> None:
    await bot.add_cog(PresenceTracker(bot))
