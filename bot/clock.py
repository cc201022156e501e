"""The time source: wall-clock epoch seconds, replaceable in tests."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


def system_clock() -> float:
    """Seconds since the epoch, UTC."""
    return time.time()
