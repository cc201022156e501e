"""Report truth (issue #13): event configuration history and members' last known names; event names (#14).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from db.types import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    history = op.create_table(
        "event_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("guild_id", sa.BigInteger, nullable=False),
        sa.Column("event_id", sa.Integer, nullable=False),
        sa.Column("start_time", sa.Text, nullable=False),
        sa.Column("minutes", sa.Integer, nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("channels", sa.Text, nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("valid_from", UTCDateTime, nullable=False),
        sa.Column("valid_to", UTCDateTime),
    )
    op.create_index("ix_event_history_guild_id", "event_history", ["guild_id"])
    # Shown in the event's reports; events configured before have none (their reports keep
    # the "Event 07:00 (60 min)" title). A nullable column: a plain ALTER on SQLite too.
    op.add_column("events", sa.Column("name", sa.Text))
    # Events configured before this revision have no known start: they are in force from
    # now on, so that no past week is judged by events that may not have existed then.
    events = sa.table(
        "events",
        sa.column("id", sa.Integer),
        sa.column("guild_id", sa.BigInteger),
        sa.column("start_time", sa.Text),
        sa.column("minutes", sa.Integer),
        sa.column("days", sa.Integer),
        sa.column("channels", sa.Text),
        sa.column("name", sa.Text),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(events)).all()
    now = datetime.now(UTC)
    if rows:
        op.bulk_insert(
            history,
            [
                {
                    "guild_id": r.guild_id,
                    "event_id": r.id,
                    "start_time": r.start_time,
                    "minutes": r.minutes,
                    "days": r.days,
                    "channels": r.channels,
                    "name": r.name,
                    "valid_from": now,
                    "valid_to": None,
                }
                for r in rows
            ],
        )
    op.create_table(
        "member_names",
        sa.Column("guild_id", sa.BigInteger, primary_key=True, nullable=False),
        sa.Column("user_id", sa.BigInteger, primary_key=True, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("joined_at", UTCDateTime),
        sa.Column("left_at", UTCDateTime),
        sa.Column("seen_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("member_names")
    # Batch mode: SQLite rebuilds the table without the column, PostgreSQL drops it in place.
    with op.batch_alter_table("events") as batch:
        batch.drop_column("name")
    op.drop_index("ix_event_history_guild_id", table_name="event_history")
    op.drop_table("event_history")
