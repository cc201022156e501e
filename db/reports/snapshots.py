"""Snapshots of report answers over whole past UTC days, valid while the guild's history stays the same.

A long period is mostly whole days before today, and those rows only change
through writes that bump the guild's history versions (``db.history``). The
answer over those days (members' or channels' totals, a series, the watchlist's
active days) is computed once,
kept here with the versions of the months it covers, and reused until one of them
moves on; only the edges of the period (today, a partial first day) are read each
time. (Reading a long range as one piece per month, so that a new day would
only read the current month again, was tried: the first read of a year then took
five times longer, which costs more than the daily re-read it saves.)

Per-member and per-channel totals are kept as numpy arrays (a guild of 20,000
members is 320 kB); the cache is bounded by entries and by memory (128 MiB by
default), least recently used first out.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence, Sized
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncConnection

from db import history
from db.reports.spans import Span, edges, whole_days

Ids = npt.NDArray[np.int64]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class KeyedTotals:
    """Totals by id (member or channel): ``ids`` unique, ``values`` aligned with them."""

    ids: Ids
    values: Ids

    @classmethod
    def of(cls, pairs: Sequence[Sequence[Any]]) -> KeyedTotals:
        """From ``(id, value)`` pairs with unique ids."""
        if not pairs:
            return EMPTY
        ids = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
        values = np.fromiter((p[1] or 0 for p in pairs), dtype=np.int64, count=len(pairs))
        return cls(ids, values)

    @staticmethod
    def combine(parts: list[KeyedTotals]) -> KeyedTotals:
        """The sums by id over several parts."""
        parts = [p for p in parts if p.ids.size]
        if not parts:
            return EMPTY
        if len(parts) == 1:
            return parts[0]
        ids = np.concatenate([p.ids for p in parts])
        values = np.concatenate([p.values for p in parts])
        unique, index = np.unique(ids, return_inverse=True)
        sums = np.zeros(unique.size, dtype=np.int64)
        np.add.at(sums, index, values)
        return KeyedTotals(unique, sums)

    def without(self, excluded: Ids) -> KeyedTotals:
        """The totals minus the ids in ``excluded``, and minus zeros."""
        keep = self.values > 0
        if excluded.size:
            keep &= ~np.isin(self.ids, excluded)
        return KeyedTotals(self.ids[keep], self.values[keep])

    def top(self, limit: int) -> list[tuple[int, int]]:
        """The ``limit`` largest, ties by smaller id first."""
        order = np.lexsort((self.ids, -self.values))[:limit]
        return [(int(self.ids[i]), int(self.values[i])) for i in order]

    def get(self, key: int) -> int:
        """The total of one id (0 when absent)."""
        at = np.flatnonzero(self.ids == key)
        return int(self.values[at[0]]) if at.size else 0

    def __len__(self) -> int:
        return int(self.ids.size)

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return int(self.ids.nbytes + self.values.nbytes)


EMPTY = KeyedTotals(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


def _bytes(value: object) -> int:
    """Roughly how much memory an answer holds: its ``nbytes`` where it says, else 64 bytes an item."""
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    return 64 * (len(value) if isinstance(value, Sized) else 1)


class Snapshots:
    """An LRU of answers over whole past days, each stored with the versions it was read under."""

    def __init__(self, *, max_entries: int = 512, max_bytes: int = 128 * 2**20) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[int, Hashable], tuple[tuple[int, ...], object, int]] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    async def get(
        self,
        conn: AsyncConnection,
        guild_id: int,
        key: Hashable,
        days: tuple[datetime, datetime],
        read: Callable[[], Awaitable[T]],
    ) -> T:
        """The answer ``key`` over whole UTC days ``[days)``: kept, or read by ``read`` when missing or stale.

        The versions are read (on ``conn``) before the answer, so a write committed in
        between leaves the snapshot looking stale, never the other way round.
        """
        versions = await history.versions(conn, guild_id)
        stamp = (
            versions.get(history.WHOLE_GUILD, 0),
            *(versions.get(m, 0) for m in range(history.month_of(days[0]), history.month_of(days[1]) + 1)),
        )
        slot = (guild_id, (key, days))
        entry = self._entries.get(slot)
        if entry is not None and entry[0] == stamp:
            self._entries.move_to_end(slot)
            self.hits += 1
            return entry[1]  # type: ignore[return-value]
        self.misses += 1
        value = await read()
        self._put(slot, stamp, value)
        return value

    def _put(self, slot: tuple[int, Hashable], stamp: tuple[int, ...], value: object) -> None:
        old = self._entries.pop(slot, None)
        if old is not None:
            self._bytes -= old[2]
        size = _bytes(value)
        self._entries[slot] = (stamp, value, size)
        self._bytes += size
        while self._entries and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
            _, (_, _, dropped) = self._entries.popitem(last=False)
            self._bytes -= dropped

    def clear(self) -> None:
        """Forget every snapshot."""
        self._entries.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes_held(self) -> int:
        """Roughly the memory the kept answers take."""
        return self._bytes


async def over(
    snapshots: Snapshots | None,
    conn: AsyncConnection,
    guild_id: int,
    span: Span,
    key: Hashable,
    read: Callable[[Span], Awaitable[T]],
    merge: Callable[[list[T]], T],
) -> T:
    """``read`` over the span: its whole UTC days from a snapshot, its edges read now, merged.

    Without snapshots, or without whole days, it is ``read`` over the whole span.
    """
    days = whole_days(span)
    if snapshots is None or days is None:
        return await read(span)
    parts = [await snapshots.get(conn, guild_id, key, (days.start, days.end), lambda: read(days))]
    for edge in edges(span):
        parts.append(await read(edge))
    return merge(parts)
