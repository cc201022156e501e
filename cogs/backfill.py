"""Message-history import: ``/backfill days channel?``.

Stores the same counters as live tracking for messages older than the first message
live tracking (or catch-up) counted in each channel (messages, characters, attachments,
replies, and emojis in content, through the very functions the live cogs use), and a
``backfill`` record per channel: ``boundary_id`` (only messages older than it are
imported: newer ones are counted live),
``cursor_id`` (the oldest point imported so far) and ``done`` (the channel's first
message was reached). The record of each page is written right after that page's
counts, so progress commits with the counts it covers; a run stopped at any point
(a restart included) continues below the cursor when the command is run again, and
never counts a message twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import StatsBot
from bot.tracking.emoji_scan import EmojiScanner, custom_emoji_scanner
from bot.tracking.messages import channel_record, count_message, count_message_emojis, countable_place
from bot.tracking.snowflakes import snowflake_at, snowflake_hour
from db import backfill as backfill_repo
from db import coverage as coverage_repo
from db.series import BACKFILL, DAY

log = logging.getLogger(__name__)

PAGE: Final = 100
MAX_DAYS: Final = 365
# Progress edits at most this often (Discord rate-limits message edits).
EDIT_EVERY_S: Final = 2.0
BAR_WIDTH: Final = 20

Channel = discord.TextChannel | discord.Thread
Target = discord.TextChannel | discord.Thread | discord.ForumChannel
Report = Callable[[str], Awaitable[None]]


@dataclass(slots=True)
class ChannelProgress:
    """Where one channel's import stands (mirrors its ``backfill`` record)."""

    boundary_id: int
    cursor_id: int
    done: bool


@dataclass(slots=True)
class Run:
    """One backfill run's tallies, for the progress message."""

    channels: int
    channels_done: int = 0
    messages: int = 0
    skipped: list[str] = field(default_factory=list)


def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """A text progress bar: ``[██████░░░░] 60 %``."""
    frac = 1.0 if total <= 0 else min(1.0, done / total)
    filled = round(frac * width)
    return f"[{'█' * filled}{'░' * (width - filled)}] {round(frac * 100)} %"


def progress_text(run: Run, days: int, *, finished: bool = False) -> str:
    head = "Backfill finished" if finished else "Backfill running"
    lines = [
        f"{head}: last {days} days, {run.channels_done}/{run.channels} channels, {run.messages:,} messages imported.",
        progress_bar(run.channels_done, run.channels),
    ]
    if run.skipped:
        lines.append(f"Skipped (no access): {', '.join(run.skipped[:10])}" + (" …" if len(run.skipped) > 10 else ""))
    return "\n".join(lines)


class ProgressMessage:
    """The visible progress of a run: the command's reply, edited; a channel message after 13 minutes.

    An interaction's token lasts 15 minutes; a failed edit is logged and does not stop the import.
    """

    def __init__(self, interaction: discord.Interaction) -> None:
        self.interaction = interaction
        self.started = time.monotonic()
        self.moved: discord.Message | None = None

    async def show(self, text: str) -> None:
        try:
            if self.moved is not None:
                await self.moved.edit(content=text)
            elif time.monotonic() - self.started < 13 * 60:
                await self.interaction.edit_original_response(content=text)
            elif isinstance(self.interaction.channel, discord.TextChannel | discord.Thread):
                self.moved = await self.interaction.channel.send(text)
        except discord.HTTPException as exc:
            log.info("could not show backfill progress: %s", exc)


def readable(channel: discord.abc.GuildChannel | discord.Thread, me: discord.Member) -> bool:
    """True when the bot can read the channel's history."""
    perms = channel.permissions_for(me)
    return perms.view_channel and perms.read_message_history


