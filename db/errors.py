"""Telling a database that is down (retry later) from a real error (a bug to log)."""

from __future__ import annotations

import asyncpg
from sqlalchemy import exc as sa_exc


class DatabaseUnavailable(Exception):
    """The database cannot be reached now; the same work may be retried as it was."""


def is_transient(exc: BaseException) -> bool:
    """True for a connection-level failure: refused, reset, timed out, server shutting down."""
    if isinstance(exc, DatabaseUnavailable | ConnectionError | TimeoutError | OSError):
        return True
    if isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.CannotConnectNowError | asyncpg.InterfaceError):
        return True
    if isinstance(exc, asyncpg.exceptions.AdminShutdownError | asyncpg.exceptions.CrashShutdownError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        return exc.orig is not None and is_transient(exc.orig)
    if isinstance(exc, sa_exc.InterfaceError | sa_exc.DisconnectionError):
        return True
    cause = exc.__cause__
    return cause is not None and cause is not exc and is_transient(cause)
