"""Who opted out, per guild: read on the event path, so held in memory."""

from __future__ import annotations

from collections.abc import Callable


class OptOuts:
    """The members who opted out (``hide`` or ``delete``) of recording in a guild.

    ``on_change`` is called at each opt-out and opt-in (the read engine fences reads
    to the primary then, so that a lagging replica never shows an opted-out member).
    """

    def __init__(self) -> None:
        self._out: set[tuple[int, int]] = set()
        self.on_change: Callable[[], None] | None = None

    def load(self, pairs: list[tuple[int, int]]) -> None:
        """Replace the set with the stored opt-outs."""
        self._out = set(pairs)

    def add(self, guild_id: int, user_id: int) -> None:
        self._out.add((guild_id, user_id))
        if self.on_change is not None:
            self.on_change()

    def remove(self, guild_id: int, user_id: int) -> None:
        self._out.discard((guild_id, user_id))
        if self.on_change is not None:
            self.on_change()

    def excluded(self, guild_id: int, user_id: int) -> bool:
        """True when this member must not be recorded in this guild."""
        # Checked for every event: skip building the key in the common case of no opt-outs.
        return bool(self._out) and (guild_id, user_id) in self._out

    def any(self) -> bool:
        """Whether anybody opted out anywhere."""
        return bool(self._out)
