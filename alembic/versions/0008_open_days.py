"""Open days: each guild's days from ``open_from`` on get their rollup rows when they close.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No row: every day of the guild is closed (rollups written by each flush), as before.
    op.create_table(
        "open_days",
        sa.Column("guild_id", sa.BigInteger, primary_key=True, nullable=False),
        sa.Column("open_from", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    from db.rollups import close_all_sync

    # Without the table every day counts as closed: give the open ones their rollup rows first.
    close_all_sync(op.get_bind())
    op.drop_table("open_days")
