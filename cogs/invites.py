"""Invite tracking.

Stores ``invite`` records (code, inviter, channel, max uses, max age, created,
uses, deleted), a ``join`` record per member join attributed to an invite code and
its inviter (or ``vanity`` / ``unknown``) by comparing invite use counts before and
after the join, and a ``leave`` record per member leave, so reports can tell how
many invited members stayed. Bots are not recorded; a member who opted out gets no
join or leave record, and an inviter who opted out is not named.
"""

from __future__ import annotations

import asyncio
import logging

import discord
from discord.ext import commands

from bot.app import StatsBot
from bot.tracking.invite_match import InviteInfo, InviteLook, attribute
from db.series import INVITE, MEMBER_JOIN, MEMBER_LEAVE

log = logging.getLogger(__name__)


def invite_info(invite: discord.Invite) -> InviteInfo:
    """What is kept of an invite."""
    return InviteInfo(
        code=invite.code,
        inviter_id=invite.inviter.id if invite.inviter else None,
        channel_id=invite.channel.id if invite.channel else None,
        max_uses=invite.max_uses or 0,
        max_age=invite.max_age or 0,
        created_at=int(invite.created_at.timestamp()) if invite.created_at else None,
        uses=invite.uses or 0,
    )


class InviteTracker(commands.Cog):
    """Attributes member joins to invites; records invites, joins and leaves."""

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot
        self.counters = bot.counters
        self.optouts = bot.optouts
        self.looks: dict[int, InviteLook] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def now(self) -> int:
        return int(self.bot.clock())

    def lock(self, guild_id: int) -> asyncio.Lock:
        """Serialises the looks at one guild's invites (joins, the initial fetch)."""
        lk = self._locks.get(guild_id)
        if lk is None:
            lk = self._locks[guild_id] = asyncio.Lock()
        return lk

    async def cog_load(self) -> None:
        for guild in self.bot.guilds:
            if not guild.unavailable:
                await self.refresh(guild)

    async def fetch(self, guild: discord.Guild) -> InviteLook | None:
        """Look at a guild's invites and vanity uses through the API; None when that fails."""
        try:
            invites = await guild.invites()
        except discord.HTTPException as exc:
            log.info("cannot read the invites of guild %s (%s): joins there are unknown", guild.id, exc)
            return None
        look = InviteLook({inv.code: invite_info(inv) for inv in invites})
        if "VANITY_URL" in guild.features:
            try:
                data = await self.bot.http.get_vanity_code(guild.id)
                look.vanity_uses = int(data.get("uses", 0))
            except discord.HTTPException as exc:
                log.info("cannot read the vanity URL uses of guild %s (%s)", guild.id, exc)
                look.vanity_known = False
        return look

    def _record_invite(self, guild_id: int, inv: InviteInfo) -> None:
        inviter = inv.inviter_id
        if inviter is not None and self.optouts.excluded(guild_id, inviter):
            inviter = None
        self.counters.record(
            (INVITE.code, guild_id, inv.code),
            (inviter, inv.channel_id, inv.max_uses, inv.max_age, inv.created_at, inv.uses, inv.deleted_at),
        )

    async def refresh(self, guild: discord.Guild) -> None:
        """Take a fresh look at a guild's invites and record them all."""
        async with self.lock(guild.id):
            look = await self.fetch(guild)
            if look is None:
                self.looks.pop(guild.id, None)
                return
            self._settle(guild.id, self.looks.get(guild.id), look, record_all=True)

    def _settle(self, guild_id: int, before: InviteLook | None, after: InviteLook, *, record_all: bool) -> None:
        """Make ``after`` the current look; record invites that changed or vanished."""
        now = self.now()
        old = before.invites if before is not None else {}
        for code, inv in after.invites.items():
            prev = old.get(code)
            if record_all or prev is None or prev.uses != inv.uses:
                self._record_invite(guild_id, inv)
        for code, prev in old.items():
            if code not in after.invites and prev.deleted_at is None:
                prev.deleted_at = now
                self._record_invite(guild_id, prev)
        self.looks[guild_id] = after

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        await self.refresh(guild)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.refresh(guild)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        self.looks.pop(guild.id, None)

    @commands.Cog.listener()
    async def on_invite_create(self, invite: discord.Invite) -> None:
        self.handle_invite_create(invite)

    def handle_invite_create(self, invite: discord.Invite) -> None:
        guild = invite.guild
        if guild is None:
            return
        inv = invite_info(invite)
        look = self.looks.get(guild.id)
        if look is not None:
            look.invites[inv.code] = inv
        self._record_invite(guild.id, inv)

    @commands.Cog.listener()
    async def on_invite_delete(self, invite: discord.Invite) -> None:
        self.handle_invite_delete(invite)

    def handle_invite_delete(self, invite: discord.Invite) -> None:
        """Keep a deleted invite until the next look: it may have been used up by a join."""
        guild = invite.guild
        if guild is None:
            return
        look = self.looks.get(guild.id)
        inv = look.invites.get(invite.code) if look is not None else None
        if inv is None:
            inv = invite_info(invite)
        if inv.deleted_at is None:
            inv.deleted_at = self.now()
        self._record_invite(guild.id, inv)

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        await self.handle_join(member)

    async def handle_join(self, member: discord.Member) -> None:
        """Attribute a join by looking at the invites again (joins of one guild one at a time)."""
        if member.bot:
            return
        guild = member.guild
        joined_at = int(member.joined_at.timestamp()) if member.joined_at else self.now()
        async with self.lock(guild.id):
            before = self.looks.get(guild.id)
            after = await self.fetch(guild)
            code, inviter = attribute(before, after, self.now())
            if after is not None:
                self._settle(guild.id, before, after, record_all=False)
            else:
                self.looks.pop(guild.id, None)  # the next join cannot compare with a stale look
        if self.optouts.excluded(guild.id, member.id):
            return
        if inviter is not None and self.optouts.excluded(guild.id, inviter):
            inviter = None
        self.counters.record((MEMBER_JOIN.code, guild.id, member.id, joined_at), (code, inviter))

    @commands.Cog.listener()
    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        self.handle_leave(payload)

    def handle_leave(self, payload: discord.RawMemberRemoveEvent) -> None:
        user = payload.user
        if user.bot or self.optouts.excluded(payload.guild_id, user.id):
            return
        self.counters.record((MEMBER_LEAVE.code, payload.guild_id, user.id, self.now()), ())


async def setup(bot: StatsBot) -> None:
    await bot.add_cog(InviteTracker(bot))
