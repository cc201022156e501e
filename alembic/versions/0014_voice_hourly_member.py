"""A per-member index on voice_hourly (issue #15): one member's voice hours without scanning every chunk.

The mentor card and the dashboard's member page read one member's hours of the
window from both hourly tables; ``message_hourly`` had its per-member index
(0003) but ``voice_hourly`` was scanned whole in every chunk of the window (about
50 ms of the member page on a guild of 20,000 members). Voice rows are far fewer
than message rows, so the flush pays little for it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("voice_hourly_member", "voice_hourly", ["guild_id", "user_id", "hour"])


def downgrade() -> None:
    op.drop_index("voice_hourly_member", table_name="voice_hourly")
