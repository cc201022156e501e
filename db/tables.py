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
    # Shown in its reports (at most 60 characters, one line); NULL: "Event 07:00 (60 min)". Alembic 0009.
    sa.Column("name", sa.Text),
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

# Every version of every configured event, so that a past week is judged by the events of
# that week: a row is in force from ``valid_from`` until ``valid_to`` (NULL: still in force).
# /config event add writes a row; remove closes the rows of the events it deletes.
event_history = sa.Table(
    "event_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("guild_id", Id, nullable=False, index=True),
    sa.Column("event_id", sa.Integer, nullable=False),
    sa.Column("start_time", sa.Text, nullable=False),
    sa.Column("minutes", sa.Integer, nullable=False),
    sa.Column("days", sa.Integer, nullable=False),
    sa.Column("channels", sa.Text, nullable=False),
    # The name the event had: a past week's summary shows it, whatever the event is called since.
    sa.Column("name", sa.Text),
    sa.Column("valid_from", UTCDateTime, nullable=False),
    sa.Column("valid_to", UTCDateTime),
)

# The last display name the bot saw per guild member, and when the member joined and left
# (``left_at`` NULL: still a member, or never seen leaving), so that former members are
# shown by name and "never present" knows who was a member when. Erased with the member.
member_names = sa.Table(
    "member_names",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("user_id", Id, primary_key=True, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("joined_at", UTCDateTime),
    sa.Column("left_at", UTCDateTime),
    sa.Column("seen_at", UTCDateTime, nullable=False),
)

# -- the web dashboard (#15, alembic 0010) ---------------------------------------------------

# What the dashboard may show each member (db.dashboard): the last name the bot saw, the
# member's role ids and the permissions that grant access, kept up to date by cogs.dashboard
# (role changes, joins, leaves). The level is worked out on every request from these and the
# guild's mentor role, so that a /config mentor-role change counts at once.
dashboard_members = sa.Table(
    "dashboard_members",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("user_id", Id, primary_key=True, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    # Comma-separated role ids.
    sa.Column("role_ids", sa.Text, nullable=False, server_default=""),
    # Administrator or Manage Server.
    sa.Column("manage", sa.Boolean, nullable=False, server_default=sa.false()),
    # View Server Insights: mentor access (Discord's developer policy).
    sa.Column("insights", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("present", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# One-time sign-in links of /dashboard, by the SHA-256 of the token (never the token).
dashboard_tokens = sa.Table(
    "dashboard_tokens",
    metadata,
    sa.Column("token_hash", sa.Text, primary_key=True, nullable=False),
    sa.Column("guild_id", Id, nullable=False),
    sa.Column("user_id", Id, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
    sa.Column("used_at", UTCDateTime),
)

# Dashboard sessions, by the SHA-256 of the cookie's value.
dashboard_sessions = sa.Table(
    "dashboard_sessions",
    metadata,
    sa.Column("session_hash", sa.Text, primary_key=True, nullable=False),
    sa.Column("guild_id", Id, nullable=False),
    sa.Column("user_id", Id, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
)

# The signing key generated once when DASHBOARD_SECRET is unset, so that every process agrees.
dashboard_secret = sa.Table(
    "dashboard_secret",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
)


# -- catch-up and coverage (#16, alembic 0011) -----------------------------------------------

# Per channel (thread, forum post): the first and the last message id counted live or by
# catch-up, moved in the transaction of the counts they cover. Backfill imports below
# ``first_id``; catch-up imports above ``last_id``.
channel_marks = sa.Table(
    "channel_marks",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("channel_id", Id, primary_key=True, nullable=False),
    sa.Column("first_id", Id, nullable=False),
    sa.Column("last_id", Id, nullable=False),
)

# Stretches of channel history still to import: messages above ``cursor_id`` and below
# ``until_id`` (the first message counted live after a gap) were never counted.
catchup_ranges = sa.Table(
    "catchup_ranges",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("channel_id", Id, primary_key=True, nullable=False),
    sa.Column("until_id", Id, primary_key=True, nullable=False),
    sa.Column("cursor_id", Id, nullable=False),
    sa.Column("done", sa.Boolean, nullable=False),
)

# The intervals during which the bot tracked each guild live (``last_at``: its last heartbeat).
coverage_live = sa.Table(
    "coverage_live",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("started_at", UTCDateTime, primary_key=True, nullable=False),
    sa.Column("last_at", UTCDateTime, nullable=False),
)

# The gaps between them: ``offline`` (the process was down) or ``disconnected`` (a gateway
# session or the guild was lost), with the messages catch-up recovered for each.
coverage_gaps = sa.Table(
    "coverage_gaps",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("from_at", UTCDateTime, primary_key=True, nullable=False),
    sa.Column("to_at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("messages_recovered", Count, nullable=False, server_default="0"),
)

# -- acting on activity (#18, alembic 0012) --------------------------------------------------

# Per guild: the weekly mentor digest (a channel, else DMs to the mentor role) and nudges.
acting_settings = sa.Table(
    "acting_settings",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("digest_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("digest_channel_id", Id),
    sa.Column("nudges_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
    # Also nudge a regular member silent for this many days (None: only when risk is high).
    sa.Column("nudge_after_days", sa.Integer),
    sa.Column("nudge_interval_days", sa.Integer, nullable=False, server_default="14"),
    sa.Column("nudge_text", sa.Text),
)

# Every nudge attempt: ``sent``, or ``refused`` (Discord would not deliver the DM).
nudge_log = sa.Table(
    "nudge_log",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("user_id", Id, primary_key=True, nullable=False),
    sa.Column("sent_at", UTCDateTime, primary_key=True, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
)

# Members who turned nudges off (/privacy nudges off, or the button in a nudge).
nudge_optouts = sa.Table(
    "nudge_optouts",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("user_id", Id, primary_key=True, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# Activity-role rules: one per role; ``weeks`` repeats a threshold over that many periods of ``days``.
role_rules = sa.Table(
    "role_rules",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("guild_id", Id, nullable=False),
    sa.Column("role_id", Id, nullable=False),
    sa.Column("metric", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("value", sa.Integer, nullable=False),
    sa.Column("days", sa.Integer, nullable=False),
    sa.Column("weeks", sa.Integer),
    # Off until the first /roles apply: an admin previews a rule before it acts.
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("guild_id", "role_id", name="role_rules_one_per_role"),
)

# -- removed guilds (#14, alembic 0013) ----------------------------------------------------

# Guilds the bot was removed from (on_guild_remove), and when: cleared when the bot is back in
# the guild; once GUILD_PURGE_DAYS have passed, every row of the guild is deleted (db.purge).
# A guild that is merely unavailable (an outage) is never recorded here.
removed_guilds = sa.Table(
    "removed_guilds",
    metadata,
    sa.Column("guild_id", Id, primary_key=True, nullable=False),
    sa.Column("removed_at", UTCDateTime, nullable=False),
)

# Per-member reads over long periods (heatmaps, top channels, voice by sub-state): alembic 0003, 0006, 0007, 0014.
sa.Index("message_hourly_member", message_hourly.c.guild_id, message_hourly.c.user_id, message_hourly.c.hour)
sa.Index("voice_hourly_member", voice_hourly.c.guild_id, voice_hourly.c.user_id, voice_hourly.c.hour)
sa.Index("voice_daily_member", voice_daily.c.guild_id, voice_daily.c.user_id, voice_daily.c.day)

# Hypertables and their chunk intervals (TimescaleDB only).
HYPERTABLES: dict[str, tuple[str, str]] = {
    **{t.name: ("hour", "7 days") for t in HOURLY.values()},
    **{t.name: ("day", "90 days") for t in DAILY.values()},
    "member_daily": ("day", "90 days"),
    "voice_sessions": ("started_at", "30 days"),
}
