"""Event attendance: which minutes of an event each member was present, from exact voice sessions.

A minute counts for a member when the member spent at least ``PRESENT_S`` seconds of
it in the event's channels, summed over every session (and channel) overlapping that
minute: a member who leaves and rejoins, or moves between two event channels, within
one minute still counts. Time in other channels never counts. Mute and deafen do not
matter: a muted member is in the channel. Everything is in whole epoch seconds.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Final

import numpy as np
import numpy.typing as npt

from db.voice import Interval

MINUTE_S: Final = 60
PRESENT_S: Final = 30


def seconds_per_minute(
    intervals: Iterable[Interval], start: int, minutes: int, channels: Collection[int]
) -> dict[int, npt.NDArray[np.int64]]:
    """Seconds each member spent in ``channels`` during each minute of ``[start, start + minutes·60)``."""
    window_end = start + minutes * MINUTE_S
    out: dict[int, npt.NDArray[np.int64]] = {}
    for iv in intervals:
        if iv.channel_id not in channels:
            continue
        lo, hi = max(iv.start, start), min(iv.end, window_end)
        if hi <= lo:
            continue
        row = out.get(iv.user_id)
        if row is None:
            row = out[iv.user_id] = np.zeros(minutes, dtype=np.int64)
        first, last = (lo - start) // MINUTE_S, (hi - 1 - start) // MINUTE_S
        if first == last:
            row[first] += hi - lo
            continue
        row[first] += (first + 1) * MINUTE_S + start - lo
        row[first + 1 : last] += MINUTE_S
        row[last] += hi - (last * MINUTE_S + start)
    return out


def presence(
    intervals: Iterable[Interval], start: int, minutes: int, channels: Collection[int]
) -> dict[int, npt.NDArray[np.bool_]]:
    """One flag per minute for each member present at least one minute (``PRESENT_S`` seconds rule)."""
    flags = {
        user: seconds >= PRESENT_S for user, seconds in seconds_per_minute(intervals, start, minutes, channels).items()
    }
    return {user: row for user, row in flags.items() if row.any()}


def total_minutes(flags: dict[int, npt.NDArray[np.bool_]]) -> dict[int, int]:
    """Minutes present per member."""
    return {user: int(np.count_nonzero(row)) for user, row in flags.items()}
