"""The real StatsBot, in this process, against the offline Discord: for command tests.

``live_bot(backend, sandbox)`` starts the bot exactly as ``python -m bot run`` does
(Discord redirected to the sandbox, slash commands synced, cogs loaded), with
rendering in-process (``render_processes=0``), and waits until it is ready. A test
then drives it with ``sandbox.invoke(...)`` and reads what it answered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

from bot.app import EXTENSIONS, StatsBot
from bot.clock import Clock, system_clock
from bot.sandbox import SandboxDiscord, redirect_discord
from bot.settings import load_settings
from tests.conftest import Backend
from tests.sandbox import race


class LiveBot(StatsBot):
    """StatsBot with discord.py's waits shortened for tests (behaviour otherwise unchanged)."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None  # discord.py sleeps 5 s between shards; the sandbox has no identify limit


@contextlib.asynccontextmanager
async def live_bot(
    backend: Backend,
    sandbox: SandboxDiscord,
    *,
    extensions: Sequence[str] = EXTENSIONS,
    clock: Clock = system_clock,
    flush_interval: float = 3600,
) -> AsyncIterator[LiveBot]:
    """Run the bot on ``backend`` against ``sandbox`` until the block ends; close it (final flush) after."""
    redirect_discord(sandbox.url)
    settings = load_settings(
        DATABASE_URL=backend.url,
        REDIS_URL=backend.redis_url,
        DISCORD_TOKEN=sandbox.token,
        DISCORD_API_URL=sandbox.url,
        FLUSH_INTERVAL_SECONDS=flush_interval,
    )
    store = backend.store() if backend.redis_url else None
    bot = LiveBot(settings, extensions=extensions, clock=clock, store=store, render_processes=0)
    bot._connection.guild_ready_timeout = 0.05  # ready right after the last GUILD_CREATE
    task = asyncio.create_task(bot.start(sandbox.token), name="live bot")
    try:
        await race(sandbox.wait_connected(1), task, within=30)
        await race(bot.wait_until_ready(), task, within=30)
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def flush(bot: StatsBot) -> None:
    """Push and flush everything the bot holds (what reports read)."""
    await bot.pusher.drain()
    await bot.flusher.flush_once()
