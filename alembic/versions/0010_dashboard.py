"""The web dashboard (issue #15): member access levels, sign-in tokens and sessions, the dashboard secret.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.types import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboard_members",
        sa.Column("guild_id", sa.BigInteger, primary_key=True, nullable=False),
        sa.Column("user_id", sa.BigInteger, primary_key=True, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role_ids", sa.Text, nullable=False, server_default=""),
        sa.Column("manage", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("insights", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("present", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "dashboard_tokens",
        sa.Column("token_hash", sa.Text, primary_key=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("used_at", UTCDateTime),
    )
    op.create_index("ix_dashboard_tokens_expires_at", "dashboard_tokens", ["expires_at"])
    op.create_table(
        "dashboard_sessions",
        sa.Column("session_hash", sa.Text, primary_key=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_dashboard_sessions_expires_at", "dashboard_sessions", ["expires_at"])
    op.create_table(
        "dashboard_secret",
        sa.Column("id", sa.Integer, primary_key=True, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dashboard_secret")
    op.drop_index("ix_dashboard_sessions_expires_at", "dashboard_sessions")
    op.drop_table("dashboard_sessions")
    op.drop_index("ix_dashboard_tokens_expires_at", "dashboard_tokens")
    op.drop_table("dashboard_tokens")
    op.drop_table("dashboard_members")
