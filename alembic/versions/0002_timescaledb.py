"""TimescaleDB: hypertables for the time series, and compression where the license has it.

On SQLite, or PostgreSQL without the extension, this revision does nothing and
the tables stay plain tables. It asks the server which edition it runs
(``timescaledb.license``): the Apache edition has hypertables, ``time_bucket``
and ``drop_chunks`` but no compression, so compression is only set up on the
community (``timescale``) edition. Retention is the bot's own scheduled DELETE,
which works on every edition.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

# table: (time column, chunk interval, compress chunks older than, segment by)
HYPERTABLES = {
    "message_hourly": ("hour", "7 days", "90 days"),
    "voice_hourly": ("hour", "7 days", "90 days"),
    "emoji_hourly": ("hour", "7 days", "90 days"),
    "app_hourly": ("hour", "7 days", "90 days"),
    "message_daily": ("day", "90 days", None),
    "voice_daily": ("day", "90 days", None),
    "emoji_daily": ("day", "90 days", None),
    "app_daily": ("day", "90 days", None),
    "member_daily": ("day", "90 days", None),
    "voice_sessions": ("started_at", "30 days", None),
}


def timescaledb_license(bind: sa.Connection) -> str | None:
    """'apache' or 'timescale' once the extension is installed; None without TimescaleDB."""
    available = bind.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").scalar()
    if not available:
        return None
    bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS timescaledb")
    return bind.exec_driver_sql("SELECT current_setting('timescaledb.license', true)").scalar() or "apache"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    lic = timescaledb_license(bind)
    if lic is None:
        log.warning("TimescaleDB is not installed on this server: time series stay plain tables")
        return
    for table, (col, chunk, compress_after) in HYPERTABLES.items():
        # No default index on the time column: every primary key starts (guild_id, time),
        # which serves the time-range reads, and each extra index slows the flush.
        bind.exec_driver_sql(
            f"SELECT create_hypertable('{table}', by_range('{col}', INTERVAL '{chunk}'), "
            "create_default_indexes => FALSE, if_not_exists => TRUE, migrate_data => TRUE)"
        )
        if table.endswith(("_hourly", "_daily")):
            # Room on each page so that the flush's "add to this row" updates stay HOT.
            bind.exec_driver_sql(f"ALTER TABLE {table} SET (fillfactor = 80)")
        if lic == "timescale" and compress_after:
            bind.exec_driver_sql(
                f"ALTER TABLE {table} SET (timescaledb.compress, "
                f"timescaledb.compress_segmentby = 'guild_id', timescaledb.compress_orderby = '{col} DESC')"
            )
            bind.exec_driver_sql(
                f"SELECT add_compression_policy('{table}', INTERVAL '{compress_after}', if_not_exists => TRUE)"
            )
    log.info("TimescaleDB (%s edition): %d hypertables", lic, len(HYPERTABLES))


def downgrade() -> None:
    # Hypertables cannot be turned back into plain tables in place; 0001's downgrade drops them.
    pass
