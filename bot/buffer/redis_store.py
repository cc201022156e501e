"""The Redis store: live hashes per guild, frozen into batches by an atomic RENAME, per partition.

The keys are split into partitions, one per gateway shard (``bot.buffer.keys``):
a process pushes, freezes and flushes only the partitions of its own shards, so
several shard processes share one Redis (or one Redis Cluster) without touching
each other's data. Every multi-key step runs as one Lua script, so it is atomic:
a push is applied whole or not at all (and at most once per push id), a freeze
moves a partition's live hashes into a batch at once. Each script gets every key
it touches in KEYS (checked against the layout of ``bot.buffer.keys``), all in
one partition and so in one cluster hash slot; nothing uses multi-slot commands.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ClusterDownError, RedisClusterException
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.buffer.codec import RawCounters, decode_record, decode_value, encode_key, encode_row, encode_value
from bot.buffer.counters import Snapshot
from bot.buffer.keys import BATCH_ID_SEP, LUA_KEY_FUNCTIONS, RedisKeys
from bot.buffer.shards import Shards
from bot.buffer.store import Batch, StoreUnavailable, group_counters
from db.series import USER_POSITION

log = logging.getLogger(__name__)

# One script call's share of a push: its guilds (id -> number), counter row and record arguments.
_Chunk = tuple[dict[int, int], list[Any], list[Any]]

# Counter rows per script call: keeps each call short so Redis never stalls for long.
PUSH_CHUNK = 10_000
# How long a push id is remembered (a retry comes within seconds or minutes).
PUSH_MARKER_TTL_S = 7 * 86400
# How long a process's lease on a partition lasts unless renewed (bot.buffer.flusher.lease_seconds).
DEFAULT_LEASE_S = 120.0
# How often a member's erasure is retried when a freeze moved the keys under it.
DISCARD_ATTEMPTS = 20

# How long a multi-chunk push's staged chunks wait for its last chunk (an attempt takes
# seconds; a retry rewrites them): short, so a crashed attempt's rows do not linger.
STAGE_TTL_S = 3600

# KEYS: marker, the partition's live guild set, the partition's lease, then per guild (of
# every chunk of the push) its live counter and record hashes, then the staged chunks.
# ARGV: prefix, partition, marker ttl, owner, lease ttl (ms), push id, number of staged
# chunks, number of guilds, the guild ids, number of counter rows, then per row: guild
# number (1-based), row field, values (comma-separated, in the series' field order); then
# per record: guild number, field, value. A row's values are added element-wise to what
# the hash holds (Lua numbers are doubles: exact far beyond any hourly count), and so is
# every row of the staged chunks (fields ``<guild id>:<row field>``), which are deleted
# here: a multi-chunk push lands whole, in this one script. A push id applies once: the
# marker key is set in the same script. Returns -1 (nothing done) when a staged chunk is
# missing (expired): the caller stages again. A push also renews the pusher's lease on
# the partition (or takes a free one): a process that pushes is alive.
_PUSH = """
local p, part, id = ARGV[1], ARGV[2], ARGV[6]
local ns, ng = tonumber(ARGV[7]), tonumber(ARGV[8])
local number = {}
for k = 1, ng do
  local g = ARGV[8 + k]
  number[g] = k
  declared(2 + 2 * k, live(p, part, 'c', g))
  declared(3 + 2 * k, live(p, part, 'r', g))
end
declared(1, push_marker(p, part, id))
declared(2, live_guilds(p, part))
declared(3, lease(p, part))
for c = 1, ns do declared(3 + 2 * ng + c, stage(p, part, id, c)) end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for c = 1, ns do
  if redis.call('EXISTS', KEYS[3 + 2 * ng + c]) == 0 then return -1 end
