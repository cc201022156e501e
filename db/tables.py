"""Table definitions. Alembic migrations create them; the code reads these to build queries.

Time series (``*_hourly``, ``*_daily``, ``member_daily``, ``voice_sessions``) become
TimescaleDB hypertables on PostgreSQL and plain tables on SQLite. Every table is
keyed by ``guild_id`` first: no query reads across guilds.
"""

from __future__ import annotations

import sqlalchemy as sa

from db.series import SERIES, Series
from db.types import UTCDateTime

metadata = sa.MetaData()

Id = sa.BigInteger
Count = sa.BigInteger


def _counter_table(name: str, time_col: str, series: Series) -> sa.Table:
    dim_cols = [
        sa.Column(d, Id if t is int else sa.Text, primary_key=True, nullable=False)
        for d, t in zip(series.dims, series.dim_types, strict=True)
    ]
    value_cols = [sa.Column(f, Count, nullable=False, server_default="0") for f in series.fields]
    return sa.Table(
        name,
        metadata,
        sa.Column("guild_id", Id, primary_key=True, nullable=False),
        sa.Column(time_col, UTCDateTime, primary_key=True, nullable=False),
        *dim_cols,
        *value_cols,
    )


HOURLY: dict[str, sa.Table] = {}
DAILY: dict[str, sa.Table] = {}
for _series in SERIES.values():
    HOURLY[_series.code] = _counter_table(_series.hourly_table, "hour", _series)
    DAILY[_series.code] = _counter_table(_series.daily_table, "day", _series)

message_hourly = HOURLY["msg"]
voice_hourly = HOURLY["voice"]
emoji_hourly = HOURLY["emoji"]
app_hourly = HOURLY["app"]
message_daily = DAILY["msg"]
voice_daily = DAILY["voice"]
emoji_daily = DAILY["emoji"]
app_daily = DAILY["app"]

# One row per member and UTC day across all metrics: leaderboards, streaks and
# mentor cards over long periods read this instead of the per-channel tables.
MEMBER_DAILY_FIELDS = ("messages", "characters", "voice_s", "active_s", "emojis", "commands")
member_daily = sa.Table(
    "member_daily",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("day", UTCDateTime, primary_key=True, nullable=False),
    sa.Column("user_id", Id, primary_key=True, nullable=False),
    *(sa.Column(f, Count, nullable=False, server_default="0") for f in MEMBER_DAILY_FIELDS),
)

voice_sessions = sa.Table(
    "voice_sessions",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("user_id", Id, primary_key=True, nullable=False),
    sa.Column("started_at", UTCDateTime, primary_key=True, nullable=False),
    sa.Column("channel_id", Id, nullable=False),
    # While ``open``, the last checkpoint: time after it is not yet counted.
    sa.Column("ended_at", UTCDateTime, nullable=False),
    sa.Column("open", sa.Boolean, nullable=False),
)

invites = sa.Table(
    "invites",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("code", sa.Text, primary_key=True, nullable=False),
    sa.Column("inviter_id", Id),
    sa.Column("channel_id", Id),
    sa.Column("max_uses", sa.Integer),
    sa.Column("max_age", sa.Integer),
    sa.Column("created_at", UTCDateTime),
    sa.Column("uses", sa.Integer),
    sa.Column("deleted_at", UTCDateTime),
)

member_joins = sa.Table(
    "member_joins",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("user_id", Id, primary_key=True, nullable=False),
    sa.Column("joined_at", UTCDateTime, primary_key=True, nullable=False),
    # An invite code, ``vanity`` or ``unknown`` (then ``inviter_id`` is NULL).
    sa.Column("invite_code", sa.Text, nullable=False),
    sa.Column("inviter_id", Id),
    sa.Column("left_at", UTCDateTime),
)

channels = sa.Table(
    "channels",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("channel_id", Id, primary_key=True, nullable=False),
    sa.Column("parent_id", Id),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
)

