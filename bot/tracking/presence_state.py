"""Rich Presence time of one guild's members: pure logic over whole epoch seconds.

A member's *activities* are the games and apps their presence shows (custom
statuses excluded), each identified by (application id or 0, name). Time is
accrued per activity at every presence change and at each checkpoint, split at
UTC hour boundaries, into the ``presence`` series' ``seconds``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from bot.buffer.counters import Counters
from bot.tracking.voice_state import hour_slices
from db.series import PRESENCE

_PRESENCE: Final = PRESENCE.code

Activity = tuple[int, str]  # (application_id or 0, name)


class GuildPresence:
    """Open activities per member of one guild, accrued to hourly counters."""

    def __init__(self, guild_id: int, counters: Counters, excluded: Callable[[int], bool] = lambda _u: False) -> None:
        self.guild_id = guild_id
        self.counters = counters
        self.excluded = excluded
        # user -> activity -> counted up to (epoch seconds)
        self.open: dict[int, dict[Activity, int]] = {}

    def update(self, user_id: int, activities: Iterable[Activity], now: int) -> None:
        """The member's presence now shows ``activities``: accrue what ran, start what is new."""
        held = self.open.pop(user_id, {})
        for activity, since in held.items():
            self._accrue(user_id, activity, since, now)
        if self.excluded(user_id):
            return
        current = {a: now for a in activities}
        if current:
            self.open[user_id] = current

    def checkpoint(self, now: int) -> None:
        """Accrue every open activity up to ``now``."""
        for user_id, held in list(self.open.items()):
            if self.excluded(user_id):
                del self.open[user_id]
                continue
            for activity, since in held.items():
                self._accrue(user_id, activity, since, now)
                held[activity] = now

    def close_all(self, now: int) -> None:
        """Accrue everything and forget every member (guild gone, bot stopping)."""
        self.checkpoint(now)
        self.open.clear()

    def _accrue(self, user_id: int, activity: Activity, start: int, end: int) -> None:
        if end <= start or self.excluded(user_id):
            return
        app_id, name = activity
        incr = self.counters.incr
        for hour, seconds in hour_slices(start, end):
            incr((_PRESENCE, self.guild_id, hour, user_id, app_id, name, "seconds"), seconds)
