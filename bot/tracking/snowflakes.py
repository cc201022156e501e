"""Times of Discord ids: a message's hour is the hour of its snowflake."""

from __future__ import annotations

from typing import Final

from discord.utils import DISCORD_EPOCH

from db.series import HOUR

EPOCH_S: Final = DISCORD_EPOCH // 1000
_EPOCH_S = EPOCH_S


def snowflake_seconds(snowflake: int) -> int:
    """Whole epoch seconds of a snowflake (``discord.utils.snowflake_time`` without the datetime)."""
    return ((snowflake >> 22) // 1000) + _EPOCH_S


def snowflake_hour(snowflake: int) -> int:
    """Start of the UTC hour holding a snowflake's creation time, in epoch seconds."""
    s = ((snowflake >> 22) // 1000) + _EPOCH_S
    return s - s % HOUR


def snowflake_at(epoch_seconds: int) -> int:
    """The smallest snowflake created at ``epoch_seconds`` (a history boundary)."""
    return ((epoch_seconds - _EPOCH_S) * 1000) << 22
