"""Drop the per-member index of message_daily: every flush paid for it, one read used it.

A member's top channels over a long period now come from message_hourly through
its own per-member index (a member's year is at most a few thousand rows there),
so the flush no longer inserts into a second B-tree of the daily rollup at
random places for every row.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("message_daily_member", table_name="message_daily")


def downgrade() -> None:
    op.create_index("message_daily_member", "message_daily", ["guild_id", "user_id", "day"])
