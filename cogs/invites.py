"""Invite tracking.

Stores ``invite`` records (code, inviter, channel, max uses, max age, created,
uses, deleted), a ``join`` record per member join attributed to an invite code and
its inviter (or ``vanity`` / ``unknown``) by comparing invite use counts before and
after the join, and a ``leave`` record per member leave, so reports can tell how
many invited members stayed. Bots are not recorded; a member who opted out gets no
join or leave record, and an inviter who opted out is not named.

Joins and leaves during a gap (the bot offline or disconnected) are recovered from the
member list when the guild is available again: a member with no stored join who joined
after the bot began tracking the guild (its first live interval, or the retention cutoff
when later) is an ``unknown`` join at their ``joined_at``; a member the stored joins say is
in and who is gone left at the gap's start (approximate: that time is the ``from_utc`` of
the gap in ``/export dataset:coverage``). Comparing the whole tracked period, not only the
last gap, recovers too the joins of an earlier gap whose recovery a crash, a stop or an
outage cut short, and joins recorded live but lost with the process. A member who joined and
left again while the bot could not see it is in no member list and is not recovered.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import discord
from discord.ext import commands

from bot.app import StatsBot
from bot.tracking.invite_match import UNKNOWN, InviteInfo, InviteLook, attribute
from db import coverage as coverage_repo
from db.series import INVITE, MEMBER_JOIN, MEMBER_LEAVE

log = logging.getLogger(__name__)

# Without a stored live interval (none flushed yet), joins this long before a gap's start are
# compared: one may have been seen live yet lost with the process (its record not yet pushed).
JOIN_MARGIN_S = 300
# Reading the stored joins after a gap is retried this many times, at most RECOVER_RETRY_S apart (the
# database or Redis may be down): soon after an outage ends, since the member list compared is the one
# the gap ended with, and a member of it who leaves meanwhile is recovered only by this process.
RECOVER_ATTEMPTS = 30
RECOVER_RETRY_S = 5.0


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
        # guild -> when its gap began: the last live moment of the previous run, or of this one.
        self.gap_from: dict[int, int] = {}
        # (guild, member, joined_at) of joins recorded live by this process: never overwritten as ``unknown``.
        self.live_joins: set[tuple[int, int, int]] = set()
        # (guild, member) -> when this process recorded the member's leave live.
        self.live_leaves: dict[tuple[int, int], int] = {}
        # Guilds whose member list is being compared with the stored joins.
        self.recovering: set[int] = set()
        # guild -> member -> joined_at of members who left before the gap's member list was compared:
        # they were in it, so a join of theirs in the gap is still recovered.
        self.left_unseen: dict[int, dict[int, int]] = {}
        self.connected_once: set[int] = set()

    def now(self) -> int:
        return int(self.bot.clock())

    def lock(self, guild_id: int) -> asyncio.Lock:
        """Serialises the looks at one guild's invites (joins, the initial fetch)."""
        lk = self._locks.get(guild_id)
        if lk is None:
            lk = self._locks[guild_id] = asyncio.Lock()
        return lk

    async def cog_load(self) -> None:
        if self.bot.storage_open:
            try:
                self.gap_from.update(await coverage_repo.last_live(self.bot.engine))
            except Exception as exc:
                log.warning(
                    "cannot read when the bot was last live: joins and leaves of the gap not recovered (%s)", exc
                )
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
        # The gap first: the look at the invites waits behind the joins being attributed.
        since = self.gap_from.pop(guild.id, None)
        if since is not None:
            await self.recover_gap(guild, since)
        await self.refresh(guild)

    @commands.Cog.listener()
    async def on_guild_unavailable(self, guild: discord.Guild) -> None:
        self.gap_from.setdefault(guild.id, self.now())

    @commands.Cog.listener()
    async def on_shard_disconnect(self, shard_id: int) -> None:
        for guild in self.bot.guilds:
            if guild.shard_id == shard_id:
                self.gap_from.setdefault(guild.id, self.now())

    @commands.Cog.listener()
    async def on_shard_connect(self, shard_id: int) -> None:
        # A new session after the first: joins and leaves since the last one were never sent.
        if shard_id not in self.connected_once:
            self.connected_once.add(shard_id)
            return
        for guild in self.bot.guilds:
            if guild.shard_id == shard_id:
                self.gap_from.setdefault(guild.id, self.now())

    @commands.Cog.listener()
    async def on_shard_resumed(self, shard_id: int) -> None:
        # Resumed: Discord replays the joins and leaves that were missed.
        for guild in self.bot.guilds:
            if guild.shard_id == shard_id:
                self.gap_from.pop(guild.id, None)

    async def recover_gap(self, guild: discord.Guild, since: int) -> None:
        """Joins and leaves of a gap that began at ``since``, from the member list against the stored joins."""
        self.recovering.add(guild.id)
        try:
            await self._recover_gap(guild, since)
        finally:
            self.recovering.discard(guild.id)
            self.left_unseen.pop(guild.id, None)

    async def _recover_gap(self, guild: discord.Guild, since: int) -> None:
        if not guild.chunked or not self.bot.storage_open:
            log.info("guild %s: member list incomplete, joins and leaves of the gap not recovered", guild.id)
            return
        # The member list as the gap ended: members leaving while the stored joins are read were in it.
        listed = {m.id: int(m.joined_at.timestamp()) if m.joined_at else None for m in guild.members if not m.bot}
        for attempt in range(1, RECOVER_ATTEMPTS + 1):
            try:
                await self.bot.settle()  # the joins this and the previous run recorded are in the table
                known = await coverage_repo.known_members(self.bot.engine, guild.id, self.now())
                break
            except Exception as exc:
                log.warning(
                    "guild %s: joins and leaves of the gap not read yet (attempt %d): %s", guild.id, attempt, exc
                )
                await asyncio.sleep(min(RECOVER_RETRY_S, 0.25 * 2.0**attempt))
        else:
            log.error("guild %s: joins and leaves of the gap not recovered: storage unreachable", guild.id)
            return
        listed |= self.left_unseen.get(guild.id, {})
        joined = left = 0
        # Not only this gap's joins: an earlier gap's recovery may have been cut short (the process
        # killed or stopped, storage unreachable), and the live interval after it says nothing of it.
        floor = known.tracked_from if known.tracked_from is not None else since - JOIN_MARGIN_S
        for user_id, at in listed.items():
            if at is None or at < floor or (user_id, at) in known.joins or (guild.id, user_id, at) in self.live_joins:
                continue
            if self.optouts.excluded(guild.id, user_id):
                continue
            self.counters.record((MEMBER_JOIN.code, guild.id, user_id, at), (UNKNOWN, None))
            joined += 1
            left_at = self.live_leaves.get((guild.id, user_id))
            if left_at is not None and left_at >= at:
                # Left live meanwhile, before this join had a row to close: closed again after it.
                self.counters.record((MEMBER_LEAVE.code, guild.id, user_id, left_at), ())
        for user_id in known.present - listed.keys():
            if (guild.id, user_id) not in self.live_leaves and not self.optouts.excluded(guild.id, user_id):
                self.counters.record((MEMBER_LEAVE.code, guild.id, user_id, since), ())
                left += 1
        log.info(
            "guild %s: member list against the joins stored since %s (gap from %s): %d joins and %d leaves recovered",
            guild.id,
            floor,
            since,
            joined,
            left,
        )

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
            try:
                after = await self.fetch(guild)
            except Exception as exc:  # the HTTP session closing at shutdown: the join still counts
                log.info("cannot look at the invites of guild %s (%s): this join is unknown", guild.id, exc)
                after = None
            code, inviter = attribute(before, after, self.now())
            if after is not None:
                self._settle(guild.id, before, after, record_all=False)
            else:
                self.looks.pop(guild.id, None)  # the next join cannot compare with a stale look
        if self.optouts.excluded(guild.id, member.id):
            return
        if inviter is not None and self.optouts.excluded(guild.id, inviter):
            inviter = None
        self.live_joins.add((guild.id, member.id, joined_at))
        self.live_leaves.pop((guild.id, member.id), None)
        self.counters.record((MEMBER_JOIN.code, guild.id, member.id, joined_at), (code, inviter))

    @commands.Cog.listener()
    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        self.handle_leave(payload)

    def handle_leave(self, payload: discord.RawMemberRemoveEvent) -> None:
        user = payload.user
        if user.bot or self.optouts.excluded(payload.guild_id, user.id):
            return
        now = self.now()
        joined_at = getattr(user, "joined_at", None)  # a cached member's
        if isinstance(joined_at, datetime) and (
            payload.guild_id in self.gap_from or payload.guild_id in self.recovering
        ):
            self.left_unseen.setdefault(payload.guild_id, {})[user.id] = int(joined_at.timestamp())
        self.live_leaves[(payload.guild_id, user.id)] = now
        self.counters.record((MEMBER_LEAVE.code, payload.guild_id, user.id, now), ())


async def setup(bot: StatsBot) -> None:
    await bot.add_cog(InviteTracker(bot))
