"""Drop the per-member index of member_daily: every flush paid for it, one read used it.

/stats user now tells whether a member wrote anything from their hourly rows (read
for the heatmap anyway, through message_hourly's per-member index) and ranks them
from the members' totals the report snapshots keep, so the flush no longer inserts
into a second B-tree of the member rollup at random places.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("member_daily_member", table_name="member_daily")


def downgrade() -> None:
    op.create_index("member_daily_member", "member_daily", ["guild_id", "user_id", "day"])
