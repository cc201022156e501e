"""The schema: hourly counters and their daily rollups, sessions, invites, settings, ledger.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.types import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table stem, dimension columns with types, value columns); each gets _hourly and _daily.
COUNTERS = [
    ("message", [("channel_id", sa.BigInteger), ("user_id", sa.BigInteger)],
     ["messages", "characters", "attachments", "replies"]),
    ("voice", [("channel_id", sa.BigInteger), ("user_id", sa.BigInteger)],
     ["active_s", "muted_s", "deafened_s", "alone_s", "streaming_s", "video_s"]),
    ("emoji", [("channel_id", sa.BigInteger), ("user_id", sa.BigInteger), ("emoji", sa.Text), ("kind", sa.Text)],
     ["count"]),
    ("app", [("channel_id", sa.BigInteger), ("user_id", sa.BigInteger), ("application_id", sa.BigInteger),
             ("command", sa.Text)],
     ["count"]),
]  # fmt: skip


def _pk(name: str, typ: sa.types.TypeEngine | type) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, typ, primary_key=True, nullable=False)


def _count(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.BigInteger, nullable=False, server_default="0")


def upgrade() -> None:
    for stem, dims, values in COUNTERS:
        for suffix, time_col in (("hourly", "hour"), ("daily", "day")):
            op.create_table(
                f"{stem}_{suffix}",
                _pk("guild_id", sa.BigInteger),
                _pk(time_col, UTCDateTime),
                *(_pk(n, typ) for n, typ in dims),
                *(_count(v) for v in values),
            )
    op.create_table(
        "member_daily",
        _pk("guild_id", sa.BigInteger),
        _pk("day", UTCDateTime),
        _pk("user_id", sa.BigInteger),
        *(_count(v) for v in ("messages", "characters", "voice_s", "active_s", "emojis", "commands")),
    )
    op.create_table(
        "voice_sessions",
        _pk("guild_id", sa.BigInteger),
        _pk("user_id", sa.BigInteger),
        _pk("started_at", UTCDateTime),
        sa.Column("channel_id", sa.BigInteger, nullable=False),
        sa.Column("ended_at", UTCDateTime, nullable=False),
        sa.Column("open", sa.Boolean, nullable=False),
    )
    op.create_table(
        "invites",
        _pk("guild_id", sa.BigInteger),
        _pk("code", sa.Text),
        sa.Column("inviter_id", sa.BigInteger),
        sa.Column("channel_id", sa.BigInteger),
        sa.Column("max_uses", sa.Integer),
        sa.Column("max_age", sa.Integer),
        sa.Column("created_at", UTCDateTime),
        sa.Column("uses", sa.Integer),
        sa.Column("deleted_at", UTCDateTime),
    )
    op.create_table(
        "member_joins",
        _pk("guild_id", sa.BigInteger),
        _pk("user_id", sa.BigInteger),
        _pk("joined_at", UTCDateTime),
        sa.Column("invite_code", sa.Text, nullable=False),
        sa.Column("inviter_id", sa.BigInteger),
        sa.Column("left_at", UTCDateTime),
    )
    op.create_table(
        "channels",
        _pk("guild_id", sa.BigInteger),
        _pk("channel_id", sa.BigInteger),
        sa.Column("parent_id", sa.BigInteger),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
    )
    op.create_table(
        "backfill_progress",
        _pk("guild_id", sa.BigInteger),
        _pk("channel_id", sa.BigInteger),
        sa.Column("boundary_id", sa.BigInteger, nullable=False),
        sa.Column("cursor_id", sa.BigInteger, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
    )
    op.create_table(
        "guild_settings",
        _pk("guild_id", sa.BigInteger),
        sa.Column("timezone", sa.Text, nullable=False, server_default="UTC"),
        sa.Column("report_channel_id", sa.BigInteger),
        sa.Column("mentor_role_id", sa.BigInteger),
        sa.Column("weekly_weekday", sa.Integer, nullable=False, server_default="0"),
        sa.Column("weekly_time", sa.Text, nullable=False, server_default="00:00"),
        sa.Column("retention_days", sa.Integer, nullable=False, server_default="0"),
        sa.Column("presence_tracking", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("guild_id", sa.BigInteger, nullable=False),
        sa.Column("start_time", sa.Text, nullable=False),
        sa.Column("minutes", sa.Integer, nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("channels", sa.Text, nullable=False),
    )
    op.create_index("ix_events_guild_id", "events", ["guild_id"])
    op.create_table(
        "optouts",
        _pk("guild_id", sa.BigInteger),
        _pk("user_id", sa.BigInteger),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "posted_reports",
        _pk("guild_id", sa.BigInteger),
        _pk("kind", sa.Text),
        _pk("key", sa.Text),
        sa.Column("posted_at", UTCDateTime, nullable=False),
        sa.Column("message_id", sa.BigInteger),
    )
    op.create_table(
        "flush_ledger",
        _pk("batch_id", sa.Text),
        sa.Column("applied_at", UTCDateTime, nullable=False),
        sa.Column("counters", sa.Integer, nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
    )
    op.create_index("ix_flush_ledger_applied_at", "flush_ledger", ["applied_at"])


def downgrade() -> None:
    for name in (
        "flush_ledger", "posted_reports", "optouts", "events", "guild_settings", "backfill_progress",
        "channels", "member_joins", "invites", "voice_sessions", "member_daily",
    ):  # fmt: skip
        op.drop_table(name)
    for stem, _, _ in COUNTERS:
        op.drop_table(f"{stem}_daily")
        op.drop_table(f"{stem}_hourly")
