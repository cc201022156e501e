"""Snowflake times agree with discord.py's."""

from __future__ import annotations

import discord
from hypothesis import given
from hypothesis import strategies as st

from bot.tracking.snowflakes import snowflake_at, snowflake_hour, snowflake_seconds


@given(st.integers(min_value=1 << 22, max_value=(1 << 63) - 1))
def test_seconds_and_hour_match_snowflake_time(snowflake: int) -> None:
    t = discord.utils.snowflake_time(snowflake).timestamp()
    assert snowflake_seconds(snowflake) == int(t // 1)
    assert snowflake_hour(snowflake) == int(t // 3600 * 3600)


@given(st.integers(min_value=1_420_070_400, max_value=4_000_000_000))
def test_snowflake_at_is_the_first_id_of_that_second(epoch: int) -> None:
    sf = snowflake_at(epoch)
    assert snowflake_seconds(sf) == epoch
    assert snowflake_seconds(sf - 1) == epoch - 1
