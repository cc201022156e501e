"""Per-member indexes for long-period member reports (cards, heatmaps, ranks).

Each index slows the flush a little, so only the ones the member card and
per-member reads over long periods need: the hourly one for the heatmap, the
daily ones for voice by sub-state and top channels over whole days.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "member_daily_member": ("member_daily", ["guild_id", "user_id", "day"]),
    "message_hourly_member": ("message_hourly", ["guild_id", "user_id", "hour"]),
    "message_daily_member": ("message_daily", ["guild_id", "user_id", "day"]),
    "voice_daily_member": ("voice_daily", ["guild_id", "user_id", "day"]),
}


def upgrade() -> None:
    for name, (table, cols) in INDEXES.items():
        op.create_index(name, table, cols)


def downgrade() -> None:
    for name, (table, _cols) in INDEXES.items():
        op.drop_index(name, table_name=table)
