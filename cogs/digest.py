"""The weekly mentor digest: the watchlist, each member with the reason, sent to the mentors once a week.

At the guild's weekly time (``/config weekly``, like the weekly summary) the digest
goes to the digest channel if one is set (``/config digest``), else as a direct
message to each member with the mentor role. It is sent once across restarts and
processes: claimed in ``posted_reports`` (kind ``digest``, key the ISO week that
ended) before it is built, the claim given back when a channel post fails, and the
message recorded. Only the latest due digest is sent after downtime: the watchlist
is today's, so older ones would repeat it. Stores nothing else; reads the mentor
views' data (db/mentor.py). Opted-out members, bots and members who left never
appear; members are mentioned without pinging.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Final

import discord

from bot.analytics import WatchlistEntry
from bot.analytics.periods import parse_period, parse_timezone
from bot.commands.replies import EMBED_COLOUR
from bot.posts.posting import NO_MENTIONS, ScheduledReports, Settle
from bot.posts.schedule import CATCH_UP, next_weekly, weekly_dues
from bot.reports.mentor import build_watchlist
from db import posted as claims
from db.errors import is_transient
from db.guilds import GuildSettings, get_settings
from db.mentor import MentorData
from db.nudges import ActingSettings, get_acting, guilds_with

if TYPE_CHECKING:
    from bot.app import StatsBot

log = logging.getLogger(__name__)

KIND: Final = "digest"
# As /mentor watchlist by default: 30 days (risk reads the 42 days it needs, bot.reports.mentor).
PERIOD: Final = "30d"
DESCRIPTION_LIMIT: Final = 4000
CANNOT_DM: Final = 50007


async def watchlist(data: MentorData, guild_id: int, now: datetime, tz_name: str) -> list[WatchlistEntry]:
    """Members at medium or high risk now (the /mentor watchlist's default period), highest first."""
    return await build_watchlist(data, guild_id, parse_period(PERIOD, now, parse_timezone(tz_name)))


def digest_embed(guild: discord.Guild, week: str, entries: list[WatchlistEntry]) -> discord.Embed:
    """The digest: one line per member at risk (mention, name, level, reason), and the counts."""
    lines: list[str] = []
    used = 0
    for shown, entry in enumerate(entries):
        member = guild.get_member(entry.member_id)
        name = member.display_name if member is not None else f"User {entry.member_id}"
        line = f"<@{entry.member_id}> ({name}) — {entry.level.word}: {entry.reason}"
        if used + len(line) + 40 > DESCRIPTION_LIMIT:
            lines.append(f"…and {len(entries) - shown} more: /mentor watchlist lists them all.")
            break
        lines.append(line)
        used += len(line) + 1
    high = sum(1 for e in entries if e.level.word == "high")
    embed = discord.Embed(
        title=f"Mentor digest · {guild.name} · {week}",
        description="\n".join(lines) or "Nobody is drifting away: no member is at medium or high risk.",
        colour=EMBED_COLOUR,
    )
    embed.add_field(name="At risk", value=str(len(entries)), inline=True)
    embed.add_field(name="High", value=str(high), inline=True)
    embed.add_field(name="Medium", value=str(len(entries) - high), inline=True)
    embed.set_footer(text="Drop-off risk over the last 30 days, as /mentor watchlist shows it")
    return embed


class MentorDigest(ScheduledReports):
    """The weekly mentor digest's posting loop."""

    def __init__(self, bot: StatsBot) -> None:
        super().__init__(bot, "mentor digests", KIND, "digest")
        self._enabled: frozenset[int] = frozenset()

    @property
    def data(self) -> MentorData:
        """Mentor reads with the bot's snapshots."""
        return MentorData(self.bot.engine, self.bot.reports.snapshots, self.bot.reports.days)

    async def post_due(self, now: datetime) -> datetime | None:
        """Only the guilds with the digest on are visited."""
        self._enabled = await guilds_with(self.bot.engine, "digest_enabled")
        return await super().post_due(now)

    async def guild_due(self, guild: discord.Guild, now: datetime, pending: Settle) -> datetime | None:
        """Send the guild's latest due digest if not yet sent; when the next one is due."""
        if guild.id not in self._enabled:
            return None
        settings = await get_settings(self.bot.engine, guild.id)
        acting = await get_acting(self.bot.engine, guild.id)
        tz = parse_timezone(settings.timezone)
        dues = weekly_dues(settings.weekly_weekday, settings.weekly_time, tz, now - CATCH_UP, now)
        if dues:
            latest = dues[-1]
            done = await claims.posted_keys(self.bot.engine, guild.id, KIND, [latest.key])
            if latest.key not in done:
                await pending.once()
                await self.send_once(guild, settings, acting, latest.key, now)
        return next_weekly(settings.weekly_weekday, settings.weekly_time, tz, now)

    def mentors(self, guild: discord.Guild, settings: GuildSettings) -> list[discord.Member]:
        """The members with the mentor role (not bots)."""
        role = guild.get_role(settings.mentor_role_id) if settings.mentor_role_id else None
        return [] if role is None else sorted((m for m in role.members if not m.bot), key=lambda m: m.id)

    async def send_once(
        self, guild: discord.Guild, settings: GuildSettings, acting: ActingSettings, key: str, now: datetime
    ) -> bool:
        """Claim, build and send one week's digest; True when this call sent it."""
        engine = self.bot.engine
        if not await claims.claim(engine, guild.id, KIND, key, now):
            return False
        try:
            entries = await watchlist(self.data, guild.id, now, settings.timezone)
            entries = [e for e in entries if not self._hidden(guild, e.member_id)]
            embed = digest_embed(guild, key, entries)
            if acting.digest_channel_id is not None:
                message = await self._to_channel(guild, acting.digest_channel_id, embed)
                if message is None:
                    return False  # handled: skipped with a warning
                await claims.record_message(engine, guild.id, KIND, key, message.id)
            else:
                sent = await self._to_mentors(guild, settings, embed)
                if not sent:
                    return False
        except discord.HTTPException as error:
            await claims.release(engine, guild.id, KIND, key)
            self._warn(guild, f"sending the mentor digest failed ({error.status})")
            return False
        except BaseException as error:
            await claims.release(engine, guild.id, KIND, key)
            if is_transient(error):
                log.warning("mentor digest %s of guild %s: database unreachable, will retry", key, guild.id)
            raise
        self._warned.discard(guild.id)
        log.info("sent mentor digest %s in guild %s", key, guild.id)
        return True

    def _hidden(self, guild: discord.Guild, user_id: int) -> bool:
        """Bots, and opted-out members the database may not know of yet."""
        member = guild.get_member(user_id)
        return (member is not None and member.bot) or self.bot.optouts.excluded(guild.id, user_id)

    async def _to_channel(self, guild: discord.Guild, channel_id: int, embed: discord.Embed) -> discord.Message | None:
        """Post to the digest channel (a failure raises, so that the claim is given back)."""
        channel = guild.get_channel_or_thread(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            self._warn(guild, "the digest channel is gone")
            return None
        return await channel.send(embed=embed, allowed_mentions=NO_MENTIONS)

    async def _to_mentors(self, guild: discord.Guild, settings: GuildSettings, embed: discord.Embed) -> int:
        """DM every mentor; how many got it. A mentor whose DMs are closed is skipped (once, with a warning)."""
        mentors = self.mentors(guild, settings)
        if not mentors:
            self._warn(guild, "no digest channel is set and nobody has the mentor role")
            return 0
        sent = 0
        failure: discord.HTTPException | None = None
        for mentor in mentors:
            try:
                await mentor.send(embed=embed, allowed_mentions=NO_MENTIONS)
                sent += 1
            except discord.HTTPException as error:
                if error.code != CANNOT_DM:
                    failure = error
                log.warning("mentor %s of guild %s did not get the digest (%s)", mentor.id, guild.id, error.status)
        if not sent and failure is not None:
            raise failure  # nobody got it through a Discord error: the claim is given back, tried again
        return sent


async def setup(bot: StatsBot) -> None:
    """Load the cog."""
    await bot.add_cog(MentorDigest(bot))