class Backfill(commands.Cog):
    """Imports message history so that reports cover the time before the bot joined."""

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot
        self.scanner: EmojiScanner = custom_emoji_scanner(bot)
        self.running: set[int] = set()
        # Progress written by this run, newer than the database until the flusher catches up.
        self.written: dict[tuple[int, int], ChannelProgress] = {}

    # -- the command -----------------------------------------------------------------------

    @app_commands.command(name="backfill", description="Import message history so that reports cover earlier days")
    @app_commands.describe(
        days="How many days back to import (1–365, default 30)",
        channel="Only this channel or thread (default: every channel the bot can read)",
    )
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def backfill(
        self,
        interaction: discord.Interaction,
        days: app_commands.Range[int, 1, MAX_DAYS] = 30,
        channel: app_commands.AppCommandChannel | app_commands.AppCommandThread | None = None,
    ) -> None:
        """Import message history so that reports cover earlier days."""
        guild = interaction.guild
        error, target = self.validate(interaction, days, channel)
        if error is not None or guild is None:
            await interaction.response.send_message(error or "This command works in a server.", ephemeral=True)
            return
        self.running.add(guild.id)  # before the first await: a second run is refused at once
        try:
            await interaction.response.defer(thinking=True)
            await self.run_backfill(guild, target, days, ProgressMessage(interaction).show)
        finally:
            self.running.discard(guild.id)

    def validate(
        self,
        interaction: discord.Interaction,
        days: int,
        channel: app_commands.AppCommandChannel | app_commands.AppCommandThread | None,
    ) -> tuple[str | None, Target | None]:
        """One short sentence for bad input, else the channel to import (None: every readable one)."""
        guild = interaction.guild
        if guild is None:
            return "This command works in a server.", None
        perms = interaction.permissions
        if not (perms.manage_guild or perms.administrator):
            return "You need the Manage Server permission to run a backfill.", None
        if not 1 <= days <= MAX_DAYS:
            return f"Days must be between 1 and {MAX_DAYS}.", None
        if guild.id in self.running:
            return "A backfill is already running in this server.", None
        if channel is None:
            return None, None
        resolved = guild.get_channel_or_thread(channel.id)
        if not isinstance(resolved, discord.TextChannel | discord.Thread | discord.ForumChannel):
            return "I can't find that text channel, forum or thread here.", None
        if not readable(resolved, guild.me):
            return f"I can't read the history of {resolved.mention}.", None
        return None, resolved

    # -- the import ------------------------------------------------------------------------

    async def list_channels(
        self, guild: discord.Guild, only: list[Channel], since: int, parents: list[discord.abc.GuildChannel]
    ) -> tuple[list[Channel], list[str]]:
        """The text channels and threads to import, readable by the bot; names of those skipped."""
        me = guild.me
        targets: list[Channel] = []
        skipped: list[str] = []
        seen: set[int] = set()

        def add(ch: Channel) -> None:
            if ch.id in seen:
                return
            seen.add(ch.id)
            if readable(ch, me):
                targets.append(ch)
            else:
                skipped.append(f"#{ch.name}")

        for ch in only:
            add(ch)
        for parent in parents:
            if isinstance(parent, discord.TextChannel):
                add(parent)
            if not isinstance(parent, discord.TextChannel | discord.ForumChannel):
                continue
            for thread in guild.threads:
                if thread.parent_id == parent.id:
                    add(thread)
            if not readable(parent, me):
                continue
            try:
                async for thread in parent.archived_threads(limit=None):
                    if thread.archive_timestamp.timestamp() < since:
                        break
                    add(thread)
            except discord.HTTPException as exc:
                log.info("cannot list archived threads of channel %s: %s", parent.id, exc)
        return targets, skipped

    async def run_backfill(self, guild: discord.Guild, target: Target | None, days: int, report: Report) -> Run:
        """Import ``days`` of history of one channel (with its threads), or of every readable one."""
        since = int(self.bot.clock()) - days * DAY
        only: list[Channel] = []
        parents: list[discord.abc.GuildChannel] = []
        if isinstance(target, discord.Thread):
            only = [target]
        elif target is not None:
            parents = [target]
        else:
            parents = [c for c in guild.channels if isinstance(c, discord.TextChannel | discord.ForumChannel)]
        targets, skipped = await self.list_channels(guild, only, since, parents)
        run = Run(channels=len(targets), skipped=skipped)
        stored = await self.load_progress(guild.id)
        if stored is None:
            await report("The database is unreachable right now; please try the backfill again later.")
            return run
        last_edit = 0.0
        await report(progress_text(run, days))
        for ch in targets:
            try:
                run.messages += await self.import_channel(guild, ch, since, stored.get(ch.id))
            except discord.Forbidden:
                run.skipped.append(f"#{ch.name}")
            except discord.HTTPException as exc:
                log.warning("backfill of channel %s stopped: %s", ch.id, exc)
                run.skipped.append(f"#{ch.name}")
            run.channels_done += 1
            if time.monotonic() - last_edit >= EDIT_EVERY_S:
                last_edit = time.monotonic()
                await report(progress_text(run, days))
        await report(progress_text(run, days, finished=True))
        return run

    async def load_progress(self, guild_id: int) -> dict[int, ChannelProgress] | None:
        """Stored progress, after pushing and flushing so the database holds every record written."""
        bot = self.bot
        try:
            await bot.settle()
            rows = await backfill_repo.progress(bot.engine, guild_id)
        except Exception:
            log.warning("cannot read the backfill progress of guild %s", guild_id, exc_info=True)
            return None
        out = {c: ChannelProgress(p.boundary_id, p.cursor_id, p.done) for c, p in rows.items()}
        for (g, c), p in self.written.items():
            if g == guild_id:
                out[c] = ChannelProgress(p.boundary_id, p.cursor_id, p.done)
        return out

    def _save(self, guild_id: int, channel_id: int, prog: ChannelProgress) -> None:
        """Write a channel's progress record (after the counts it covers) and remember it."""
        self.bot.counters.record(
            (BACKFILL.code, guild_id, channel_id), (prog.boundary_id, prog.cursor_id, int(prog.done))
        )
        self.written[(guild_id, channel_id)] = ChannelProgress(prog.boundary_id, prog.cursor_id, prog.done)

    async def boundary(self, guild: discord.Guild, ch: Channel) -> int | None:
        """Messages below this id are imported; live tracking (or catch-up) counted the rest.

        The first message counted live or by catch-up in the channel (its stored mark, or
        this run's), so that messages of the bot's first hour sent before it started are
        imported too. Counts older than any mark come from a version without marks: the
        start of their first hour is the boundary then, as any message of that hour may have
        been counted. A channel with nothing counted: the newest message now.
        """
        stored = await coverage_repo.first_marked(self.bot.engine, guild.id, ch.id)
        firsts = [f for f in (stored, self.bot.marks.first.get(ch.id)) if f is not None]
        first_id = min(firsts) if firsts else None
        first_hour = await backfill_repo.first_counted_hour(self.bot.engine, guild.id, ch.id)
        if first_id is not None and (first_hour is None or first_hour >= snowflake_hour(first_id)):
            return first_id
        if first_hour is not None:
            return snowflake_at(first_hour)
        newest = [m async for m in ch.history(limit=1)]
        return newest[0].id + 1 if newest else None

    async def import_channel(self, guild: discord.Guild, ch: Channel, since: int, prog: ChannelProgress | None) -> int:
        """Import one channel page by page below its cursor, down to ``since``; returns messages counted."""
        counters = self.bot.counters
        optouts = self.bot.optouts
        if prog is None:
            boundary = await self.boundary(guild, ch)
            if boundary is None:
                # An empty channel: nothing was posted before live tracking.
                self._save(guild.id, ch.id, ChannelProgress(0, 0, True))
                return 0
            prog = ChannelProgress(boundary, boundary, False)
            self._save(guild.id, ch.id, prog)
        limit_id = snowflake_at(since)
        counted = 0
        if ch.__class__ is discord.Thread:
            rec = channel_record(ch, guild.id)
            if rec is not None:
                counters.record(*rec)
        while not prog.done and prog.cursor_id > limit_id:
            page = [m async for m in ch.history(limit=PAGE, before=discord.Object(id=prog.cursor_id))]
            # No await from here to the record: the page's counts and its progress go out together.
            for m in page:
                if m.id < limit_id:
                    break
                place = countable_place(m, optouts)
                if place is not None:
                    count_message(counters, m, place)
                    count_message_emojis(counters, self.scanner, m, place)
                    counted += 1
            older = [m for m in page if m.id < limit_id]
            if older:
                prog.cursor_id = limit_id  # everything from the limit up is imported
            elif page:
                prog.cursor_id = page[-1].id
            prog.done = len(page) < PAGE and not older
            self._save(guild.id, ch.id, prog)
            if older or not page:
                break
        return counted


async def setup(bot: StatsBot) -> None:
    await bot.add_cog(Backfill(bot))
