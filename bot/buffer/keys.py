"""Every Redis key name the bot uses, in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Key names under one prefix (tests use their own prefix)."""

    prefix: str = "statsbot:"

    @property
    def live_guilds(self) -> str:
        """Set of guild ids with live data."""
        return f"{self.prefix}live:guilds"

    def live_counters(self, guild_id: int | str) -> str:
        return f"{self.prefix}live:c:{guild_id}"

    def live_records(self, guild_id: int | str) -> str:
        return f"{self.prefix}live:r:{guild_id}"

    def batch_guilds(self, batch_id: str) -> str:
        return f"{self.prefix}batch:{batch_id}:guilds"

    def batch_counters(self, batch_id: str, guild_id: int | str) -> str:
        return f"{self.prefix}batch:{batch_id}:c:{guild_id}"

    def batch_records(self, batch_id: str, guild_id: int | str) -> str:
        return f"{self.prefix}batch:{batch_id}:r:{guild_id}"

    @property
    def pending(self) -> str:
        """Sorted set of pending batch ids, scored by freeze order."""
        return f"{self.prefix}batches"

    @property
    def batch_seq(self) -> str:
        return f"{self.prefix}batch:seq"

    def push_marker(self, push_id: str) -> str:
        """Set once a push is applied, so a retried push is applied once."""
        return f"{self.prefix}push:{push_id}"
