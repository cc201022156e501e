"""Acting on activity (issue #18): digest and nudge settings, the nudge log, activity-role rules.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.types import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "acting_settings",
        sa.Column("guild_id", sa.BigInteger, primary_key=True, nullable=False),
        sa.Column("digest_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("digest_channel_id", sa.BigInteger),
        sa.Column("nudges_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("nudge_after_days", sa.Integer),
        sa.Column("nudge_interval_days", sa.Integer, nullable=False, server_default="14"),
        sa.Column("nudge_text", sa.Text),
    )
    op.create_table(
        "nudge_log",
        sa.Column("guild_id", sa.BigInteger, primary_key=True, nullable=False),
        sa.Column("user_id", sa.BigInteger, primary_key=True, nullable=False),
        sa.Column("sent_at", UTCDateTime, primary_key=True, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
    )
    op.create_table(
        "nudge_optouts",
        sa.Column("guild_id", sa.BigInteger, primary_key=True, nullable=False),
        sa.Column("user_id", sa.BigInteger, primary_key=True, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "role_rules",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("guild_id", sa.BigInteger, nullable=False),
        sa.Column("role_id", sa.BigInteger, nullable=False),
        sa.Column("metric", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("value", sa.Integer, nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("weeks", sa.Integer),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("guild_id", "role_id", name="role_rules_one_per_role"),
    )


def downgrade() -> None:
    op.drop_table("role_rules")
    op.drop_table("nudge_optouts")
    op.drop_table("nudge_log")
    op.drop_table("acting_settings")
