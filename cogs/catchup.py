"""Catch-up after gaps, and coverage: no message lost while the bot was down or disconnected.

Stores, per guild: the intervals it tracked live (``coverage_live``: start and last heartbeat),
the gaps between them (``coverage_gaps``: ``offline`` when the process was down,
``disconnected`` when a gateway session or the guild was lost, and the messages recovered for
each), per channel the first and last message id counted (``channel_marks``) and the
stretches of history still to import (``catchup_ranges``). Never message content.

After a gap (a start, a new gateway session, a guild available again) a background task
imports the gap's messages from channel history, channel by channel, threads and forum posts
included, with the counting rules of live tracking; see ``bot.tracking.catchup`` for why each
message counts exactly once, across crashes during the catch-up too. It runs one request at
a time (discord.py waits out rate limits), so live tracking, which needs no request, is never
delayed. Reactions and voice of a gap cannot be recovered and are not invented.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Final

import discord
from discord.ext import commands
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.app import StatsBot
from bot.loops import stopped_within
from bot.metrics import NAMESPACE
from bot.tracking.catchup import (
    SETTLE_S,
    GapState,
    GuildCoverage,
    gap_record,
    live_record,
    message_seconds,
    upper_bound,
)
from bot.tracking.emoji_scan import EmojiScanner, custom_emoji_scanner
from bot.tracking.messages import channel_record, count_message, count_message_emojis, countable_place
from bot.tracking.snowflakes import snowflake_at
from db import coverage as coverage_repo
from db.coverage import Range
from db.series import CATCHUP

log = logging.getLogger(__name__)

PAGE: Final = 100
# The live interval's heartbeat: a crash loses at most this much of the interval's end.
HEARTBEAT_S: Final = 5.0
# How often the worker looks for guilds with new ranges to import.
POLL_S: Final = 1.0
# Progress lines at most this often per guild.
LOG_EVERY_S: Final = 10.0
# Gaps this recent are loaded at start (a resumed catch-up may still recover messages of theirs).
RECENT_GAPS_S: Final = 30 * 86400
# Attempts to read the stored marks at start before running without them.
LOAD_ATTEMPTS: Final = 5
# The safety net: this often, channels with a message counted in the last two such periods
# get their history's newest message compared with their mark (a missed gateway event).
SAFETY_NET_S: Final = 3600.0

Readable = discord.TextChannel | discord.Thread


def readable(channel: discord.abc.GuildChannel | discord.Thread, me: discord.Member) -> bool:
    """True when the bot can read the channel's history."""
    perms = channel.permissions_for(me)
    return perms.view_channel and perms.read_message_history


class CatchUpMetrics(Collector):
    """Catch-up progress for ``/metrics``, read from the cog at scrape time."""

    def __init__(self, cog: CatchUp) -> None:
        self.cog = cog

    def collect(self) -> Iterator[Metric]:
        cog = self.cog
        yield CounterMetricFamily(
            f"{NAMESPACE}_catchup_recovered_messages", "Messages imported from history after gaps.", value=cog.recovered
        )
        yield CounterMetricFamily(
            f"{NAMESPACE}_catchup_pages", "History pages read by catch-up and the safety net.", value=cog.pages
        )
        yield CounterMetricFamily(
            f"{NAMESPACE}_catchup_tails_found",
            "Channels the hourly safety net found behind their history.",
            value=cog.tails_found,
        )
        yield CounterMetricFamily(
            f"{NAMESPACE}_catchup_live_skipped",
            "Live messages left to catch-up (below a channel's live boundary).",
            value=cog.marks.skipped,
        )
        yield CounterMetricFamily(
            f"{NAMESPACE}_catchup_guilds_done", "Catch-ups of a guild completed by this process.", value=cog.guilds_done
        )
        yield GaugeMetricFamily(f"{NAMESPACE}_catchup_busy", "1 while a guild is being caught up.", value=int(cog.busy))
        yield GaugeMetricFamily(
            f"{NAMESPACE}_catchup_guilds_queued", "Guilds waiting for their catch-up.", value=len(cog.queue)
        )


