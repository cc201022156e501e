"""Every Redis key name the bot uses, in one place: Python and the Lua scripts build them from the same layout.

The buffer is split into *partitions*, one per gateway shard (``s1of4``: shard 1
of 4): a guild's data lives in the partition of its shard, and the process that
runs that shard is the only one pushing, freezing and flushing it. Every key of
a partition carries the partition in a hash tag (``statsbot:{s1of4}:…``), so all
keys one script touches are in one Redis Cluster hash slot.

A guild's live data is two hashes, counters (``c``) and records (``r``); freezing
renames them to the batch's names. The key names are built by the templates
below only: Python formats them, and the scripts get the same layout as Lua
functions (``LUA_KEY_FUNCTIONS``) with which they check the keys they are given
(every key a script touches is declared in its KEYS, as a cluster requires).
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Formatter
from typing import Final

# Templates; ``kind`` is ``c`` (counters) or ``r`` (records). ``{{…}}`` is a literal brace: the hash tag.
LIVE: Final = "{prefix}{{{part}}}:live:{kind}:{guild}"
BATCH: Final = "{prefix}{{{part}}}:batch:{batch}:{kind}:{guild}"
# The guilds with live data in a partition, and the guilds a frozen batch holds.
LIVE_GUILDS: Final = "{prefix}{{{part}}}:live:guilds"
BATCH_GUILDS: Final = "{prefix}{{{part}}}:batch:{batch}:guilds"
# Sorted set of a partition's pending batch ids, scored by freeze order, and that order's counter.
PENDING: Final = "{prefix}{{{part}}}:batches"
BATCH_SEQ: Final = "{prefix}{{{part}}}:batch:seq"
PUSH_MARKER: Final = "{prefix}{{{part}}}:push:{push}"
# A multi-chunk push's chunks before the last, held apart (never frozen) until the last merges them.
STAGE: Final = "{prefix}{{{part}}}:stage:{push}:{chunk}"
# Which process flushes the partition now (a lease with a time to live).
LEASE: Final = "{prefix}{{{part}}}:owner"
# Every partition that ever held data (its own slot; only read to find partitions left behind).
PARTITIONS: Final = "{prefix}partitions"

# A batch id is ``<partition>/<owner>/<unique>``: the partition says where its keys are.
BATCH_ID_SEP: Final = "/"


def partition_name(shard_id: int, shard_count: int) -> str:
    """The partition of one shard (``s1of4``)."""
    return f"s{shard_id}of{shard_count}"


# The partition of every guild when the bot runs one shard.
SINGLE: Final = partition_name(0, 1)


def partition_of_batch(batch_id: str) -> str:
    """The partition a batch id belongs to."""
    return batch_id.split(BATCH_ID_SEP, 1)[0]


def _lua_function(name: str, template: str) -> str:
    """A Lua function that builds the key ``template`` describes from its fields, in their order."""
    fields: list[str] = []
    parts: list[str] = []
    for literal, field, _spec, _conv in Formatter().parse(template):
        if literal:  # Formatter has already turned "{{" into "{"
            parts.append("'" + literal.replace("\\", "\\\\").replace("'", "\\'") + "'")
        if field is not None:
            fields.append(field)
            parts.append(f"tostring({field})")
    return f"local function {name}({', '.join(fields)}) return {' .. '.join(parts)} end"


# Prepended to the scripts: live(prefix, part, kind, guild), batch(prefix, part, batch, kind, guild), …
LUA_KEY_FUNCTIONS: Final = (
    "\n".join(
        _lua_function(name, template)
        for name, template in (
            ("live", LIVE),
            ("batch", BATCH),
            ("live_guilds", LIVE_GUILDS),
            ("batch_guilds", BATCH_GUILDS),
            ("pending", PENDING),
            ("lease", LEASE),
            ("push_marker", PUSH_MARKER),
            ("stage", STAGE),
        )
    )
    + "\n"
    # A script touches only keys it was given; this says so loudly if the layout and a caller disagree.
    + "local function declared(i, name) if KEYS[i] ~= name then "
    + "error('undeclared key ' .. name .. ' at KEYS[' .. i .. ']') end end\n"
)


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Key names under one prefix (tests use their own prefix)."""

    prefix: str = "statsbot:"

    @property
    def partitions(self) -> str:
        """Set of every partition that held data."""
        return PARTITIONS.format(prefix=self.prefix)

    def live_guilds(self, part: str) -> str:
        """Set of guild ids with live data in a partition."""
        return LIVE_GUILDS.format(prefix=self.prefix, part=part)

    def live_counters(self, guild_id: int | str, part: str = SINGLE) -> str:
        """A guild's live counter hash (in the one partition of a single-shard bot unless ``part`` is given)."""
        return LIVE.format(prefix=self.prefix, part=part, kind="c", guild=guild_id)

    def live_records(self, guild_id: int | str, part: str = SINGLE) -> str:
        return LIVE.format(prefix=self.prefix, part=part, kind="r", guild=guild_id)

    def batch_guilds(self, batch_id: str) -> str:
        return BATCH_GUILDS.format(prefix=self.prefix, part=partition_of_batch(batch_id), batch=batch_id)

    def batch_counters(self, batch_id: str, guild_id: int | str) -> str:
        part = partition_of_batch(batch_id)
        return BATCH.format(prefix=self.prefix, part=part, batch=batch_id, kind="c", guild=guild_id)

    def batch_records(self, batch_id: str, guild_id: int | str) -> str:
        part = partition_of_batch(batch_id)
        return BATCH.format(prefix=self.prefix, part=part, batch=batch_id, kind="r", guild=guild_id)

    def pending(self, part: str) -> str:
        """Sorted set of a partition's pending batch ids, scored by freeze order."""
        return PENDING.format(prefix=self.prefix, part=part)

    def batch_seq(self, part: str) -> str:
        return BATCH_SEQ.format(prefix=self.prefix, part=part)

    def push_marker(self, part: str, push_id: str) -> str:
        """Set once a push is applied, so a retried push is applied once."""
        return PUSH_MARKER.format(prefix=self.prefix, part=part, push=push_id)

    def stage(self, part: str, push_id: str, chunk: int) -> str:
        """A multi-chunk push's chunk ``chunk`` (1-based, before the last), until the last chunk merges it."""
        return STAGE.format(prefix=self.prefix, part=part, push=push_id, chunk=chunk)

    def lease(self, part: str) -> str:
        """The process flushing a partition now, with a time to live."""
        return LEASE.format(prefix=self.prefix, part=part)
