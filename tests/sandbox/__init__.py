"""Tests of the offline Discord, each against the real discord.py client; shared helpers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import discord

from bot.api_url import redirect_discord
from sandbox import SandboxDiscord

T = TypeVar("T")


def intents() -> discord.Intents:
    """Every intent, as the stats bot asks for members, voice states, messages and invites."""
    return discord.Intents.all()


ClientT = TypeVar("ClientT", bound=discord.Client)

READY_TIMEOUT = 0.05  # on_ready waits this long after the last GUILD_CREATE


async def race(waiting: Awaitable[T], client_task: asyncio.Task[None], *, within: float = 5.0) -> T:
    """Await `waiting`, failing at once if the client's task ends (it raises out of `start()`)."""
    waiter = asyncio.ensure_future(waiting)
    done, _ = await asyncio.wait({waiter, client_task}, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    if waiter in done:
        return waiter.result()
    waiter.cancel()
    if client_task in done:
        client_task.result()
        raise AssertionError("the client stopped before the awaited condition")
    raise TimeoutError("the awaited condition did not happen in time")


@contextlib.asynccontextmanager
async def running(
    client: ClientT, sandbox: SandboxDiscord, *, connections: int = 1
) -> AsyncIterator[tuple[ClientT, asyncio.Task[None]]]:
    """Run a discord.py client against the sandbox until it is ready; close it afterwards."""
    redirect_discord(sandbox.url)
    task = asyncio.create_task(client.start(sandbox.token))
    try:
        await race(sandbox.wait_connected(connections), task)
        await race(client.wait_until_ready(), task)
        yield client, task
    finally:
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await task
