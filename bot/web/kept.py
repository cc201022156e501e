"""Per-guild values a dashboard process keeps while a version read from the database stands.

A large guild's name list is tens of thousands of rows that rarely change: reading a
version (``db.dashboard.names_version``: row counts and sums of the write times) costs one
small aggregate, so the rows are read again only after something changed them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final, Generic, TypeVar

T = TypeVar("T")

# Guilds kept per kind of value; the one used longest ago goes first.
KEPT_GUILDS: Final = 64


class KeptByVersion(Generic[T]):
    """One value per guild, valid while its version is unchanged."""

    def __init__(self, size: int = KEPT_GUILDS) -> None:
        self.size = size
        self._kept: dict[int, tuple[object, T]] = {}

    async def get(self, guild_id: int, version: object, load: Callable[[], Awaitable[T]]) -> T:
        """The kept value when read under ``version``, else a fresh ``load()`` kept from now on."""
        found = self._kept.pop(guild_id, None)
        if found is None or found[0] != version:
            found = (version, await load())
        while len(self._kept) >= self.size:
            self._kept.pop(next(iter(self._kept)))
        self._kept[guild_id] = found  # re-inserted: the most recently used is last
        return found[1]
