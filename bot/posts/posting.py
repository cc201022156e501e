"""Scheduled posts to the report channel: the posting loop and the exactly-once protocol they share.

A posting loop wakes at the next due time its cog returns (or at once when
woken), runs a pass over the guilds, and survives its failures. Each post goes
out once across restarts and processes (``ScheduledReports.post_once``): it is
claimed in ``posted_reports`` (insert-if-absent) before it is built, the claim is
given back when the post fails so that a later pass tries again, and the message
that carried it is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import discord
from discord.ext import commands

from bot.commands.replies import MAX_ALT
from bot.hooks import Topic
from bot.loops import stopped_within
from db import posted as claims
from db.errors import is_transient
from db.guilds import GuildSettings

if TYPE_CHECKING:
    from bot.app import StatsBot

log = logging.getLogger(__name__)

# The loop also wakes this often, to follow clock changes and guilds it was not told about.
MAX_SLEEP_S: Final = 3600.0
RETRY_S: Final = 60.0
NO_MENTIONS: Final = discord.AllowedMentions.none()


def display_name(guild: discord.Guild, user_id: int) -> str:
    """A member's display name, else ``User 1234``-style fallback."""
    member = guild.get_member(user_id)
    return member.display_name if member is not None else f"User {user_id}"


async def post_image(
    bot: StatsBot,
    channel: discord.abc.Messageable,
    kind: str,
    model: object,
    alt: str,
    embed: discord.Embed,
) -> discord.Message:
    """Render ``model`` off the event loop and post it with its embed, pinging nobody."""
    png = await bot.render_pool.render(kind, model)
    name = f"{kind}.png"
    embed.set_image(url=f"attachment://{name}")
    file = discord.File(io.BytesIO(png), filename=name, description=alt[:MAX_ALT])
    return await channel.send(embed=embed, file=file, allowed_mentions=NO_MENTIONS)


def report_channel(guild: discord.Guild, settings: GuildSettings) -> discord.abc.Messageable | None:
    """The guild's report channel if set and known to the cache."""
    if settings.report_channel_id is None:
        return None
    channel = guild.get_channel_or_thread(settings.report_channel_id)
    return channel if isinstance(channel, discord.abc.Messageable) else None


class Settle:
    """``settle`` at most once per pass of a posting loop, and only when something is to be posted."""

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot
        self.done = False

    async def once(self) -> None:
        """Flush the bot's buffer unless this pass already did."""
        if not self.done:
            self.done = True
            try:
                await self.bot.settle()
            except Exception:
                log.warning("could not flush the buffer before a scheduled report", exc_info=True)


