"""Rich Presence time per member, application and hour (off unless a guild enables it).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.types import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = {"presence_hourly": ("hour", "7 days"), "presence_daily": ("day", "90 days")}


def upgrade() -> None:
    for name, (time_col, _chunk) in TABLES.items():
        op.create_table(
            name,
            sa.Column("guild_id", sa.BigInteger, primary_key=True, nullable=False),
            sa.Column(time_col, UTCDateTime, primary_key=True, nullable=False),
            sa.Column("user_id", sa.BigInteger, primary_key=True, nullable=False),
            sa.Column("application_id", sa.BigInteger, primary_key=True, nullable=False),
            sa.Column("name", sa.Text, primary_key=True, nullable=False),
            sa.Column("seconds", sa.BigInteger, nullable=False, server_default="0"),
        )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    has_timescale = bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").scalar()
    if not has_timescale:
        return
    for name, (time_col, chunk) in TABLES.items():
        bind.exec_driver_sql(
            f"SELECT create_hypertable('{name}', by_range('{time_col}', INTERVAL '{chunk}'), "
            "create_default_indexes => FALSE, if_not_exists => TRUE, migrate_data => TRUE)"
        )
        bind.exec_driver_sql(f"ALTER TABLE {name} SET (fillfactor = 80)")


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
