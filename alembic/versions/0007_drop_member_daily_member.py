"""Drop the per-member index of member_daily: every flush paid for it, one read used it.

One member's total over a long period is now looked up in the members' totals
that the report snapshots keep for the rank and the leaderboards, so the flush no
longer inserts into a second B-tree of the member rollup at random places.

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
