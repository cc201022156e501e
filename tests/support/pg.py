"""Scratch PostgreSQL databases for one test run, so that concurrent runs never share one."""

from __future__ import annotations

import contextlib

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from db.engine import create_engine


async def ensure_database(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server_url``, created when missing."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                with contextlib.suppress(sa.exc.ProgrammingError):  # created concurrently
                    await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        await admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name`` (closing its connections) if it exists."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.dispose()
