"""Nudges: a short, friendly direct message to a member drifting away, when an admin turned them on.

Off by default (``/config nudges``). Every hour the bot assesses drop-off risk as the
watchlist does (db/mentor.py, bot.analytics.risk) and DMs the members due a nudge
(bot.analytics.nudges): risk ``high``, or regular and silent ``after_days`` days; at
most one per member per interval (default 14 days) and one per silence. Never to
bots, opted-out members, members who left, or members who turned nudges off
(``/privacy nudges off``, or the button in the DM itself). Each attempt is claimed in
``posted_reports`` (kind ``nudge``) so that two processes never both send it, then
logged in ``nudge_log`` as ``sent`` or ``refused``: a DM Discord refuses (closed DMs,
50007) is recorded once and counts as the attempt, so it is not retried in a loop.
Stores the log (erased with the member's data) and the members' nudges-off choice.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import discord
from discord.ext import commands

from bot.analytics.nudges import due_nudges, nudge_text
from bot.analytics.periods import parse_period, parse_timezone
from bot.posts.posting import NO_MENTIONS, PostLoop
from bot.reports.mentor import assess, risk_window
from db import nudges as repo
from db import posted as claims
from db.days import local_midnight
from db.guilds import get_settings
from db.mentor import MentorData
from db.privacy import opted_out_ids

if TYPE_CHECKING:
    from bot.app import StatsBot

log = logging.getLogger(__name__)

KIND: Final = "nudge"
PERIOD: Final = "30d"
PASS_EVERY: Final = timedelta(hours=1)
CANNOT_DM: Final = 50007
BUTTON_ID: Final = "nudges-off:{guild}"


class NudgesOffButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"nudges-off:(?P<guild>\d+)"):
    """The button in a nudge: the member turns nudges from that server off (works across restarts)."""

    def __init__(self, guild_id: int) -> None:
        self.guild_id = guild_id
        super().__init__(
            discord.ui.Button(
                label="Stop these messages",
                style=discord.ButtonStyle.secondary,
                custom_id=BUTTON_ID.format(guild=guild_id),
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> NudgesOffButton:
        """The button from its custom id (the guild it came from)."""
        return cls(int(match["guild"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Turn this member's nudges off in the server the nudge came from."""
        bot: Any = interaction.client
        now = datetime.fromtimestamp(bot.clock(), UTC)
        await repo.set_nudges(bot.engine, self.guild_id, interaction.user.id, False, now)
        guild = bot.get_guild(self.guild_id)
        name = guild.name if guild is not None else "that server"
        # The nudge itself changes to say so, and loses its button.
        await interaction.response.edit_message(
            content=f"Done: you will get no more of these messages from {name}. /privacy nudges on there turns them "
            "back on.",
            view=None,
        )


class Nudges(commands.Cog):
    """The hourly nudge pass."""

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot
        self.loop = PostLoop(bot, "nudges", self.nudge_due)

    async def cog_load(self) -> None:
        self.bot.hooks.add_replan("nudges", self.replan)
        self.bot.add_dynamic_items(NudgesOffButton)
        self.loop.start()

    async def cog_unload(self) -> None:
        self.bot.hooks.remove_replan("nudges", self.replan)
        await self.loop.stop()
        self.bot.remove_dynamic_items(NudgesOffButton)

    def replan(self, guild_id: int | None = None) -> None:
        """Run a pass soon (/config nudges changed a guild's settings)."""
        self.loop.wake()

    @property
    def data(self) -> MentorData:
        """Mentor reads with the bot's snapshots."""
        return MentorData(self.bot.engine, self.bot.reports.snapshots, self.bot.reports.days)

    async def nudge_due(self, now: datetime) -> datetime:
        """Nudge the due members of every guild with nudges on; the next pass is at the next whole hour."""
        enabled = await repo.guilds_with(self.bot.engine, "nudges_enabled")
        for guild in list(self.bot.guilds):
            if guild.unavailable or guild.id not in enabled:
                continue
            try:
                await self.nudge_guild(guild, now)
            except discord.HTTPException as error:
                log.warning("nudges of guild %s stopped at a Discord error (%s)", guild.id, error.status)
        return now.replace(minute=0, second=0, microsecond=0) + PASS_EVERY

    async def nudge_guild(self, guild: discord.Guild, now: datetime) -> int:
        """Send the guild's due nudges; how many were sent."""
        engine = self.bot.engine
        settings = await get_settings(engine, guild.id)
        acting = await repo.get_acting(engine, guild.id)
        tz = parse_timezone(settings.timezone)
        today = local_midnight(now.astimezone(tz).date(), tz)
        # The watchlist's default view (bot.reports.mentor): 30 days, read over the window risk needs.
        period = parse_period(PERIOD, now, tz)
        days, joins = await asyncio.gather(
            self.data.active_days(guild.id, risk_window(period).start, now, tz), self.data.membership(guild.id)
        )
        risk = assess(days, joins.first_joined, period)
        members = {m.id: m for m in guild.members}
        excluded = (
            {u for u in (int(x) for x in days.member_ids) if u not in members or members[u].bot}
            | await opted_out_ids(engine, guild.id)
            | await repo.nudges_off(engine, guild.id)
            | {u for u in members if self.bot.optouts.excluded(guild.id, u)}
            | joins.departed
        )
        last = {u: at for u, (at, _) in (await repo.last_nudges(engine, guild.id)).items()}
        due = due_nudges(
            risk, now, today, after_days=acting.nudge_after_days, interval_days=acting.nudge_interval_days,
            last_attempts=last, excluded=excluded,
        )  # fmt: skip
        sent = 0
        for item in due:
            if await self.nudge(guild, members[item.member_id], item.silent_days, acting.nudge_text, now):
                sent += 1
        return sent

    async def nudge(
        self, guild: discord.Guild, member: discord.Member, silent: int, text: str | None, now: datetime
    ) -> bool:
        """Claim, send and log one nudge; True when this call sent it."""
        engine = self.bot.engine
        key = f"{member.id}@{now.replace(minute=0, second=0, microsecond=0).isoformat(timespec='minutes')}"
        if not await claims.claim(engine, guild.id, KIND, key, now):
            return False  # another process has it
        body = nudge_text(text, member=member.display_name, guild=guild.name, days=silent)
        view = discord.ui.View(timeout=None)
        view.add_item(NudgesOffButton(guild.id))
        try:
            message = await member.send(body, view=view, allowed_mentions=NO_MENTIONS)
        except discord.Forbidden as error:
            if error.code != CANNOT_DM:
                await claims.release(engine, guild.id, KIND, key)
                raise
            await repo.record_nudge(engine, guild.id, member.id, now, repo.REFUSED)
            log.info("member %s of guild %s does not accept DMs: nudge recorded as refused", member.id, guild.id)
            return False
        except BaseException:
            await claims.release(engine, guild.id, KIND, key)
            raise
        await repo.record_nudge(engine, guild.id, member.id, now, repo.SENT)
        await claims.record_message(engine, guild.id, KIND, key, message.id)
        log.info("nudged member %s of guild %s (%d days silent)", member.id, guild.id, silent)
        return True


async def setup(bot: StatsBot) -> None:
    """Load the cog."""
    await bot.add_cog(Nudges(bot))
