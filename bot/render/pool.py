"""A process pool that renders report images off the event loop.

Matplotlib and Pillow hold the GIL for tens of milliseconds per image; in the bot's
process that would stall the gateway heartbeat. ``RenderPool`` sends each render to a
worker process that imported matplotlib and drew a figure once at start-up, so the
first real request does not pay the import. ``RenderPool(processes=0)`` renders in the
calling process instead (tests, the offline demo).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

log = logging.getLogger(__name__)

WARM_UP_TIMEOUT_SECONDS = 60.0


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to end this worker when the bot process dies, even by SIGKILL.

    Without it, workers of a killed bot wait forever on their task queue. Only works
    when the bot is the worker's parent, hence the ``spawn`` start method on Linux.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0) != 0:
        log.warning("render worker could not ask to die with the bot (errno %d)", ctypes.get_errno())
    if os.getppid() != parent_pid:  # the bot died before the request took effect
        os._exit(0)


def _init_worker(parent_pid: int) -> None:
    """Worker initializer: die with the bot, then warm up."""
    _die_with_parent(parent_pid)
    _warm_worker()


def _warm_worker() -> None:
    """Import the renderers (and matplotlib, Agg) and draw one tiny figure."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np

    from bot.render import plot, reports  # noqa: F401  (imported for the side effect of warming)
    from bot.render.canvas import Canvas
    from bot.render.plot import Curve, curve_layer
    from bot.render.theme import DARK, font

    canvas = Canvas((64, 64), DARK)
    canvas.text((2, 2), "0", 12)
    canvas.image.paste(curve_layer(32, 16, [Curve(np.arange(4, dtype=np.float64), DARK.accent)], 4.0), (0, 0))
    canvas.png()
    font(12, "bold")


def _ping() -> int:
    """A no-op task; returns the worker's pid."""
    return os.getpid()


def _render(kind: str, model: Any, theme: str) -> bytes:
    """Render in a worker (the import is cached after the initializer)."""
    from bot.render.reports import render

    return render(kind, model, theme)


class RenderPool:
    """Renders report images in worker processes; ``processes=0`` renders in-process."""

    def __init__(self, processes: int | None = None, *, start_method: str | None = None) -> None:
        self.processes = (os.cpu_count() or 1) if processes is None else processes
        if self.processes < 0:
            raise ValueError("processes must be 0 (in-process) or more")
        # Not forkserver: its workers are the fork server's children, which outlives a killed bot.
        self.start_method = start_method or "spawn"
        if self.start_method not in ("forkserver", "spawn"):
            raise ValueError("start_method must be 'forkserver' or 'spawn' (fork is unsafe with threads)")
        self._executor: ProcessPoolExecutor | None = None
        self._started = False
        # Told of every render: its kind, duration in seconds and whether it succeeded (the bot's metrics).
        self.on_render: Callable[[str, float, bool], None] | None = None

    @property
    def in_process(self) -> bool:
        """Whether images are rendered in the calling process."""
        return self.processes == 0

    def _new_executor(self) -> ProcessPoolExecutor:
        """An executor whose workers warm up as they start."""
        context = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver":
            context.set_forkserver_preload(["bot.render.models"])
        return ProcessPoolExecutor(
            max_workers=self.processes, mp_context=context, initializer=_init_worker, initargs=(os.getpid(),)
        )

    async def start(self) -> None:
        """Start and warm every worker (in-process mode: warm this process)."""
        if self._started:
            return
        if self.in_process:
            _warm_worker()
            self._started = True
            return
        self._executor = self._new_executor()
        loop = asyncio.get_running_loop()
        # Submitting one task per worker at once makes the executor start them all;
        # each runs the warming initializer before taking its task.
        pids = await asyncio.wait_for(
            asyncio.gather(*(loop.run_in_executor(self._executor, _ping) for _ in range(self.processes))),
            WARM_UP_TIMEOUT_SECONDS,
        )
        self._started = True
        log.info("Render pool started: %d %s workers (pids %s)", self.processes, self.start_method, sorted(set(pids)))

    async def render(self, kind: str, model: Any, *, theme: str = "dark") -> bytes:
        """PNG bytes of report ``kind`` for ``model``; a crashed pool is replaced once and the render retried."""
        began = time.perf_counter()
        try:
            png = await self._render(kind, model, theme)
        except BaseException:
            if self.on_render is not None:
                self.on_render(kind, time.perf_counter() - began, False)
            raise
        if self.on_render is not None:
            self.on_render(kind, time.perf_counter() - began, True)
        return png

    async def _render(self, kind: str, model: Any, theme: str) -> bytes:
        if not self._started:
            await self.start()
        if self.in_process:
            from bot.render.reports import render

            return render(kind, model, theme)
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            executor = self._executor
            assert executor is not None
            try:
                return await loop.run_in_executor(executor, _render, kind, model, theme)
            except BrokenProcessPool:
                if attempt == 2:
                    raise
                log.warning("Render worker died while rendering %s; restarting the pool", kind)
                if self._executor is executor:
                    executor.shutdown(wait=False, cancel_futures=True)
                    self._executor = self._new_executor()
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Stop the workers, waiting for renders in progress."""
        executor, self._executor = self._executor, None
        self._started = False
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
            log.info("Render pool closed")

    async def __aenter__(self) -> RenderPool:
        """Start the pool for an ``async with`` block."""
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the pool at the end of an ``async with`` block."""
        await self.close()
