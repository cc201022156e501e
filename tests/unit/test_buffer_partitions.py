"""The buffer's key layout and shard ownership: pure checks (the scripts run in tests/integration)."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from bot.buffer.keys import LUA_KEY_FUNCTIONS, SINGLE, RedisKeys, partition_name, partition_of_batch
from bot.buffer.shards import Shards, shard_of
from bot.settings import SettingsError, load_settings


def partition_keys(k: RedisKeys, part: str) -> list[str]:
    batch = f"{part}/host-1/{'a' * 32}"
    return [
        k.live_guilds(part),
        k.live_counters(123, part),
        k.live_records(123, part),
        k.batch_guilds(batch),
        k.batch_counters(batch, 123),
        k.batch_records(batch, 456),
        k.pending(part),
        k.batch_seq(part),
        k.push_marker(part, "p:0"),
        k.lease(part),
    ]


@pytest.mark.parametrize("prefix", ["statsbot:", "test:abc:"])
def test_every_key_of_a_partition_is_in_one_cluster_slot(prefix: str) -> None:
    k = RedisKeys(prefix)
    slots = {part: {key_slot(key.encode()) for key in partition_keys(k, part)} for part in ("s0of4", "s3of4", SINGLE)}
    assert all(len(s) == 1 for s in slots.values()), slots
    # Different shards may land on different nodes: their slots differ.
    assert len({next(iter(s)) for s in slots.values()}) == 3


def test_batch_ids_name_their_partition() -> None:
    assert partition_of_batch("s2of4/host-77/" + "f" * 32) == "s2of4"
    assert RedisKeys().batch_counters("s2of4/h-1/x", 9) == "statsbot:{s2of4}:batch:s2of4/h-1/x:c:9"


def test_the_lua_functions_follow_the_python_templates() -> None:
    # The scripts get the layout as functions generated from the same templates.
    assert "local function live(prefix, part, kind, guild)" in LUA_KEY_FUNCTIONS
    assert "'{' .. tostring(part) .. '}' .. ':live:'" in LUA_KEY_FUNCTIONS
    assert "local function lease(prefix, part)" in LUA_KEY_FUNCTIONS
    assert "{{" not in LUA_KEY_FUNCTIONS


def test_a_guilds_shard_is_discords_rule() -> None:
    guild = (1234 << 22) + 99
    assert shard_of(guild, 4) == 1234 % 4
    shards = Shards(4, frozenset({0, 1}))
    assert shards.partitions() == [partition_name(0, 4), partition_name(1, 4)]
    assert shards.owns((8 << 22) + 5) and not shards.owns((10 << 22) + 5)
    assert shards.partition_of((10 << 22) + 5) == "s2of4"
    assert Shards.of(None, None) == Shards(1, None)
    assert Shards.of(4, None).partitions() == [f"s{i}of4" for i in range(4)]


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"REDIS_CLUSTER": "true"}, ["REDIS_CLUSTER", "REDIS_URL"]),
        ({"DATABASE_READ_URL": "postgresql://u@replica/db"}, ["DATABASE_READ_URL", "DATABASE_URL"]),
    ],
)
def test_scale_out_settings_that_cannot_work_fail_at_start(env: dict[str, str], names: list[str]) -> None:
    with pytest.raises(SettingsError) as exc:
        load_settings(DATABASE_URL="sqlite+aiosqlite:///x.db", **env)
    assert all(n in str(exc.value) for n in names)
