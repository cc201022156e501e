"""The Redis store: live hashes per guild, frozen into batches by an atomic RENAME.

Every multi-key step runs as one Lua script, so it is atomic: a push is applied
whole or not at all (and at most once per push id), a freeze moves every live
hash into the batch at once. The scripts build key names with the layout of
``bot.buffer.keys``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.buffer.codec import RawCounters, decode_record, decode_value, encode_key, encode_row, encode_value
from bot.buffer.counters import Snapshot
from bot.buffer.keys import LUA_KEY_FUNCTIONS, RedisKeys
from bot.buffer.store import Batch, StoreUnavailable, group_counters
from db.series import USER_POSITION

log = logging.getLogger(__name__)

# Counter rows per script call: keeps each call short so Redis never stalls for long.
PUSH_CHUNK = 10_000
# How long a push id is remembered (a retry comes within seconds or minutes).
PUSH_MARKER_TTL_S = 7 * 86400

# ARGV: prefix, marker ttl, number of counter rows, then per row: guild, row field,
# values (comma-separated, in the series' field order); then per record: guild,
# field, value. A row's values are added element-wise to what the hash holds (Lua
# numbers are doubles: exact far beyond any hourly count). A push id applies once:
# the marker key is set in the same script.
_PUSH = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then return 0 end
local p = ARGV[1]
local rows = tonumber(ARGV[3])
local seen = {}
local i = 4
for _ = 1, rows do
  local g, field, add = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local h = live(p, 'c', g)
  local cur = redis.call('HGET', h, field)
  if cur then
    local old = {}
    for x in string.gmatch(cur, '[^,]+') do old[#old + 1] = tonumber(x) end
    local sum, k = {}, 1
    for x in string.gmatch(add, '[^,]+') do
      sum[k] = string.format('%d', (old[k] or 0) + tonumber(x))
      k = k + 1
    end
    redis.call('HSET', h, field, table.concat(sum, ','))
  else
    redis.call('HSET', h, field, add)
  end
  if not seen[g] then
    seen[g] = true
    redis.call('SADD', KEYS[2], g)
  end
  i = i + 3
end
while i <= #ARGV do
  local g = ARGV[i]
  redis.call('HSET', live(p, 'r', g), ARGV[i + 1], ARGV[i + 2])
  if not seen[g] then
    seen[g] = true
    redis.call('SADD', KEYS[2], g)
  end
  i = i + 3
end
return 1
"""

_FREEZE = """
local p = ARGV[1]
local id = ARGV[2]
local guilds = redis.call('SMEMBERS', KEYS[1])
if #guilds == 0 then return 0 end
for _, g in ipairs(guilds) do
  for _, kind in ipairs({'c', 'r'}) do
    local name = live(p, kind, g)
    if redis.call('EXISTS', name) == 1 then
      redis.call('RENAME', name, batch(p, id, kind, g))
    end
  end
end
redis.call('RENAME', KEYS[1], batch_guilds(p, id))
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), id)
return 1
"""

# ARGV: prefix, guild, user, then pairs (code, position of the user in the field, 1-based).
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
local p, g, user = ARGV[1], ARGV[2], ARGV[3]
local pos = {}
for i = 4, #ARGV, 2 do pos[ARGV[i]] = tonumber(ARGV[i + 1]) end
local hashes = {live(p, 'c', g), live(p, 'r', g)}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  table.insert(hashes, batch(p, id, 'c', g))
  table.insert(hashes, batch(p, id, 'r', g))
end
local n = 0
for _, h in ipairs(hashes) do
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


class RedisStore:
    """Buffer store on a Redis server shared by every shard process."""

    def __init__(self, client: aioredis.Redis, keys: RedisKeys | None = None) -> None:
        self._r = client
        self.keys = keys or RedisKeys()
        self._push = client.register_script(LUA_KEY_FUNCTIONS + _PUSH)
        self._freeze = client.register_script(LUA_KEY_FUNCTIONS + _FREEZE)
        self._discard = client.register_script(LUA_KEY_FUNCTIONS + _DISCARD)

    @classmethod
    def from_url(cls, url: str, keys: RedisKeys | None = None) -> RedisStore:
        client = aioredis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)
        return cls(client, keys)

    async def _call(self, what: str, fn: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await fn()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(f"redis {what}: {exc}") from exc

    async def push(self, snap: Snapshot) -> None:
        # Chunks of (counter rows in it, arguments); records ride in the last chunk.
        chunks: list[tuple[int, list[Any]]] = [(0, [])]
        size = 0
        for code, rows in group_counters(snap.counters).items():
            for row_key, vals in rows.items():
                if size >= PUSH_CHUNK:
                    chunks.append((0, []))
                    size = 0
                n_rows, args = chunks[-1]
                guild, field = encode_row(code, row_key)
                args += [guild, field, ",".join(map(str, vals))]
                chunks[-1] = (n_rows + 1, args)
                size += 1
        records = chunks[-1][1]
        for rkey, value in snap.records.items():
            g, f = encode_key(rkey)
            records += [g, f, encode_value(value)]
        for chunk_no, (n_rows, args) in enumerate(chunks):
            marker = self.keys.push_marker(f"{snap.push_id}:{chunk_no}")
            argv = [self.keys.prefix, PUSH_MARKER_TTL_S, n_rows, *args]
            await self._call("push", partial(self._push, keys=[marker, self.keys.live_guilds], args=argv))

    async def freeze(self) -> str | None:
        batch_id = uuid.uuid4().hex
        k = self.keys
        done = await self._call(
            "freeze",
            lambda: self._freeze(keys=[k.live_guilds, k.pending, k.batch_seq], args=[k.prefix, batch_id]),
        )
        return batch_id if done else None

    async def pending(self) -> list[str]:
        ids = await self._call("pending", lambda: self._r.zrange(self.keys.pending, 0, -1))
        return [i.decode() for i in ids]

    async def load(self, batch_id: str) -> Batch:
        k = self.keys
        guilds = await self._call("load", lambda: self._r.smembers(k.batch_guilds(batch_id)))
        gids = sorted(int(g) for g in guilds)
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
        guilds = await self._call("drop", lambda: self._r.smembers(k.batch_guilds(batch_id)))
        names = [k.batch_guilds(batch_id)]
        for g in guilds:
            names += [k.batch_counters(batch_id, g.decode()), k.batch_records(batch_id, g.decode())]
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(*names)
            pipe.zrem(k.pending, batch_id)
            await self._call("drop", pipe.execute)

    async def discard_member(self, guild_id: int, user_id: int) -> int:
        args: list[Any] = [self.keys.prefix, guild_id, user_id]
        for code, pos in USER_POSITION.items():
            args += [code, pos]
        n = await self._call("discard", lambda: self._discard(keys=[self.keys.pending], args=args))
        return int(n)

    async def ping(self) -> None:
        await self._call("ping", self._r.ping)

    async def close(self) -> None:
        await self._r.aclose()
