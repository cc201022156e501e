"""The collector in a long-running process: what start-up built is kept out of its full collections."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect once, then move every object alive now out of the collector's generations (``gc.freeze``).

    Start-up leaves over a hundred thousand tracked objects (modules, SQLAlchemy, discord.py,
    the cogs) that live as long as the process, and every full collection walked them all
    again: pauses of 70-120 ms in the middle of dashboard requests and interactions on these
    machines (bench/dashboard.py p95). Objects made afterwards are collected as before.
    """
    gc.collect()
    gc.freeze()