class PostLoop:
    """Runs ``due(now)`` at the next due time it returns, or at once when woken; survives its failures."""

    def __init__(self, bot: StatsBot, name: str, due: Callable[[datetime], Awaitable[datetime | None]]) -> None:
        self.bot = bot
        self.name = name
        self.due = due
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.started = 0  # passes begun
        self.finished = 0  # the last pass ended (its number)
        self._passed = asyncio.Condition()

    def start(self) -> None:
        """Start the loop task."""
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stop the loop and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            if self.started == 0:
                self._task.cancel()  # still waiting for the bot to be ready
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Re-plan now (settings changed, or the clock moved)."""
        self._wake.set()

    async def run_once(self) -> None:
        """Wake the loop and wait until a whole pass begun after this call has ended."""
        target = self.started + 1
        self.wake()
        async with self._passed:
            await self._passed.wait_for(lambda: self.finished >= target)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.bot.clock(), UTC)

    async def _run(self) -> None:
        await self.bot.wait_until_ready()
        while not self._stop.is_set():
            self._wake.clear()
            self.started += 1
            number = self.started
            now = self._now()
            try:
                upcoming = await self.due(now)
                delay = MAX_SLEEP_S if upcoming is None else (upcoming - now).total_seconds()
            except Exception as error:
                if is_transient(error):
                    log.warning("%s: database unreachable; retrying in %.0f s", self.name, RETRY_S)
                else:
                    log.exception("%s: a pass failed; retrying in %.0f s", self.name, RETRY_S)
                delay = RETRY_S
            async with self._passed:
                self.finished = number
                self._passed.notify_all()
            if self._wake.is_set():
                continue
            # Wake at the next due time (or when told), never sleeping blind for long.
            if await stopped_within(self._wake, min(max(delay, 0.05), MAX_SLEEP_S)):
                continue


@dataclass(frozen=True, slots=True)
class Post:
    """A report ready to render and post: its render kind, model, alt text and embed."""

    kind: str
    model: object
    alt: str
    embed: discord.Embed


class ScheduledReports(commands.Cog):
    """A cog that posts a kind of report on schedule: its loop, the exactly-once protocol, warn-once.

    ``claim_kind`` names its rows in ``posted_reports``; ``topic`` is the settings hook
    (``bot.hooks``) that re-plans it. A subclass says what is due in one guild
    (``guild_due``) and posts each due report with ``post_once``.
    """

    def __init__(self, bot: StatsBot, what: str, claim_kind: str, topic: Topic) -> None:
        self.bot = bot
        self.what = what
        self.claim_kind = claim_kind
        self.topic: Topic = topic
        self.loop = PostLoop(bot, what, self.post_due)
        self._warned: set[int] = set()

    def now(self) -> datetime:
        """The bot's clock as an aware UTC datetime."""
        return datetime.fromtimestamp(self.bot.clock(), UTC)

    async def guild_due(self, guild: discord.Guild, now: datetime, pending: Settle) -> datetime | None:
        """Post one guild's due reports; when its next one is due (None: nothing planned)."""
        raise NotImplementedError

    async def post_due(self, now: datetime) -> datetime | None:
        """Post every report due at ``now`` and not yet posted, guild by guild; the next time one is due."""
        upcoming: list[datetime] = []
        pending = Settle(self.bot)
        for guild in list(self.bot.guilds):
            if guild.unavailable:
                continue
            try:
                nxt = await self.guild_due(guild, now, pending)
            except Exception as error:
                if is_transient(error):
                    raise  # the loop retries the whole pass
                log.exception("%s of guild %s failed; the others go on", self.what, guild.id)
                continue
            if nxt is not None:
                upcoming.append(nxt)
        return min(upcoming, default=None)

    async def post_once(
        self,
        guild: discord.Guild,
        settings: GuildSettings,
        key: str,
        now: datetime,
        build: Callable[[], Awaitable[Post | None]],
    ) -> bool:
        """Claim, build and post one report; True when this call posted it.

        ``build`` returns None when there is nothing worth posting: the claim then
        records the report as handled. A report due while no report channel is set
        is handled too (skipped, with one warning per guild), so that setting a
        channel later does not flood it with a backlog.
        """
        engine = self.bot.engine
        if not await claims.claim(engine, guild.id, self.claim_kind, key, now):
            return False
        try:
            channel = report_channel(guild, settings)
            if channel is None:
                gone = settings.report_channel_id is not None
                self._warn(guild, "the report channel is gone" if gone else "no report channel is set")
                return False
            post = await build()
            if post is None:
                return False
            message = await post_image(self.bot, channel, post.kind, post.model, post.alt, post.embed)
        except discord.HTTPException as error:
            await claims.release(engine, guild.id, self.claim_kind, key)
            self._warn(guild, f"posting to the report channel failed ({error.status})")
            return False
        except BaseException as error:
            await claims.release(engine, guild.id, self.claim_kind, key)
            if is_transient(error):
                log.warning("%s %s of guild %s: database unreachable, will retry", self.what, key, guild.id)
            raise
        await claims.record_message(engine, guild.id, self.claim_kind, key, message.id)
        self._warned.discard(guild.id)
        log.info("posted %s %s in guild %s", self.what, key, guild.id)
        return True

    async def cog_load(self) -> None:
        self.bot.hooks.add_replan(self.topic, self.replan)
        self.loop.start()

    async def cog_unload(self) -> None:
        self.bot.hooks.remove_replan(self.topic, self.replan)
        await self.loop.stop()

    def replan(self, guild_id: int | None = None) -> None:
        """Re-plan the posting loop (call after /config changes what or where it posts)."""
        if guild_id is not None:
            self._warned.discard(guild_id)
        self.loop.wake()

    def _warn(self, guild: discord.Guild, why: str) -> None:
        """One warning per guild until it works again."""
        if guild.id not in self._warned:
            self._warned.add(guild.id)
            log.warning("%s of guild %s are skipped: %s", self.what, guild.id, why)
