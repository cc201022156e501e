"""Voice tracking.

Stores exact voice sessions (``vsess`` records: member, start, channel, end, open)
and, per guild, UTC hour, channel and member, the seconds spent ``deafened_s`` /
``muted_s`` / ``alone_s`` / ``active_s`` (one bucket per second, outside the AFK
channel) plus ``streaming_s`` and ``video_s``. Time is accrued at every change and
at a checkpoint every 30 s, each accrual rewriting the session's end, so a crash
loses at most the time since the last checkpoint and never invents any.

On start and on every GUILD_CREATE the sessions left open in the database are
closed at their last checkpoint and a new session opens for each member in voice.
Bots and members who opted out are not recorded.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import discord
from discord.ext import commands
from sqlalchemy.exc import SQLAlchemyError

from bot.app import StatsBot
from bot.loops import stopped_within
from bot.tracking.voice_state import GuildVoice, VoiceFlags
from db import voice as voice_repo
from db.series import VOICE_SESSION

log = logging.getLogger(__name__)

# Checkpoint period: well inside the 60 s of voice time a crash may lose.
CHECKPOINT_S: Final = 30


def flags_of(state: discord.VoiceState) -> VoiceFlags:
    """The sub-state flags of a voice state."""
    return VoiceFlags(
        self_deaf=state.self_deaf,
        deaf=state.deaf,
        self_mute=state.self_mute,
        mute=state.mute,
        self_stream=bool(state.self_stream),
        self_video=state.self_video,
    )


class VoiceTracker(commands.Cog):
    """Tracks voice sessions and voice time by sub-state."""

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot
        self.guilds: dict[int, GuildVoice] = {}
        self._stop = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._loaded_at = 0

    def now(self) -> int:
        """The bot's clock in whole seconds."""
        return int(self.bot.clock())

    async def cog_load(self) -> None:
        await self._flush_previous_run()
        self._loaded_at = self.now()
        self._stop = asyncio.Event()
        self._loop_task = asyncio.create_task(self._checkpoints(), name="voice checkpoints")
        for guild in self.bot.guilds:
            if not guild.unavailable:
                await self.sync_guild(guild)

    async def cog_unload(self) -> None:
        self._stop.set()
        if self._loop_task is not None:
            await self._loop_task
            self._loop_task = None
        now = self.now()
        for g in self.guilds.values():
            g.close_all(now)
        self.guilds.clear()

    async def _flush_previous_run(self) -> None:
        """Write what a previous run left in the buffer store before reading open sessions.

        Its last checkpoints may still wait in Redis; closing its sessions at an older
        stored checkpoint would leave the newer ones open once they are flushed.
        """
        try:
            await self.bot.settle()
        except Exception:
            log.warning("could not flush the buffer before reading open voice sessions", exc_info=True)

    async def _checkpoints(self) -> None:
        """Accrue every open session on each multiple of CHECKPOINT_S of the clock, until stopped."""
        while True:
            delay = CHECKPOINT_S - self.bot.clock() % CHECKPOINT_S
            if await stopped_within(self._stop, delay):
                return
            try:
                self.checkpoint()
            except Exception:
                log.exception("voice checkpoint failed; retrying at the next one")

    def checkpoint(self) -> None:
        """Accrue all open sessions of all guilds up to now."""
        now = self.now()
        for g in self.guilds.values():
            g.checkpoint(now)

    def _guild(self, guild: discord.Guild) -> GuildVoice:
        g = self.guilds.get(guild.id)
        if g is None:
            gid = guild.id
            optouts = self.bot.optouts
            g = GuildVoice(
                gid,
                self.bot.counters,
                afk_channel_id=guild.afk_channel.id if guild.afk_channel else None,
                excluded=lambda uid: optouts.excluded(gid, uid),
            )
            self.guilds[gid] = g
        return g

    def _is_bot(self, guild: discord.Guild, user_id: int) -> bool:
        member = guild.get_member(user_id)
        if member is not None:
            return member.bot
        user = self.bot.get_user(user_id)
        return user is not None and user.bot

    def rebuild_guild(self, guild: discord.Guild) -> GuildVoice:
        """Close what this run held for the guild and open a session per member in voice now."""
        now = self.now()
        old = self.guilds.pop(guild.id, None)
        if old is not None:
            old.close_all(now)
        g = self._guild(guild)
        # discord.py keeps the guild's voice states by member id; no public mapping exists.
        for user_id, state in guild._voice_states.items():
            if state.channel is None or self._is_bot(guild, user_id):
                continue
            g.update(user_id, state.channel.id, flags_of(state), now)
        return g

    async def sync_guild(self, guild: discord.Guild) -> None:
        """Reconcile a guild on GUILD_CREATE: rebuild from its voice states, close stale stored sessions."""
        self.rebuild_guild(guild)
        if not self.bot.storage_open:
            return
        try:
            stored = await voice_repo.open_sessions(self.bot.engine, guild.id)
        except SQLAlchemyError:
            log.warning("could not read the open voice sessions of guild %s", guild.id, exc_info=True)
            return
        for s in stored:
            if s.started_at >= self._loaded_at:
                continue  # opened by this run: held in memory
            # Closed at its last checkpoint: the time after it was never counted.
            self.bot.counters.record(
                (VOICE_SESSION.code, guild.id, s.user_id, s.started_at), (s.channel_id, s.ended_at, 0)
            )

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        await self.sync_guild(guild)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.sync_guild(guild)

    @commands.Cog.listener()
    async def on_guild_unavailable(self, guild: discord.Guild) -> None:
        self.forget_guild(guild.id)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        self.forget_guild(guild.id)

    def forget_guild(self, guild_id: int) -> None:
        """Close every session of a guild the bot can no longer see."""
        g = self.guilds.pop(guild_id, None)
        if g is not None:
            g.close_all(self.now())

    @commands.Cog.listener()
    async def on_guild_update(self, _before: discord.Guild, after: discord.Guild) -> None:
        g = self.guilds.get(after.id)
        if g is not None:
            g.set_afk_channel(after.afk_channel.id if after.afk_channel else None, self.now())

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, _before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        self.handle_voice_state(member, after)

    def handle_voice_state(self, member: discord.Member, after: discord.VoiceState) -> None:
        """Bring a member's session to the state now cached (idempotent: states may arrive updated)."""
        if member.bot:
            return
        channel = after.channel
        self._guild(member.guild).update(
            member.id, None if channel is None else channel.id, flags_of(after), self.now()
        )


async def setup(bot: StatsBot) -> None:
    await bot.add_cog(VoiceTracker(bot))
