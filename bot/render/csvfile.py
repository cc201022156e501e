"""CSV export formatting (README → Reference → CSV export): columns, cells, the spooled attachment file.

Cells: times are ISO 8601 in UTC to the second (``2026-11-22T16:00:00+00:00``), ids
and counts are decimal strings, ``None`` is an empty cell. RFC 4180: lines end with
CRLF, quoting only where a value needs it; UTF-8 without BOM.

The file is built line by line into a spooled temporary file (memory first, disk
past ``SPOOL_BYTES``) and gzipped only when it would not fit the attachment limit.
"""

from __future__ import annotations

import csv
import gzip
import io
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Final

COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "messages": ("hour_utc", "channel_id", "user_id", "messages", "characters", "attachments", "replies"),
    "voice": (
        "hour_utc",
        "channel_id",
        "user_id",
        "active_s",
        "muted_s",
        "deafened_s",
        "alone_s",
        "streaming_s",
        "video_s",
    ),
    "emojis": ("hour_utc", "channel_id", "user_id", "emoji", "kind", "count"),
    "apps": ("hour_utc", "channel_id", "user_id", "application_id", "command", "count"),
    "invites": ("joined_at_utc", "user_id", "invite_code", "inviter_id", "left_at_utc"),
    # The gaps in live tracking (``kind``: ``offline`` or ``disconnected``), #16.
    "coverage": ("from_utc", "to_utc", "kind", "messages_recovered"),
}
DATASETS: Final = tuple(COLUMNS)
SPOOL_BYTES: Final = 8 * 1024 * 1024
Cell = datetime | int | str | None


class ExportTooLarge(Exception):
    """Even gzipped, the export does not fit the attachment limit."""


def iso_utc(moment: datetime) -> str:
    """An aware (or naive UTC) datetime as ``2026-11-22T16:00:00+00:00``."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat(timespec="seconds")


def cell(value: Cell) -> str:
    """One CSV cell's text: ISO time, decimal integer, the string itself, or empty for none."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, bool):  # a bool is an int; never expected, but never "True"
        return str(int(value))
    return str(value)


def csv_text(rows: Iterable[Sequence[Cell]]) -> str:
    """Rows as CSV lines (each ending with CRLF)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([cell(v) for v in row] for row in rows)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class Attachment:
    """The finished export: file name, a readable binary file at offset 0, its size and row count."""

    filename: str
    file: IO[bytes]
    size: int
    rows: int
    gzipped: bool


class CsvSpool:
    """A CSV file built incrementally: header first, then chunks of rows, never all rows in memory."""

    def __init__(self, dataset: str) -> None:
        self.dataset = dataset
        self.rows = 0
        self.size = 0
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed by the caller
        self._write(csv_text([COLUMNS[dataset]]))

    def _write(self, text: str) -> None:
        data = text.encode("utf-8")
        self._file.write(data)
        self.size += len(data)

    def add(self, rows: Sequence[Sequence[Cell]]) -> None:
        """Append a chunk of rows."""
        if rows:
            self._write(csv_text(rows))
            self.rows += len(rows)

    def finish(self, basename: str, limit: int) -> Attachment:
        """The attachment: the CSV as is when it fits ``limit`` bytes, else gzipped; ``ExportTooLarge`` if neither fits.

        Blocking (gzip): run it in a thread.
        """
        self._file.seek(0)
        if self.size <= limit:
            return Attachment(f"{basename}.csv", self._file, self.size, self.rows, gzipped=False)
        packed: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed by the caller
        # mtime=0: the same rows give the same bytes.
        with gzip.GzipFile(filename=f"{basename}.csv", mode="wb", fileobj=packed, mtime=0) as gz:
            shutil.copyfileobj(self._file, gz, 1024 * 1024)
        self._file.close()
        size = packed.tell()
        packed.seek(0)
        if size > limit:
            packed.close()
            raise ExportTooLarge(f"{size} bytes gzipped, limit {limit}")
        return Attachment(f"{basename}.csv.gz", packed, size, self.rows, gzipped=True)

    def close(self) -> None:
        """Drop the spooled data (after a failure)."""
        self._file.close()
