"""Every Redis key name the bot uses, in one place: Python and the Lua scripts build them from the same layout.

A guild's live data is two hashes, counters (``c``) and records (``r``); freezing
renames them to the batch's names. The scripts get the layout as Lua functions
(``LUA_KEY_FUNCTIONS``), generated from the templates below, so that the layout
is written once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

# Templates of the per-guild hashes; ``kind`` is ``c`` (counters) or ``r`` (records).
LIVE: Final = "{prefix}live:{kind}:{guild}"
BATCH: Final = "{prefix}batch:{batch}:{kind}:{guild}"
# The guilds a frozen batch holds (the live set of guilds, renamed).
BATCH_GUILDS: Final = "{prefix}batch:{batch}:guilds"


def _lua_function(name: str, template: str) -> str:
    """A Lua function that builds the key ``template`` describes from its fields, in their order."""
    fields = re.findall(r"{(\w+)}", template)
    parts = [f"'{piece}'" if i % 2 == 0 else piece for i, piece in enumerate(re.split(r"{(\w+)}", template))]
    body = " .. ".join(p for p in parts if p != "''")
    return f"local function {name}({', '.join(fields)}) return {body} end"


# Prepended to the scripts: live(prefix, kind, guild), batch(prefix, batch, kind, guild), batch_guilds(prefix, batch).
LUA_KEY_FUNCTIONS: Final = (
    "\n".join(
        _lua_function(name, template)
        for name, template in (("live", LIVE), ("batch", BATCH), ("batch_guilds", BATCH_GUILDS))
    )
    + "\n"
)


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Key names under one prefix (tests use their own prefix)."""

    prefix: str = "statsbot:"

    @property
    def live_guilds(self) -> str:
        """Set of guild ids with live data."""
        return f"{self.prefix}live:guilds"

    def live_counters(self, guild_id: int | str) -> str:
        return LIVE.format(prefix=self.prefix, kind="c", guild=guild_id)

    def batch_guilds(self, batch_id: str) -> str:
        return BATCH_GUILDS.format(prefix=self.prefix, batch=batch_id)

    def batch_counters(self, batch_id: str, guild_id: int | str) -> str:
        return BATCH.format(prefix=self.prefix, batch=batch_id, kind="c", guild=guild_id)

    def batch_records(self, batch_id: str, guild_id: int | str) -> str:
        return BATCH.format(prefix=self.prefix, batch=batch_id, kind="r", guild=guild_id)

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
