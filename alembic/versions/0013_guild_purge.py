"""Removed guilds (issue #14): when the bot was removed from a guild, so that its data is purged after a grace period.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.types import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # One row per guild the bot was removed from; a guild the bot is in has none.
    op.create_table(
        "removed_guilds",
        sa.Column("guild_id", sa.BigInteger, primary_key=True, nullable=False),
        sa.Column("removed_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("removed_guilds")