end
redis.call('SET', KEYS[1], '1', 'EX', ARGV[3])
local holder = redis.call('GET', KEYS[3])
if not holder or holder == ARGV[4] then redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5]) end
local seen = {}
local function add_row(k, field, add)
  local h = KEYS[2 + 2 * k]
  local cur = redis.call('HGET', h, field)
  if cur then
    local old = {}
    for x in string.gmatch(cur, '[^,]+') do old[#old + 1] = tonumber(x) end
    local sum, n = {}, 1
    for x in string.gmatch(add, '[^,]+') do
      sum[n] = string.format('%d', (old[n] or 0) + tonumber(x))
      n = n + 1
    end
    redis.call('HSET', h, field, table.concat(sum, ','))
  else
    redis.call('HSET', h, field, add)
  end
  if not seen[k] then
    seen[k] = true
    redis.call('SADD', KEYS[2], ARGV[8 + k])
  end
end
for c = 1, ns do
  local s = KEYS[3 + 2 * ng + c]
  local all = redis.call('HGETALL', s)
  for j = 1, #all, 2 do
    local f = all[j]
    local at = string.find(f, ':', 1, true)
    add_row(number[string.sub(f, 1, at - 1)], string.sub(f, at + 1), all[j + 1])
  end
  redis.call('DEL', s)
end
local rows = tonumber(ARGV[9 + ng])
local i = 10 + ng
for _ = 1, rows do
  add_row(tonumber(ARGV[i]), ARGV[i + 1], ARGV[i + 2])
  i = i + 3
end
while i <= #ARGV do
  local k = tonumber(ARGV[i])
  redis.call('HSET', KEYS[3 + 2 * k], ARGV[i + 1], ARGV[i + 2])
  if not seen[k] then
    seen[k] = true
    redis.call('SADD', KEYS[2], ARGV[8 + k])
  end
  i = i + 3
end
return 1
"""

# KEYS: the push's marker, the staged chunk. ARGV: prefix, partition, push id, chunk
# number, ttl, then pairs (``<guild id>:<row field>``, values). Replaces the chunk whole,
# so a retried attempt stages it again without adding anything twice; nothing once the
# push applied (its marker is set). Nothing outside the push's last script reads it.
_STAGE = """
local p, part, id = ARGV[1], ARGV[2], ARGV[3]
declared(1, push_marker(p, part, id))
declared(2, stage(p, part, id, ARGV[4]))
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[2], ARGV[5])
return 1
"""

# KEYS: live guild set, pending set, sequence, the batch's guild set, then per guild its
# live counter and record hashes and the batch's. ARGV: prefix, partition, batch id, guilds.
# Only the guilds named move (the caller read the live set just before): a guild pushed
# in between stays in the live set for the next freeze.
_FREEZE = """
local p, part, id = ARGV[1], ARGV[2], ARGV[3]
declared(1, live_guilds(p, part))
declared(2, pending(p, part))
declared(4, batch_guilds(p, part, id))
local moved = 0
for k = 4, #ARGV do
  local g = ARGV[k]
  local at = 4 * (k - 4) + 5
  declared(at, live(p, part, 'c', g))
  declared(at + 1, live(p, part, 'r', g))
  declared(at + 2, batch(p, part, id, 'c', g))
  declared(at + 3, batch(p, part, id, 'r', g))
  local any = false
  for j = 0, 1 do
    if redis.call('EXISTS', KEYS[at + j]) == 1 then
      redis.call('RENAME', KEYS[at + j], KEYS[at + 2 + j])
      any = true
    end
  end
  redis.call('SREM', KEYS[1], g)
  if any then
    redis.call('SADD', KEYS[4], g)
    moved = moved + 1
  end
end
if moved == 0 then return 0 end
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), id)
return 1
"""

# KEYS: pending set, the batch's guild set, then per guild its counter and record hashes.
# ARGV: prefix, partition, batch id, guilds.
_DROP = """
local p, part, id = ARGV[1], ARGV[2], ARGV[3]
declared(1, pending(p, part))
declared(2, batch_guilds(p, part, id))
for k = 4, #ARGV do
  declared(2 * (k - 4) + 3, batch(p, part, id, 'c', ARGV[k]))
  declared(2 * (k - 4) + 4, batch(p, part, id, 'r', ARGV[k]))
end
for k = 2, #KEYS do redis.call('DEL', KEYS[k]) end
redis.call('ZREM', KEYS[1], id)
return 1
"""

# KEYS: pending set, the guild's live hashes, then per pending batch (as the caller read
# them) the guild's hashes in it. ARGV: prefix, partition, guild, user, number of
# batches, the batch ids, then pairs (code, position of the user in the field, 1-based).
# Returns -1 when the pending batches changed since the caller read them (retry).
_DISCARD = """
local function split(s)
  local parts, start = {}, 1
  while true do
    local i = string.find(s, '\\31', start, true)
    if not i then
      table.insert(parts, string.sub(s, start))
      return parts
    end
    table.insert(parts, string.sub(s, start, i - 1))
    start = i + 1
  end
