"""Catch-up and coverage (issue #16): per-channel high-water marks, live intervals and gaps.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.types import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No mark for a channel: nothing is known of it yet (catch-up starts at the guild's gap).
    op.create_table(
        "channel_marks",
        sa.Column("guild_id", sa.BigInteger, primary_key=True, nullable=False),
        sa.Column("channel_id", sa.BigInteger, primary_key=True, nullable=False),
        sa.Column("first_id", sa.BigInteger, nullable=False),
        sa.Column("last_id", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "catchup_ranges",
        sa.Column("guild_id", sa.BigInteger, primary_key=True, nullable=False),
        sa.Column("channel_id", sa.BigInteger, primary_key=True, nullable=False),
        sa.Column("until_id", sa.BigInteger, primary_key=True, nullable=False),
        sa.Column("cursor_id", sa.BigInteger, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
    )
    op.create_table(
        "coverage_live",
        sa.Column("guild_id", sa.BigInteger, primary_key=True, nullable=False),
        sa.Column("started_at", UTCDateTime, primary_key=True, nullable=False),
        sa.Column("last_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "coverage_gaps",
        sa.Column("guild_id", sa.BigInteger, primary_key=True, nullable=False),
        sa.Column("from_at", UTCDateTime, primary_key=True, nullable=False),
        sa.Column("to_at", UTCDateTime, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("messages_recovered", sa.BigInteger, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    for name in ("coverage_gaps", "coverage_live", "catchup_ranges", "channel_marks"):
        op.drop_table(name)
