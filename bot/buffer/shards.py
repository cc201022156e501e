"""Which guilds a process owns: the guilds of its gateway shards, and the buffer partitions they map to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.buffer.keys import partition_name


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a guild's events to."""
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True, slots=True)
class Shards:
    """The shards of this process out of ``count`` (``ids`` None: all of them)."""

    count: int = 1
    ids: frozenset[int] | None = None

    @classmethod
    def of(cls, count: int | None, ids: Iterable[int] | None) -> Shards:
        """From the bot's ``shard_count``/``shard_ids`` (None before discord.py knows the count: one shard)."""
        return cls(count or 1, None if ids is None else frozenset(ids))

    def owned_ids(self) -> list[int]:
        return sorted(self.ids) if self.ids is not None else list(range(self.count))

    def owns(self, guild_id: int) -> bool:
        """Whether this process serves the guild."""
        return self.ids is None or shard_of(guild_id, self.count) in self.ids

    def partition_of(self, guild_id: int) -> str:
        """The buffer partition a guild's counters go to."""
        return partition_name(shard_of(guild_id, self.count), self.count)

    def partitions(self) -> list[str]:
        """The buffer partitions this process owns, in shard order."""
        return [partition_name(i, self.count) for i in self.owned_ids()]