backfill_progress = sa.Table(
    "backfill_progress",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("channel_id", Id, primary_key=True, nullable=False),
    # Messages at or after this id are counted live; backfill only counts older ones.
    sa.Column("boundary_id", Id, nullable=False),
    # The oldest message imported so far (history is read newest first).
    sa.Column("cursor_id", Id, nullable=False),
    sa.Column("done", sa.Boolean, nullable=False),
)

guild_settings = sa.Table(
    "guild_settings",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("timezone", sa.Text, nullable=False, server_default="UTC"),
    sa.Column("report_channel_id", Id),
    sa.Column("mentor_role_id", Id),
    sa.Column("weekly_weekday", sa.Integer, nullable=False, server_default="0"),
    sa.Column("weekly_time", sa.Text, nullable=False, server_default="00:00"),
    sa.Column("retention_days", sa.Integer, nullable=False, server_default="0"),
    sa.Column("presence_tracking", sa.Boolean, nullable=False, server_default=sa.false()),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("guild_id", Id, nullable=False, index=True),
    sa.Column("start_time", sa.Text, nullable=False),
    sa.Column("minutes", sa.Integer, nullable=False),
    # Bit 0 = Monday … bit 6 = Sunday.
    sa.Column("days", sa.Integer, nullable=False),
    # JSON: {"ids": [...]} or {"pattern": "..."}.
    sa.Column("channels", sa.Text, nullable=False),
)

optouts = sa.Table(
    "optouts",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("user_id", Id, primary_key=True, nullable=False),
    sa.Column("mode", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

posted_reports = sa.Table(
    "posted_reports",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("kind", sa.Text, primary_key=True, nullable=False),
    sa.Column("key", sa.Text, primary_key=True, nullable=False),
    sa.Column("posted_at", UTCDateTime, nullable=False),
    sa.Column("message_id", Id),
)

# Versions of a guild's past, per UTC month (``month`` = year * 12 + month - 1, or -1 for
# the whole guild): bumped, in the same transaction, by every write that changes rows of
# an earlier UTC day (late or spilled batches, backfill: that month; erasure, retention,
# opt-outs: the whole guild). Report snapshots of whole past days are valid while the
# versions they were read under stay put (db.history, db.reports.snapshots).
guild_history = sa.Table(
    "guild_history",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("month", sa.Integer, primary_key=True, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
)

# Each guild's open days: the UTC days from ``open_from`` (epoch of a UTC midnight) on have
# hourly rows only; their daily and per-member rollup rows are written when the day closes
# (db.rollups), and every flush into a closed day keeps them up to date in its own
# transaction. No row: every day of the guild is closed.
open_days = sa.Table(
    "open_days",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("open_from", sa.BigInteger, nullable=False),
)

flush_ledger = sa.Table(
    "flush_ledger",
    metadata,
    sa.Column("batch_id", sa.Text, primary_key=True, nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False, index=True),
    sa.Column("counters", sa.Integer, nullable=False),
    sa.Column("records", sa.Integer, nullable=False),
)

# -- report truth (#13, alembic 0009) ---------------------------------------------------------

# -- the web dashboard (#15, alembic 0010) ---------------------------------------------------

# -- catch-up and coverage (#16, alembic 0011) -----------------------------------------------

# -- acting on activity (#18, alembic 0012) --------------------------------------------------

# Per-member reads over long periods (heatmaps, top channels, voice by sub-state): alembic 0003, 0006, 0007.
sa.Index("message_hourly_member", message_hourly.c.guild_id, message_hourly.c.user_id, message_hourly.c.hour)
sa.Index("voice_daily_member", voice_daily.c.guild_id, voice_daily.c.user_id, voice_daily.c.day)

# Hypertables and their chunk intervals (TimescaleDB only).
HYPERTABLES: dict[str, tuple[str, str]] = {
    **{t.name: ("hour", "7 days") for t in HOURLY.values()},
    **{t.name: ("day", "90 days") for t in DAILY.values()},
    "member_daily": ("day", "90 days"),
    "voice_sessions": ("started_at", "30 days"),
}
