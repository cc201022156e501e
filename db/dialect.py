"""What the two backends spell differently in the statements of ``db/``: INSERT … ON CONFLICT."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect


class Bound(Protocol):
    """An engine or a connection: anything that knows its dialect."""

    @property
    def dialect(self) -> Dialect: ...


def insert_for(bind: Bound) -> Any:
    """The ``insert`` of the bind's backend, the one with ``on_conflict_do_nothing``/``_do_update``."""
    return postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert
