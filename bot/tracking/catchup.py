"""Which messages live tracking counts and which catch-up imports, so that each counts exactly once.

Per channel (thread, forum post) the process keeps:

- the *mark*: the highest message id counted outside any pending range, loaded from the
  database at start and moved by every count. Its ``mark`` record rides in the same counter
  snapshot as the counts (one flush transaction), so a crash loses both or neither.
- ``live_from`` (F): the first message seen live in this gateway session. Live tracking
  counts a message only from F on; anything below F is catch-up's.

When F is first set after a gap, a ``catchup`` range record ``(cursor: the mark, until: F)``
goes out with that message's counts; the flush merges it with the mark stored before the
batch, so the range covers exactly what was never counted. Catch-up imports each range,
moving its cursor with the counts it makes. A channel with no live message yet is caught up
by moving its mark forward instead, up to a boundary that becomes its F.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from bot.buffer.counters import Counters
from bot.tracking.snowflakes import snowflake_at, snowflake_seconds
from db.series import CATCHUP, GAP, LIVE, MARK

log = logging.getLogger(__name__)

# How far before a gap's start a channel without a mark is read from: a message counted live
# in that channel would have given it a mark, so reading earlier only costs requests.
UNMARKED_MARGIN_S: Final = 600
# Catch-up reads a channel up to this long before now: a message younger than that may still
# arrive live (it is counted live then) and is left to live tracking.
SETTLE_S: Final = 10


@dataclass(slots=True)
class GapState:
    """A gap of one guild as this process knows it (``recovered``: messages catch-up counted for it)."""

    from_at: int
    to_at: int
    kind: str
    recovered: int = 0


@dataclass(slots=True)
class GuildCoverage:
    """One guild's gaps (oldest first) and the live interval in progress."""

    gaps: list[GapState] = field(default_factory=list)
    live_since: int | None = None

    def gap_for(self, seconds: int) -> GapState | None:
        """The gap a recovered message belongs to: the first ending after it, else the latest."""
        if not self.gaps:
            return None
        ends = [g.to_at for g in self.gaps]
        i = bisect.bisect_right(ends, seconds)
        return self.gaps[min(i, len(self.gaps) - 1)]


