"""In-process counters: what listeners write to. No await and no I/O on this path."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from db.series import USER_POSITION, CounterKey, RecordKey, RecordValue

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Snapshot:
    """Counters and records taken out of the process at once, pushed as one unit."""

    counters: dict[CounterKey, int]
    records: dict[RecordKey, RecordValue]
    # Makes a retried push idempotent: the store applies a push id at most once.
    push_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __len__(self) -> int:
        return len(self.counters) + len(self.records)


class Counters:
    """Pre-aggregates increments in the process until the pusher takes them.

    ``max_keys`` bounds memory while the store is unreachable: increments to keys
    already held keep aggregating; a new key past the bound is dropped, counted in
    ``dropped`` and logged. The pusher avoids ever getting there by writing the
    counters straight to the database once they pass 80 % of the bound.
    """

    __slots__ = ("_counters", "_records", "_warned", "dropped", "max_keys")

    def __init__(self, max_keys: int = 2_000_000) -> None:
        self._counters: dict[CounterKey, int] = {}
        self._records: dict[RecordKey, RecordValue] = {}
        self.max_keys = max_keys
        self.dropped = 0
        self._warned = False

    def incr(self, key: CounterKey, n: int = 1) -> None:
        """Add ``n`` to a counter."""
        c = self._counters
        v = c.get(key)
        if v is not None:
            c[key] = v + n
        elif len(c) < self.max_keys:
            c[key] = n
        else:
            self._overflow(n)

    def incr_many(self, items: Iterable[tuple[CounterKey, int]]) -> None:
        """Add several increments."""
        for key, n in items:
            self.incr(key, n)

    def record(self, key: RecordKey, value: RecordValue) -> None:
        """Set a last-write-wins record."""
        r = self._records
        if key in r or len(r) < self.max_keys:
            r[key] = value
        else:
            self._overflow(1)

    def _overflow(self, n: int) -> None:
        self.dropped += n
        if not self._warned:
            self._warned = True
            log.error(
                "counter buffer full (%d keys): new keys are being dropped until the store is back",
                self.max_keys,
            )

    def __len__(self) -> int:
        return len(self._counters) + len(self._records)

    @property
    def nearly_full(self) -> bool:
        """True past 80 % of the bound: the pusher spills to the database before anything is dropped."""
        mark = self.max_keys * 0.8
        return len(self._counters) >= mark or len(self._records) >= mark

    def take(self) -> Snapshot | None:
        """Take everything held so far (atomically: no await between read and reset)."""
        if not self._counters and not self._records:
            return None
        snap = Snapshot(self._counters, self._records)
        self._counters = {}
        self._records = {}
        self._warned = False
        return snap

    def discard_member(self, guild_id: int, user_id: int) -> int:
        """Drop every held counter and record of one member in one guild; returns how many."""
        return discard_member_entries(self._counters, guild_id, user_id) + discard_member_entries(
            self._records, guild_id, user_id
        )


def discard_member_entries(d: dict[CounterKey, int] | dict[RecordKey, RecordValue], guild_id: int, user_id: int) -> int:
    """Delete the keys of one member in one guild from a counter or record dict."""
    gone = [k for k in d if k[1] == guild_id and (p := USER_POSITION.get(str(k[0]))) is not None and k[p] == user_id]
    for k in gone:
        del d[k]
    return len(gone)
