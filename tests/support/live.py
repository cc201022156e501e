"""The real StatsBot, in this process, against the offline Discord: for command tests.

``live_bot(backend, sandbox)`` starts the bot exactly as ``python -m bot run`` does
(Discord redirected to the sandbox, slash commands synced, cogs loaded), with
rendering in-process (``render_processes=0``), and waits until it is ready. A test
then drives it with ``sandbox.invoke(...)`` and reads what it answered.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

from bot.app import EXTENSIONS
from bot.clock import Clock, system_clock
from bot.demo.runner import DemoBot, flush, running_bot
from bot.sandbox import SandboxDiscord
from tests.conftest import Backend

__all__ = ["LiveBot", "flush", "live_bot"]

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