class LiveMarks:
    """The per-channel marks and live boundaries shared by live tracking and catch-up (no I/O)."""

    __slots__ = ("counters", "first", "floor", "guild_of", "live_from", "marks", "skipped", "wanted")

    def __init__(self, counters: Counters) -> None:
        self.counters = counters
        # channel -> the highest id counted outside pending ranges.
        self.marks: dict[int, int] = {}
        # channel -> the lowest id counted in this process (the mark record's ``first_id``).
        self.first: dict[int, int] = {}
        self.guild_of: dict[int, int] = {}
        # guild -> channel -> the first id live tracking counts in this session.
        self.live_from: dict[int, dict[int, int]] = {}
        # guild -> the id a channel without a mark is caught up from (None: not caught up).
        self.floor: dict[int, int] = {}
        # Guilds with a new range to import.
        self.wanted: set[int] = set()
        self.skipped = 0

    def load(self, stored: dict[tuple[int, int], tuple[int, int]]) -> None:
        """Take the marks stored in the database (after everything pending was flushed)."""
        for (guild_id, channel_id), (first, last) in stored.items():
            if last > self.marks.get(channel_id, 0):
                self.marks[channel_id] = last
            self.guild_of[channel_id] = guild_id
            if channel_id not in self.first or first < self.first[channel_id]:
                self.first[channel_id] = first

    def admit(self, message_id: int, guild_id: int, channel_id: int) -> bool:
        """Whether live tracking counts this message; notes the mark (and a range after a gap)."""
        live = self.live_from.get(guild_id)
        if live is None:
            live = self.live_from[guild_id] = {}
        f = live.get(channel_id)
        if f is None:
            live[channel_id] = message_id
            lo = self.marks.get(channel_id)
            if lo is None:
                lo = self.floor.get(guild_id)
            if lo is not None and lo < message_id:
                self.counters.record((CATCHUP.code, guild_id, channel_id, message_id), (lo, 0))
                self.wanted.add(guild_id)
        elif message_id < f:
            # Sent before this session's first live message here: catch-up imports it.
            self.skipped += 1
            return False
        self.moved(guild_id, channel_id, message_id)
        return True

    def moved(self, guild_id: int, channel_id: int, message_id: int) -> None:
        """Move a channel's mark to ``message_id`` (if higher) and write its record."""
        last = self.marks.get(channel_id)
        if last is None or message_id > last:
            self.marks[channel_id] = last = message_id
        first = self.first.get(channel_id)
        if first is None or message_id < first:
            self.first[channel_id] = first = message_id
        self.guild_of[channel_id] = guild_id
        self.counters.record((MARK.code, guild_id, channel_id), (first, last))

    def new_session(self, guild_ids: Iterable[int], floor_at: int | None) -> None:
        """A gap began for these guilds: the next live message of each channel starts a range.

        ``floor_at`` (epoch seconds): where channels without a mark are read from.
        """
        for g in guild_ids:
            self.live_from.pop(g, None)
            if floor_at is not None:
                self.floor[g] = snowflake_at(max(0, floor_at - UNMARKED_MARGIN_S))

    def start_of(self, guild_id: int, channel_id: int) -> int | None:
        """Where catch-up of a channel without live messages this session starts; None: nothing to do."""
        if channel_id in self.live_from.get(guild_id, {}):
            return None
        mark = self.marks.get(channel_id)
        return mark if mark is not None else self.floor.get(guild_id)

    def is_live(self, guild_id: int, channel_id: int) -> bool:
        """Whether live tracking has taken over a channel in this session."""
        return channel_id in self.live_from.get(guild_id, {})

    def tail_missed(self, guild_id: int, channel_id: int, newest_id: int, seen_mark: int) -> bool:
        """History's newest message is above the mark: hand what live tracking missed to catch-up.

        The safety net's step (``seen_mark``: the mark when history was asked). The stretch
        ``(mark, newest]`` becomes a range, and the mark and the live boundary move past it in
        the same step (one snapshot), so it is imported once and a late live delivery of one of
        its messages is not counted. Nothing happens when the mark moved meanwhile (a live
        message came: what it jumped over is no longer the tail) or the channel is not live.
        """
        live = self.live_from.get(guild_id, {})
        f = live.get(channel_id)
        mark = self.marks.get(channel_id)
        if f is None or mark is None or mark != seen_mark or newest_id <= mark:
            return False
        self.counters.record((CATCHUP.code, guild_id, channel_id, newest_id + 1), (mark, 0))
        live[channel_id] = max(f, newest_id + 1)
        self.moved(guild_id, channel_id, newest_id)
        self.wanted.add(guild_id)
        return True

    def active_since(self, guild_id: int, since_id: int) -> list[tuple[int, int]]:
        """(channel, mark) of a guild's live channels whose last counted message is newer than ``since_id``."""
        live = self.live_from.get(guild_id, {})
        return sorted(
            (ch, mark)
            for ch, mark in self.marks.items()
            if mark >= since_id and ch in live and self.guild_of.get(ch) == guild_id
        )

    def hand_over(self, guild_id: int, channel_id: int, boundary: int) -> None:
        """Catch-up reached ``boundary``: live tracking counts from there on."""
        self.live_from.setdefault(guild_id, {}).setdefault(channel_id, boundary)


def upper_bound(now: float, session_start: float) -> int:
    """The id below which catch-up of a channel without live messages imports.

    Messages younger than ``SETTLE_S`` may still arrive live, except those created before
    the session began, which never will.
    """
    return snowflake_at(int(max(now - SETTLE_S, session_start)))


def live_record(guild_id: int, started_at: int, now: int) -> tuple[tuple[int | str, ...], tuple[int]]:
    """The ``live`` record of a guild's live interval, extended to ``now``."""
    return (LIVE.code, guild_id, started_at), (now,)


def gap_record(guild_id: int, gap: GapState) -> tuple[tuple[int | str, ...], tuple[int, str, int]]:
    """The ``gap`` record of a gap with what was recovered for it so far."""
    return (GAP.code, guild_id, gap.from_at), (gap.to_at, gap.kind, gap.recovered)


def message_seconds(message_id: int) -> int:
    """When a message was created (epoch seconds)."""
    return snowflake_seconds(message_id)
