"""/dashboard, and each member's dashboard access kept up to date (member, mentor, admin).

Stores, per guild and member, the last display name seen, the role ids and whether the
member has Administrator/Manage Server or View Server Insights, and whether they are still
a member (``dashboard_members``, db/dashboard.py). The level itself is worked out on every
dashboard request from these and the guild's mentor role.

Listeners never write to the database: they note what they saw in ``pending`` and a loop
of this cog writes it in one upsert every ``SAVE_INTERVAL_S`` (and once more on unload).
``/dashboard`` saves the caller's own access itself (a command, not a listener), so the link
it hands out works at once. Deleting a member's data: ``/privacy optout delete`` hides them
from every page at once (the dashboard filters opt-outs); the row with their name is theirs.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import discord
from discord import app_commands
from discord.ext import commands

from bot.commands.permissions import member_of
from bot.loops import stopped_within
from bot.web.auth import LINK_VALID, issue_link, resolve_secret
from db.dashboard import SeenMember, save_members
from db.errors import is_transient

if TYPE_CHECKING:
    from bot.app import StatsBot

log = logging.getLogger(__name__)

SAVE_INTERVAL_S: Final = 2.0


def seen(member: discord.Member, present: bool = True) -> SeenMember:
    """What the dashboard needs of a member: name, roles and the permissions that grant access (none once gone)."""
    if not present:
        return SeenMember(member.guild.id, member.id, member.display_name, (), False, False, present=False)
    perms = member.guild_permissions
    return SeenMember(
        guild_id=member.guild.id,
        user_id=member.id,
        name=member.display_name,
        role_ids=tuple(r.id for r in member.roles if not r.is_default()),
        manage=perms.administrator or perms.manage_guild,
        insights=perms.administrator or perms.view_guild_insights,
        present=present,
    )


class Dashboard(commands.Cog):
    """The /dashboard link and the access levels behind it."""

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot
        self.pending: dict[tuple[int, int], SeenMember] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._secret: str | None = None

    async def cog_load(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="dashboard-access")

    async def cog_unload(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await self._save_once()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.bot.clock(), UTC)

    # -- listeners: note, never write ------------------------------------------------------------

    def note(self, member: discord.Member, present: bool = True) -> None:
        """Remember what was seen of a member until the loop saves it (bots have no dashboard)."""
        if member.bot:
            return
        self.pending[(member.guild.id, member.id)] = seen(member, present)

    def note_guild(self, guild: discord.Guild) -> None:
        """Every cached member of a guild (it became available, or a role's permissions changed)."""
        for member in guild.members:
            self.note(member)

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        self.note_guild(guild)

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        self.note(member)

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if before.roles != after.roles or before.display_name != after.display_name:
            self.note(after)

    @commands.Cog.listener()
    async def on_member_remove(self, member: discord.Member) -> None:
        self.note(member, present=False)

    @commands.Cog.listener()
    async def on_guild_role_update(self, before: discord.Role, after: discord.Role) -> None:
        if before.permissions != after.permissions:
            for member in after.members:
                self.note(member)

    @commands.Cog.listener()
    async def on_guild_role_delete(self, role: discord.Role) -> None:
        self.note_guild(role.guild)

    # -- the loop that writes ---------------------------------------------------------------------

    async def _run(self) -> None:
        """Save what the listeners noted, every ``SAVE_INTERVAL_S``, until the cog unloads."""
        while not await stopped_within(self._stop, SAVE_INTERVAL_S):
            await self._save_once()

    async def _save_once(self) -> None:
        """Write the noted members in one upsert; on a transient error keep them for the next pass."""
        if not self.pending or not self.bot.storage_open:
            return
        batch, self.pending = self.pending, {}
        try:
            # One upsert for joins, changes and leaves alike: a member who left before their first
            # save still gets a row (with the last name seen, and no access).
            await save_members(self.bot.engine, list(batch.values()), self._now())
        except Exception as exc:
            # What was noted since the batch was taken is newer: it wins over the batch put back.
            self.pending = {**batch, **self.pending}
            if is_transient(exc):
                log.warning("could not save dashboard access of %d members yet: %s", len(batch), exc)
            else:
                log.exception("saving dashboard access of %d members failed", len(batch))
            return

    async def save_now(self) -> None:
        """Write what is noted now rather than at the next pass (tests, the demo)."""
        await self._save_once()

    # -- the command --------------------------------------------------------------------------------

    @app_commands.command(name="dashboard", description="A link to this server's web dashboard, valid 10 minutes")
    @app_commands.guild_only()
    async def dashboard(self, interaction: discord.Interaction) -> None:
        """A link to this server's web dashboard, valid 10 minutes and usable once."""
        member = member_of(interaction)
        now = self._now()
        self.pending.pop((member.guild.id, member.id), None)
        await save_members(self.bot.engine, [seen(member)], now)
        if self._secret is None:
            configured = self.bot.settings.DASHBOARD_SECRET
            self._secret = await resolve_secret(
                self.bot.engine, None if configured is None else configured.get_secret_value()
            )
        link = await issue_link(
            self.bot.engine, self._secret, self.bot.settings.dashboard_url, member.guild.id, member.id, now
        )
        minutes = int(LINK_VALID.total_seconds() // 60)
        await interaction.response.send_message(
            f"Your dashboard link (works once, for {minutes} minutes): {link}", ephemeral=True
        )


async def setup(bot: StatsBot) -> None:
    """Load the cog."""
    await bot.add_cog(Dashboard(bot))
