"""Versions of each guild's past (per UTC month, and for the whole guild): report snapshots are checked against them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "guild_history",
        sa.Column("guild_id", sa.BigInteger, primary_key=True, nullable=False),
        sa.Column("month", sa.Integer, primary_key=True, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("guild_history")
