"""Invite tracking.

Stores ``invite`` records (code, inviter, channel, max uses, max age, created,
uses, deleted), a ``join`` record per member join attributed to an invite code and
its inviter (or ``vanity`` / ``unknown``) by comparing invite use counts before and
after the join, and a ``leave`` record per member leave, so reports can tell how
many invited members stayed. Bots are not recorded; a member who opted out gets no
join or leave record, and an inviter who opted out is not named.

Joins and leaves during a gap (the bot offline or disconnected) are recovered from the
member list when the guild is available again: a member who joined since the gap began is
an ``unknown`` join at their ``joined_at``; a member the stored joins say is in and who is
gone left at the gap's start (approximate: that time is the ``from_utc`` of the gap in
``/export dataset:coverage``).
"""

from __future__ import annotations

import asyncio
import logging

import discord
from discord.ext import commands

from bot.app import StatsBot
from bot.tracking.invite_match import UNKNOWN, InviteInfo, InviteLook, attribute
from db import coverage as coverage_repo
from db.series import INVITE, MEMBER_JOIN, MEMBER_LEAVE

log = logging.getLogger(__name__)

# A join this long before a gap's start may have been seen live yet lost with the process (its
# record not yet pushed): one without a stored row is recovered too.
JOIN_MARGIN_S = 300
# Reading the stored joins after a gap is retried this many times (the database or Redis may be down).
RECOVER_ATTEMPTS = 8


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
        # guild -> when the live interval before the gap began: joins before it were handled then.
        self.live_from: dict[int, int] = {}
        # (guild, member, joined_at) of joins recorded live by this process: never overwritten as ``unknown``.
        self.live_joins: set[tuple[int, int, int]] = set()
        self.live_leaves: set[tuple[int, int]] = set()
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
                for guild_id, (started, last) in (await coverage_repo.last_intervals(self.bot.engine)).items():
                    self.live_from[guild_id], self.gap_from[guild_id] = started, last
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
        self.live_from[guild.id] = self.now()
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
        if not guild.chunked or not self.bot.storage_open:
            log.info("guild %s: member list incomplete, joins and leaves of the gap not recovered", guild.id)
            return
        for attempt in range(1, RECOVER_ATTEMPTS + 1):
            try:
                await self.bot.settle()  # the joins this and the previous run recorded are in the table
                known = await coverage_repo.known_members(self.bot.engine, guild.id)
                break
            except Exception as exc:
                log.warning(
                    "guild %s: joins and leaves of the gap not read yet (attempt %d): %s", guild.id, attempt, exc
                )
                await asyncio.sleep(min(30.0, 2.0**attempt))
        else:
            log.error("guild %s: joins and leaves of the gap not recovered: storage unreachable", guild.id)
            return
        members = {m.id: m for m in guild.members if not m.bot}
        joined = left = 0
        floor = max(since - JOIN_MARGIN_S, self.live_from.get(guild.id, since))
        for m in members.values():
            at = int(m.joined_at.timestamp()) if m.joined_at else None
            if at is None or at < floor or (m.id, at) in known.joins or (guild.id, m.id, at) in self.live_joins:
                continue
            if self.optouts.excluded(guild.id, m.id):
                continue
            self.counters.record((MEMBER_JOIN.code, guild.id, m.id, at), (UNKNOWN, None))
            joined += 1
        for user_id in known.present - members.keys():
            if (guild.id, user_id) not in self.live_leaves and not self.optouts.excluded(guild.id, user_id):
                self.counters.record((MEMBER_LEAVE.code, guild.id, user_id, since), ())
                left += 1
        log.info(
            "guild %s: member list against the joins stored since %s: %d joins and %d leaves of the gap recovered",
            guild.id,
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
        self.live_leaves.discard((guild.id, member.id))
        self.counters.record((MEMBER_JOIN.code, guild.id, member.id, joined_at), (code, inviter))

    @commands.Cog.listener()
    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        self.handle_leave(payload)

    def handle_leave(self, payload: discord.RawMemberRemoveEvent) -> None:
        user = payload.user
        if user.bot or self.optouts.excluded(payload.guild_id, user.id):
            return
        self.live_leaves.add((payload.guild_id, user.id))
        self.counters.record((MEMBER_LEAVE.code, payload.guild_id, user.id, self.now()), ())


async def setup(bot: StatsBot) -> None:
    await bot.add_cog(InviteTracker(bot))
