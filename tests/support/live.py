"""The real StatsBot, in this process, against the offline Discord: for command tests.

``live_bot(backend, sandbox)`` starts the bot exactly as ``python -m bot run`` does
(Discord redirected to the sandbox, slash commands synced, cogs loaded), with
rendering in-process (``render_processes=0``), and waits until it is ready. A test
then drives it with ``sandbox.invoke(...)`` and reads what it answered.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

from bot.app import EXTENSIONS, StatsBot
from bot.clock import Clock, system_clock
from bot.settings import load_settings
from db.series import CounterKey
from demo.runner import DemoBot, flush, running_bot
from sandbox import SandboxDiscord
from tests.conftest import Backend

__all__ = ["LiveBot", "counted_and_flushed", "flush", "live_bot"]

# The bot class the tests run: StatsBot without discord.py's wait between shards.
LiveBot = DemoBot


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
    store = backend.store() if backend.redis_url else None
    async with running_bot(
        sandbox, backend.url, backend.redis_url, clock, extensions, store=store, flush_interval=flush_interval
    ) as bot:
        yield bot


async def counted_and_flushed(backend: Backend, clock: float, increments: Sequence[tuple[CounterKey, int]]) -> None:
    """``increments`` counted by a real bot whose clock reads ``clock``, then written by its final flush.

    No gateway: the bot is set up and closed, as the flush path of ``python -m bot run``
    runs it (a batch with rows of earlier days moves the guild's history on).
    """
    settings = load_settings(DATABASE_URL=backend.url, REDIS_URL=backend.redis_url, FLUSH_INTERVAL_SECONDS=3600)
    store = backend.store() if backend.redis_url else None
    bot = StatsBot(settings, extensions=(), store=store, clock=lambda: clock, render_processes=0)
    await bot.setup_hook()
    for key, value in increments:
        bot.counters.incr(key, value)
    await bot.close()