class CatchUp(commands.Cog):
    """Imports what live tracking missed during gaps, and records the gaps."""

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot
        self.marks = bot.marks
        self.guilds_done = 0  # catch-ups completed (each flushes the buffer first: tests wait for it)
        self.scanner: EmojiScanner = custom_emoji_scanner(bot)
        self.coverage: dict[int, GuildCoverage] = {}
        self.last_live: dict[int, int] = {}
        # shard -> when its gateway connection was lost; guild -> when it became unavailable.
        self.lost_at: dict[int, int] = {}
        self.unavailable_at: dict[int, int] = {}
        # guild -> (gap start, gap end, kind) waiting for the guild to be available.
        self.pending_gaps: dict[int, tuple[int, int, str]] = {}
        self.session_start: dict[int, float] = {}
        self.connected_once: set[int] = set()
        self.queue: list[int] = []
        # Guilds just available: their archived threads are listed at the next catch-up.
        self.fresh: set[int] = set()
        self.recovered = 0
        self.pages = 0
        self.tails_found = 0
        self.metrics = CatchUpMetrics(self)
        self.next_check = time.monotonic() + SAFETY_NET_S
        self.busy = False
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def now(self) -> int:
        return int(self.bot.clock())

    async def cog_load(self) -> None:
        self.bot.telemetry.registry.register(self.metrics)
        if self.bot.storage_open:
            await self._load()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._heartbeats(), name="coverage-heartbeat"),
            loop.create_task(self._worker(), name="catch-up"),
        ]

    async def cog_unload(self) -> None:
        self.bot.telemetry.registry.unregister(self.metrics)
        # A last heartbeat: after a clean stop the next gap starts right here.
        now = self.now()
        for guild_id, cov in self.coverage.items():
            if cov.live_since is not None:
                self.bot.counters.record(*live_record(guild_id, cov.live_since, now))
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("catch-up task %s failed", task.get_name())

    async def _load(self) -> None:
        """Flush what a previous run left in the buffer, then read the marks and live intervals.

        Before the gateway connects, so that the first live message of each channel already
        knows the channel's mark.
        """
        for attempt in range(1, LOAD_ATTEMPTS + 1):
            try:
                await self.bot.settle()
                self.marks.load(await coverage_repo.marks(self.bot.engine))
                self.last_live = await coverage_repo.last_live(self.bot.engine)
                since = self.now() - RECENT_GAPS_S
                for guild_id, gaps in (await coverage_repo.recent_gaps(self.bot.engine, since)).items():
                    self.coverage[guild_id] = GuildCoverage(gaps=[GapState(*g) for g in gaps])
                log.info("catch-up: %d channel marks loaded", len(self.marks.marks))
                return
            except Exception as exc:
                log.warning("catch-up: cannot read the stored marks (attempt %d): %s", attempt, exc)
                await asyncio.sleep(min(8.0, 0.5 * 2**attempt))
        log.error("catch-up: running without stored marks; messages of the last gap are not recovered")

    # -- gaps --------------------------------------------------------------------------------

    def _guilds_of_shard(self, shard_id: int) -> list[int]:
        return [g.id for g in self.bot.guilds if g.shard_id == shard_id]

    @commands.Cog.listener()
    async def on_shard_connect(self, shard_id: int) -> None:
        # A new gateway session (READY): what was sent since the last one is a gap. Synchronous:
        # this runs before the listeners of the session's first messages.
        now = self.now()
        guild_ids = self._guilds_of_shard(shard_id)
        if shard_id not in self.connected_once:
            self.connected_once.add(shard_id)
            for g in guild_ids:
                last = self.last_live.get(g)
                self.marks.new_session([g], last)
                if last is not None and last < now:
                    self.pending_gaps[g] = (last, now, "offline")
                self.session_start[g] = now
            return
        lost = self.lost_at.pop(shard_id, now)
        log.warning("shard %s started a new gateway session: catching up since %s", shard_id, lost)
        self.marks.new_session(guild_ids, lost)
        for g in guild_ids:
            self.pending_gaps[g] = (lost, now, "disconnected")
            self.session_start[g] = now
            cov = self.coverage.get(g)
            if cov is not None:
                cov.live_since = None

    @commands.Cog.listener()
    async def on_shard_disconnect(self, shard_id: int) -> None:
        self.lost_at.setdefault(shard_id, self.now())

    @commands.Cog.listener()
    async def on_shard_resumed(self, shard_id: int) -> None:
        # Resumed: Discord replays what was missed, so there is no gap.
        self.lost_at.pop(shard_id, None)

    @commands.Cog.listener()
    async def on_guild_unavailable(self, guild: discord.Guild) -> None:
        self.unavailable_at.setdefault(guild.id, self.now())
        cov = self.coverage.get(guild.id)
        if cov is not None:
            cov.live_since = None

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        now = self.now()
        lost = self.unavailable_at.pop(guild.id, None)
        if lost is not None and guild.id not in self.pending_gaps:
            self.marks.new_session([guild.id], lost)
            self.pending_gaps[guild.id] = (lost, now, "disconnected")
            self.session_start[guild.id] = now
        self._went_live(guild.id)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.session_start.setdefault(guild.id, self.now())
        self._went_live(guild.id)

    def _went_live(self, guild_id: int) -> None:
        """Start the guild's live interval, record the gap that ended, and queue its catch-up."""
        now = self.now()
        cov = self.coverage.setdefault(guild_id, GuildCoverage())
        cov.live_since = now
        self.bot.counters.record(*live_record(guild_id, now, now))
        pending = self.pending_gaps.pop(guild_id, None)
        if pending is not None:
            gap = GapState(*pending)
            cov.gaps.append(gap)
            self.bot.counters.record(*gap_record(guild_id, gap))
            log.info("guild %s: %s gap of %d s recorded", guild_id, gap.kind, gap.to_at - gap.from_at)
        self.fresh.add(guild_id)
        if guild_id not in self.queue:
            self.queue.append(guild_id)

    async def _heartbeats(self) -> None:
        """Move every live interval's end on, so a crash shows as a gap from about its moment."""
        while not await stopped_within(self._stop, HEARTBEAT_S):
            now = self.now()
            for guild_id, cov in self.coverage.items():
                if cov.live_since is not None:
                    self.bot.counters.record(*live_record(guild_id, cov.live_since, now))

    # -- the import ------------------------------------------------------------------------------

    async def _worker(self) -> None:
        """Catch up queued guilds one at a time, and guilds whose channels got new ranges."""
        while not self._stop.is_set():
            for g in sorted(self.marks.wanted):
                if g not in self.queue:
                    self.queue.append(g)
            self.marks.wanted.clear()
            if not self.queue and time.monotonic() >= self.next_check:
                self.next_check = time.monotonic() + SAFETY_NET_S
                try:
                    await self.check_tails()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("catch-up safety net stopped, retried at the next one: %s", exc, exc_info=True)
                continue
            if not self.queue:
                await stopped_within(self._stop, POLL_S)
                continue
            guild_id = self.queue.pop(0)
            guild = self.bot.get_guild(guild_id)
            if guild is None or guild.unavailable:
                continue
            self.busy = True
            try:
                await self.catch_up(guild)
                self.guilds_done += 1
            except asyncio.CancelledError:
                raise
            except discord.HTTPException as exc:
                # Rate limits discord.py gave up on, Discord errors: what was imported is kept.
                log.warning("catch-up of guild %s paused, retried shortly: %s", guild_id, exc)
                self.queue.append(guild_id)
                await stopped_within(self._stop, 5.0)
            except Exception as exc:
                log.warning("catch-up of guild %s stopped, retried shortly: %s", guild_id, exc, exc_info=True)
                self.queue.append(guild_id)
                await stopped_within(self._stop, 5.0)
            finally:
                self.busy = False

    async def catch_up(self, guild: discord.Guild) -> int:
        """Import every stored range of a guild, then move unmarked channels up to live; returns messages."""
        started = time.monotonic()
        # The ranges live tracking wrote are in the database once flushed.
        await self.bot.settle()
        ranges = await coverage_repo.open_ranges(self.bot.engine, guild.id)
        channels = await self._channels(guild)
        total = len(ranges) + len(channels)
        counted = done = 0
        last_log = time.monotonic()
        log.info("catch-up of guild %s: %d ranges and %d channels to look at", guild.id, len(ranges), len(channels))
        for r in ranges:
            ch = guild.get_channel_or_thread(r.channel_id)
            counted += await self._import_range(guild, ch, r)
            done += 1
            if time.monotonic() - last_log >= LOG_EVERY_S:
                last_log = time.monotonic()
                log.info("catch-up of guild %s: %d/%d done, %d messages recovered", guild.id, done, total, counted)
        for ch in channels:
            counted += await self._advance(guild, ch)
            done += 1
            if time.monotonic() - last_log >= LOG_EVERY_S:
                last_log = time.monotonic()
                log.info("catch-up of guild %s: %d/%d done, %d messages recovered", guild.id, done, total, counted)
        self.recovered += counted
        log.info(
            "catch-up of guild %s finished: %d messages recovered in %.1f s",
            guild.id,
            counted,
            time.monotonic() - started,
        )
        return counted

    async def check_tails(self) -> int:
        """The hourly safety net: find channels whose newest messages live tracking never got.

        For every channel with a message counted in the last two periods, one request for the
        newest message older than ``SETTLE_S`` (younger ones may still arrive live); one above
        the channel's mark becomes a range (``LiveMarks.tail_missed``) that the worker imports
        next, exactly once. Returns the channels found behind.
        """
        now = self.bot.clock()
        since = snowflake_at(int(now - 2 * SAFETY_NET_S))
        behind = 0
        for guild in list(self.bot.guilds):
            if guild.unavailable:
                continue
            for channel_id, seen in self.marks.active_since(guild.id, since):
                ch = guild.get_channel_or_thread(channel_id)
                if not isinstance(ch, discord.TextChannel | discord.Thread) or not readable(ch, guild.me):
                    continue
                upper = discord.Object(id=snowflake_at(int(self.bot.clock() - SETTLE_S)))
                try:
                    newest = [m async for m in ch.history(limit=1, before=upper)]
                except discord.HTTPException as exc:
                    log.info("safety net cannot read channel %s: %s", channel_id, exc)
                    continue
                self.pages += 1
                if newest and self.marks.tail_missed(guild.id, channel_id, newest[0].id, seen):
                    behind += 1
                    self.tails_found += 1
                    log.warning(
                        "safety net: channel %s of guild %s has messages live tracking never got; catching up",
                        channel_id,
                        guild.id,
                    )
        if behind:
            log.info("safety net: %d channels to catch up", behind)
        return behind

    async def _channels(self, guild: discord.Guild) -> list[Readable]:
        """The text channels and threads (active, and archived since the gap) not yet live this session."""
        me = guild.me
        out: list[Readable] = []
        seen: set[int] = set()

        def add(ch: Readable) -> None:
            if ch.id not in seen and not self.marks.is_live(guild.id, ch.id) and readable(ch, me):
                seen.add(ch.id)
                out.append(ch)

        for ch in guild.text_channels:
            add(ch)
        for th in guild.threads:
            add(th)
        floor = self.marks.floor.get(guild.id)
        if floor is None or guild.id not in self.fresh:
            return out
        self.fresh.discard(guild.id)
        since = message_seconds(floor)
        parents: list[discord.TextChannel | discord.ForumChannel] = [*guild.text_channels, *guild.forums]
        for parent in parents:
            if not readable(parent, me):
                continue
            try:
                async for th in parent.archived_threads(limit=None):
                    if th.archive_timestamp.timestamp() < since:
                        break
                    add(th)
            except discord.HTTPException as exc:
                log.info("catch-up cannot list archived threads of channel %s: %s", parent.id, exc)
        return out

    def _count(self, guild: discord.Guild, message: discord.Message) -> bool:
        """Count one history message as live tracking would; True when it counted."""
        place = countable_place(message, self.bot.optouts)
        if place is None:
            return False
        count_message(self.bot.counters, message, place)
        count_message_emojis(self.bot.counters, self.scanner, message, place)
        cov = self.coverage.get(guild.id)
        gap = cov.gap_for(message_seconds(message.id)) if cov is not None else None
        if gap is not None:
            gap.recovered += 1
        return True

    def _record_gaps(self, guild_id: int) -> None:
        cov = self.coverage.get(guild_id)
        if cov is not None:
            for gap in cov.gaps:
                self.bot.counters.record(*gap_record(guild_id, gap))

    async def _import_range(self, guild: discord.Guild, ch: object, r: Range) -> int:
        """Import one stored range page by page; its cursor moves in the snapshot of its counts."""
        counters = self.bot.counters
        key = (CATCHUP.code, guild.id, r.channel_id, r.until_id)
        if not isinstance(ch, discord.TextChannel | discord.Thread):
            # Gone, or not a text channel any more: nothing can be read there.
            counters.record(key, (r.cursor_id, 1))
            return 0
        if ch.__class__ is discord.Thread and (rec := channel_record(ch, guild.id)) is not None:
            counters.record(*rec)
        cursor, counted = r.cursor_id, 0
        while cursor < r.until_id - 1:
            try:
                page = [m async for m in ch.history(limit=PAGE, after=discord.Object(id=cursor), oldest_first=True)]
                self.pages += 1
            except (discord.NotFound, discord.Forbidden) as exc:
                log.info("catch-up of channel %s given up: %s", ch.id, exc)
                counters.record(key, (cursor, 1))
                return counted
            # No await from here to the records: the page's counts and its cursor go out together.
            reached = False
            for m in page:
                if m.id >= r.until_id:
                    reached = True
                    break
                counted += self._count(guild, m)
                cursor = m.id
            finished = reached or len(page) < PAGE
            counters.record(key, (cursor, int(finished)))
            self._record_gaps(guild.id)
            if finished:
                break
            await asyncio.sleep(0)
        else:
            counters.record(key, (cursor, 1))
        return counted

    async def _advance(self, guild: discord.Guild, ch: Readable) -> int:
        """Move the mark of a channel without live messages this session up to live, page by page."""
        start = self.marks.start_of(guild.id, ch.id)
        if start is None:
            return 0
        if ch.__class__ is discord.Thread and (rec := channel_record(ch, guild.id)) is not None:
            self.bot.counters.record(*rec)
        session = self.session_start.get(guild.id, self.bot.clock())
        cursor, counted = start, 0
        while True:
            try:
                page = [m async for m in ch.history(limit=PAGE, after=discord.Object(id=cursor), oldest_first=True)]
                self.pages += 1
            except (discord.NotFound, discord.Forbidden) as exc:
                log.info("catch-up of channel %s given up: %s", ch.id, exc)
                return counted
            # No await from here on: deciding, counting and moving the mark are one step.
            if self.marks.is_live(guild.id, ch.id):
                # A live message came meanwhile: its range (from this mark) covers the rest.
                return counted
            upper = upper_bound(self.bot.clock(), session)
            reached = False
            lowest = cursor
            for m in page:
                if m.id >= upper:
                    reached = True
                    break
                counted += self._count(guild, m)
                cursor = m.id
            if cursor != lowest:
                # The first id imported, too: backfill imports only below a channel's first mark.
                self.marks.moved(guild.id, ch.id, page[0].id)
                self.marks.moved(guild.id, ch.id, cursor)
            self._record_gaps(guild.id)
            if reached or len(page) < PAGE:
                self.marks.hand_over(guild.id, ch.id, upper)
                return counted
            await asyncio.sleep(0)


async def setup(bot: StatsBot) -> None:
    await bot.add_cog(CatchUp(bot))
