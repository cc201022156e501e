"""The counters and records the bot keeps: one vocabulary for cogs, buffer and database.

A *counter* is summed: a key (series, guild, hour, dimensions…, field) maps to an
integer increment. A *record* is last-write-wins: a key (kind, guild, identity…)
maps to a tuple of values; the newest value written for a key is the one stored.

Cogs build keys with the helpers below; the buffer moves them as opaque tuples;
``db.flush`` turns them into rows of the tables named here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# A counter key: (series, guild_id, hour_epoch, *dims, field).
CounterKey = tuple[int | str, ...]
# A record key: (kind, guild_id, *identity); its value is a tuple of scalars.
RecordKey = tuple[int | str, ...]
RecordValue = tuple[int | str | None, ...]
# Counters grouped into rows: series code -> (guild_id, hour, *dims) -> values in field order.
Rows = dict[str, dict[tuple[int | str, ...], list[int]]]

HOUR: Final = 3600
DAY: Final = 86400


@dataclass(frozen=True, slots=True)
class Series:
    """A family of hourly counters stored in one hourly table and its daily rollup."""

    code: str
    hourly_table: str
    daily_table: str
    dims: tuple[str, ...]
    dim_types: tuple[type, ...]
    fields: tuple[str, ...]

    @property
    def user_dim(self) -> int:
        """Position of ``user_id`` in the key (after series, guild and hour)."""
        return 3 + self.dims.index("user_id")


MESSAGES: Final = Series(
    code="msg",
    hourly_table="message_hourly",
    daily_table="message_daily",
    dims=("channel_id", "user_id"),
    dim_types=(int, int),
    fields=("messages", "characters", "attachments", "replies"),
)
VOICE: Final = Series(
    code="voice",
    hourly_table="voice_hourly",
    daily_table="voice_daily",
    dims=("channel_id", "user_id"),
    dim_types=(int, int),
    fields=("active_s", "muted_s", "deafened_s", "alone_s", "streaming_s", "video_s"),
)
EMOJIS: Final = Series(
    code="emoji",
    hourly_table="emoji_hourly",
    daily_table="emoji_daily",
    dims=("channel_id", "user_id", "emoji", "kind"),
    dim_types=(int, int, str, str),
    fields=("count",),
)
APPS: Final = Series(
    code="app",
    hourly_table="app_hourly",
    daily_table="app_daily",
    dims=("channel_id", "user_id", "application_id", "command"),
    dim_types=(int, int, int, str),
    fields=("count",),
)

# Rich Presence (games and apps a member shows), only in guilds whose admins enabled it.
# ``application_id`` is 0 for activities without one; ``name`` is the activity's name.
PRESENCE: Final = Series(
    code="presence",
    hourly_table="presence_hourly",
    daily_table="presence_daily",
    dims=("user_id", "application_id", "name"),
    dim_types=(int, int, str),
    fields=("seconds",),
)

SERIES: Final[dict[str, Series]] = {s.code: s for s in (MESSAGES, VOICE, EMOJIS, APPS, PRESENCE)}

# Voice buckets that partition voice time; streaming and video overlay them.
VOICE_BUCKETS: Final = ("active_s", "muted_s", "deafened_s", "alone_s")


@dataclass(frozen=True, slots=True)
class RecordKind:
    """A last-write-wins record: identity columns plus value columns of one table."""

    code: str
    table: str
    identity: tuple[str, ...]
    identity_types: tuple[type, ...]
    values: tuple[str, ...]


# An open or closed voice session; ``ended_at`` is the last checkpoint while open.
VOICE_SESSION: Final = RecordKind(
    code="vsess",
    table="voice_sessions",
    identity=("user_id", "started_at"),
    identity_types=(int, int),
    values=("channel_id", "ended_at", "open"),
)
# The invites of a guild as last seen; ``deleted_at`` set once it vanished.
INVITE: Final = RecordKind(
    code="invite",
    table="invites",
    identity=("code",),
    identity_types=(str,),
    values=("inviter_id", "channel_id", "max_uses", "max_age", "created_at", "uses", "deleted_at"),
)
# A member join, attributed to an invite code (or ``vanity`` / ``unknown``).
MEMBER_JOIN: Final = RecordKind(
    code="join",
    table="member_joins",
    identity=("user_id", "joined_at"),
    identity_types=(int, int),
    values=("invite_code", "inviter_id"),
)
# A member leave: closes the member's open join row.
MEMBER_LEAVE: Final = RecordKind(
    code="leave",
    table="member_joins",
    identity=("user_id", "left_at"),
    identity_types=(int, int),
    values=(),
)
# What the bot knows of a channel: its parent (for threads and forum posts), kind and name.
CHANNEL: Final = RecordKind(
    code="channel",
    table="channels",
    identity=("channel_id",),
    identity_types=(int,),
    values=("parent_id", "kind", "name"),
)
# Message-history import progress of one channel; committed with the counts it imported.
BACKFILL: Final = RecordKind(
    code="backfill",
    table="backfill_progress",
    identity=("channel_id",),
    identity_types=(int,),
    values=("boundary_id", "cursor_id", "done"),
)

# A member's last known display name, join and leave times (epoch seconds; leave None: a member).
MEMBER_NAME: Final = RecordKind(
    code="mname",
    table="member_names",
    identity=("user_id",),
    identity_types=(int,),
    values=("name", "joined_at", "left_at", "seen_at"),
)

# A channel's high-water mark (#16): the first and the last message id counted live or by
# catch-up, committed with the counts it covers; merged as min(first) and max(last).
MARK: Final = RecordKind(
    code="mark",
    table="channel_marks",
    identity=("channel_id",),
    identity_types=(int,),
    values=("first_id", "last_id"),
)
# A stretch of a channel's history still to catch up (#16): messages above ``cursor_id`` and
# below ``until_id``. Written with the first live count after a gap (its cursor is then at least
# the channel's stored mark, in the same transaction) and moved on with catch-up's counts.
CATCHUP: Final = RecordKind(
    code="catchup",
    table="catchup_ranges",
    identity=("channel_id", "until_id"),
    identity_types=(int, int),
    values=("cursor_id", "done"),
)
# An interval during which the bot tracked a guild live (#16); ``last_at`` only moves on.
LIVE: Final = RecordKind(
    code="live",
    table="coverage_live",
    identity=("started_at",),
    identity_types=(int,),
    values=("last_at",),
)
# A gap in a guild's live tracking (#16): ``offline`` or ``disconnected``, and the messages
# catch-up recovered for it so far (only moves on).
GAP: Final = RecordKind(
    code="gap",
    table="coverage_gaps",
    identity=("from_at",),
    identity_types=(int,),
    values=("to_at", "kind", "messages_recovered"),
)
COVERAGE_KINDS: Final = (MARK, CATCHUP, LIVE, GAP)

RECORD_KINDS: Final[dict[str, RecordKind]] = {
    k.code: k
    for k in (VOICE_SESSION, INVITE, MEMBER_JOIN, MEMBER_LEAVE, CHANNEL, BACKFILL, MEMBER_NAME, *COVERAGE_KINDS)
}


def hour_of(epoch_seconds: float) -> int:
    """Start of the UTC hour holding ``epoch_seconds``, as whole epoch seconds."""
    s = int(epoch_seconds)
    return s - s % HOUR


# Where the member's id sits in each key, by series or record code (for erasure).
USER_POSITION: Final[dict[str, int]] = {
    **{s.code: s.user_dim for s in SERIES.values()},
    **{k.code: 2 for k in (VOICE_SESSION, MEMBER_JOIN, MEMBER_LEAVE, MEMBER_NAME)},
}


def part_of(user_id: int, parts: int) -> int:
    """The part of a batch written in ``parts`` parts that a member's rows go to (its id's last digit)."""
    return user_id % 10 % parts
