"""Scheduled posts to the report channel: the posting loop and what the scheduled reports share.

A posting loop wakes at the next due time its cog returns (or at once when
woken), runs a pass, and survives its failures; the cogs claim each post in
``posted_reports`` before sending it (see ``cogs/events.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import discord
from discord.ext import commands

from bot.loops import stopped_within
from bot.replies import MAX_ALT
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


async def settle(bot: StatsBot) -> None:
    """Push what the bot holds to the database before reading sessions (best effort)."""
    try:
        pusher, flusher = getattr(bot, "pusher", None), getattr(bot, "flusher", None)
        if pusher is not None:
            await pusher.drain()
        if flusher is not None:
            await flusher.flush_once()
    except Exception:
        log.warning("could not flush the buffer before a scheduled report", exc_info=True)


class Settle:
    """``settle`` at most once per pass of a posting loop, and only when something is to be posted."""

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot
        self.done = False

    async def once(self) -> None:
        """Flush the bot's buffer unless this pass already did."""
        if not self.done:
            self.done = True
            await settle(self.bot)


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


class ScheduledReports(commands.Cog):
    """A cog that posts a kind of report on schedule: its loop's lifecycle, re-planning, warn-once."""

    def __init__(self, bot: StatsBot, what: str) -> None:
        self.bot = bot
        self.what = what
        self.loop = PostLoop(bot, what, self.post_due)
        self._warned: set[int] = set()

    async def post_due(self, now: datetime) -> datetime | None:
        """Post what is due at ``now``; the next time something is due (None: nothing planned)."""
        raise NotImplementedError

    async def cog_load(self) -> None:
        self.loop.start()

    async def cog_unload(self) -> None:
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