end
local p, part, g, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local nb = tonumber(ARGV[5])
declared(1, pending(p, part))
declared(2, live(p, part, 'c', g))
declared(3, live(p, part, 'r', g))
local now = redis.call('ZRANGE', KEYS[1], 0, -1)
if #now ~= nb then return -1 end
for b = 1, nb do
  local id = ARGV[5 + b]
  if now[b] ~= id then return -1 end
  declared(2 + 2 * b, batch(p, part, id, 'c', g))
  declared(3 + 2 * b, batch(p, part, id, 'r', g))
end
local pos = {}
for i = 6 + nb, #ARGV, 2 do pos[ARGV[i]] = tonumber(ARGV[i + 1]) end
local n = 0
for k = 2, #KEYS do
  local h = KEYS[k]
  for _, f in ipairs(redis.call('HKEYS', h)) do
    local parts = split(f)
    local at = pos[parts[1]]
    if at and parts[at] == user then
      n = n + redis.call('HDEL', h, f)
    end
  end
end
return n
"""

# KEYS: a partition's lease. ARGV: owner, ttl in ms, force (1: take it whoever holds it).
_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] and ARGV[3] ~= '1' then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# KEYS: a partition's lease. ARGV: owner. Lets go only of a lease this process holds.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def process_name() -> str:
    """This process as a lease holder and in batch ids: host and pid."""
    return f"{socket.gethostname().replace(BATCH_ID_SEP, '-')}-{os.getpid()}"


def _unavailable(exc: BaseException) -> bool:
    """Whether a Redis error means the server (or cluster) cannot be reached now."""
    if isinstance(exc, RedisConnectionError | RedisTimeoutError | ClusterDownError | OSError):
        return True
    # redis-py raises this bare class when no cluster node answers (and for misuse, which is not transient).
    return isinstance(exc, RedisClusterException) and "cannot be connected" in str(exc)


class RedisStore:
    """Buffer store on a Redis server (or a Redis Cluster) shared by every shard process.

    ``shards`` says, at each push, which partition a guild's counters go to (the
    shard count may only be known once discord.py has connected); ``owner``
    names this process in leases and batch ids; ``lease_s`` is how long a push or
    a flush holds this process's lease on a partition (``bot.buffer.flusher``).
    """

    shared = True

    def __init__(
        self,
        client: aioredis.Redis | RedisCluster,
        keys: RedisKeys | None = None,
        *,
        shards: Callable[[], Shards] = Shards,
        owner: str | None = None,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        self._r = client
        self.lease_s = lease_s
        self._lease_ms = max(1, int(lease_s * 1000))
        self.keys = keys or RedisKeys()
        self.shards = shards
        self.owner = owner or process_name()
        self._push = client.register_script(LUA_KEY_FUNCTIONS + _PUSH)
        self._stage = client.register_script(LUA_KEY_FUNCTIONS + _STAGE)
        # Tests: called between the script calls of a multi-chunk push ("staged"), to crash there.
        self.fault: Callable[[str], None] | None = None
        self._freeze = client.register_script(LUA_KEY_FUNCTIONS + _FREEZE)
        self._drop = client.register_script(LUA_KEY_FUNCTIONS + _DROP)
        self._discard = client.register_script(LUA_KEY_FUNCTIONS + _DISCARD)
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(
        cls,
        url: str,
        keys: RedisKeys | None = None,
        *,
        cluster: bool = False,
        shards: Callable[[], Shards] = Shards,
        owner: str | None = None,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> RedisStore:
        """A store on the Redis at ``url``; with ``cluster``, ``url`` names any node of a Redis Cluster."""
        client: aioredis.Redis | RedisCluster
        if cluster:
            client = RedisCluster.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        else:
            client = aioredis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)
        return cls(client, keys, shards=shards, owner=owner, lease_s=lease_s)

    async def _call(self, what: str, fn: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await fn()
        except Exception as exc:
            if _unavailable(exc):
                raise StoreUnavailable(f"redis {what}: {exc}") from exc
            raise

    async def push(self, snap: Snapshot) -> None:
        shards = self.shards()
        # Per partition: chunks of (guilds in it, counter rows in it, row arguments); records ride in the last.
        by_part: dict[str, list[tuple[dict[int, int], list[Any], list[Any]]]] = {}

        def chunk(guild: int, rows: bool) -> tuple[int, list[Any]]:
            chunks = by_part.setdefault(shards.partition_of(guild), [({}, [], [])])
            if rows and len(chunks[-1][1]) >= 3 * PUSH_CHUNK:
                chunks.append(({}, [], []))
            guilds, row_args, record_args = chunks[-1]
            return guilds.setdefault(guild, len(guilds) + 1), row_args if rows else record_args

        for code, rows in group_counters(snap.counters).items():
            for row_key, vals in rows.items():
                guild, field = encode_row(code, row_key)
                number, args = chunk(guild, True)
                args += [number, field, ",".join(map(str, vals))]
        for rkey, value in snap.records.items():
            guild, field = encode_key(rkey)
            number, args = chunk(guild, False)
            args += [number, field, encode_value(value)]
        k = self.keys
        for part, chunks in by_part.items():
            # Known to every process, so that a partition left behind is found (its own slot: a command apart).
            await self._call("push", partial(self._r.sadd, k.partitions, part))
            await self._push_part(part, snap.push_id, chunks)

    async def _push_part(self, part: str, push_id: str, chunks: list[_Chunk]) -> None:
        """One partition's share of a push: chunks before the last are staged, the last lands them all at once."""
        k = self.keys
        marker = k.push_marker(part, push_id)
        *staged, (_, last_rows, record_args) = chunks
        # The last script names every guild of the push: its rows and the staged rows land in their hashes.
        guilds: dict[int, int] = {}
        for chunk_guilds, _, _ in chunks:
            for g in chunk_guilds:
                guilds.setdefault(g, len(guilds) + 1)
        for _attempt in range(2):
            for chunk_no, (chunk_guilds, row_args, _) in enumerate(staged, start=1):
                ids = {n: g for g, n in chunk_guilds.items()}
                stage_argv: list[Any] = [k.prefix, part, push_id, chunk_no, STAGE_TTL_S]
                for i in range(0, len(row_args), 3):
                    stage_argv += [f"{ids[row_args[i]]}:{row_args[i + 1]}", row_args[i + 2]]
                stage_keys = [marker, k.stage(part, push_id, chunk_no)]
                await self._call("push", partial(self._stage, keys=stage_keys, args=stage_argv))
                if self.fault is not None:
                    self.fault("staged")
            last_ids = {n: g for g, n in chunks[-1][0].items()}
            keys = [marker, k.live_guilds(part), k.lease(part)]
            for g in guilds:
                keys += [k.live_counters(g, part), k.live_records(g, part)]
            keys += [k.stage(part, push_id, c) for c in range(1, len(staged) + 1)]
            argv: list[Any] = [k.prefix, part, PUSH_MARKER_TTL_S, self.owner, self._lease_ms, push_id, len(staged)]
            argv += [len(guilds), *guilds, len(last_rows) // 3]
            for args in (last_rows, record_args):
                for i in range(0, len(args), 3):
                    argv += [guilds[last_ids[args[i]]], args[i + 1], args[i + 2]]
            if int(await self._call("push", partial(self._push, keys=keys, args=argv))) >= 0:
                return
            log.warning("staged chunks of push %s in %s expired before its last chunk; staging again", push_id, part)
        raise StoreUnavailable(f"redis push: the staged chunks of {push_id} in {part} kept expiring")

    async def partitions(self) -> list[str]:
        """Every partition that ever held data (on any process)."""
        parts = await self._call("partitions", lambda: self._r.smembers(self.keys.partitions))
        return sorted(p.decode() for p in parts)

    async def _parts(self, part: str | None) -> list[str]:
        return [part] if part is not None else await self.partitions()

    async def freeze(self, part: str | None = None) -> str | None:
        """Turn a partition's live data into a pending batch (``None``: every partition, the last id)."""
        frozen: str | None = None
        for p in await self._parts(part):
            frozen = await self._freeze_part(p) or frozen
        return frozen

    async def _freeze_part(self, part: str) -> str | None:
        k = self.keys
        members = await self._call("freeze", lambda: self._r.smembers(k.live_guilds(part)))
        if not members:
            return None
        guilds = sorted(int(g) for g in members)
        batch_id = BATCH_ID_SEP.join((part, self.owner, uuid.uuid4().hex))
        keys = [k.live_guilds(part), k.pending(part), k.batch_seq(part), k.batch_guilds(batch_id)]
        for g in guilds:
            keys += [k.live_counters(g, part), k.live_records(g, part)]
            keys += [k.batch_counters(batch_id, g), k.batch_records(batch_id, g)]
        argv: list[Any] = [k.prefix, part, batch_id, *guilds]
        done = await self._call("freeze", partial(self._freeze, keys=keys, args=argv))
        return batch_id if done else None

    async def pending(self, part: str | None = None) -> list[str]:
        """A partition's pending batches, oldest first (``None``: every partition's, partition by partition)."""
        ids: list[str] = []
        for p in await self._parts(part):
            got = await self._call("pending", partial(self._r.zrange, self.keys.pending(p), 0, -1))
            ids += [i.decode() for i in got]
        return ids

    async def load(self, batch_id: str) -> Batch:
        k = self.keys
        guilds = await self._call("load", lambda: self._r.smembers(k.batch_guilds(batch_id)))
        gids = sorted(int(g) for g in guilds)
        results: list[dict[bytes, bytes]] = []
        if gids:
            async with self._r.pipeline(transaction=False) as pipe:
                for g in gids:
                    pipe.hgetall(k.batch_counters(batch_id, g))
                    pipe.hgetall(k.batch_records(batch_id, g))
                results = await self._call("load", pipe.execute)
        batch = Batch(batch_id, raw=RawCounters(gids, results[0::2]))
        for g, hash_ in zip(gids, results[1::2], strict=True):
            for f, v in hash_.items():
                batch.records[decode_record(g, f.decode())] = decode_value(v)
        return batch

    async def drop(self, batch_id: str) -> None:
        k = self.keys
        part = batch_id.split(BATCH_ID_SEP, 1)[0]
        members = await self._call("drop", lambda: self._r.smembers(k.batch_guilds(batch_id)))
        guilds = sorted(int(g) for g in members)
        keys = [k.pending(part), k.batch_guilds(batch_id)]
        for g in guilds:
            keys += [k.batch_counters(batch_id, g), k.batch_records(batch_id, g)]
        argv: list[Any] = [k.prefix, part, batch_id, *guilds]
        await self._call("drop", partial(self._drop, keys=keys, args=argv))

    async def discard_member(self, guild_id: int, user_id: int) -> int:
        # Every partition: after a change of the shard count a guild's data may sit in an old one.
        n = 0
        for part in await self.partitions():
            n += await self._discard_in(part, guild_id, user_id)
        return n

    async def _discard_in(self, part: str, guild_id: int, user_id: int) -> int:
        k = self.keys
        positions: list[Any] = []
        for code, pos in USER_POSITION.items():
            positions += [code, pos]
        for _ in range(DISCARD_ATTEMPTS):
            raw = await self._call("discard", partial(self._r.zrange, k.pending(part), 0, -1))
            batches = [b.decode() for b in raw]
            keys = [k.pending(part), k.live_counters(guild_id, part), k.live_records(guild_id, part)]
            for b in batches:
                keys += [k.batch_counters(b, guild_id), k.batch_records(b, guild_id)]
            argv = [k.prefix, part, guild_id, user_id, len(batches), *batches, *positions]
            n = int(await self._call("discard", partial(self._discard, keys=keys, args=argv)))
            if n >= 0:
                return n
        raise StoreUnavailable(f"redis discard: the batches of {part} kept changing")

    async def claim(self, part: str, ttl_s: float, *, force: bool = False) -> bool:
        """Hold a partition's lease for ``ttl_s``: True when this process holds it now.

        ``force`` takes it whoever holds it (the process configured for that shard);
        without, only a lease that lapsed (or is already ours) is taken.
        """
        argv: list[Any] = [self.owner, max(1, int(ttl_s * 1000)), 1 if force else 0]
        got = await self._call("claim", partial(self._claim, keys=[self.keys.lease(part)], args=argv))
        return bool(got)

    async def release(self, part: str) -> None:
        """Let go of a partition's lease if this process holds it (at shutdown, after the last flush)."""
        await self._call("release", partial(self._release, keys=[self.keys.lease(part)], args=[self.owner]))

    async def ping(self) -> None:
        await self._call("ping", self._r.ping)

    async def close(self) -> None:
        await self._r.aclose()
