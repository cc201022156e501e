"""Days as the queries count them: local calendar days of a timezone, and what makes a day active.

Shared by the SQL that groups hours into a guild's local days and by the analytics
that read those days, so that both count the same days. Every interval is
half-open, ``[start, end)``, in aware UTC; day boundaries are the timezone's local
midnights (``zoneinfo``), so a local day lasts 23 or 25 hours when the clocks
change, and a day whose midnight falls in a DST gap starts at the first instant
that exists on that date. No SQL here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from db.series import DAY, HOUR

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
HOUR_SECONDS: Final = HOUR
DAY_SECONDS: Final = DAY
# A day is active with a message, or with this much voice in the ``active`` state.
ACTIVE_VOICE_SECONDS: Final = 60
_EPOCH_WEEKDAY: Final = 3  # 1970-01-01 was a Thursday
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()


class LocalDay(NamedTuple):
    """One calendar day in the guild's timezone and the UTC interval it covers."""

    date: date
    utc_start: datetime
    utc_end: datetime


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first instant (aware UTC) of a local calendar day.

    ``fold=0`` resolves a midnight inside a DST gap to the transition itself (for
    example 01:00 local on the day Chile springs forward at midnight) and an
    ambiguous midnight to its first occurrence: both are the day's first instant.
    """
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def local_days(start: datetime, end: datetime, tz: ZoneInfo) -> list[LocalDay]:
    """The local calendar days that ``[start, end)`` touches, each with its full UTC bounds, oldest first.

    The bounds are whole days (local midnight to the next), not clipped to the
    interval: the first day of a ``24h`` period starts before the period does, and
    today ends after now. An empty interval has no days.
    """
    start_utc, end_utc = as_utc(start, "start"), as_utc(end, "end")
    if end_utc <= start_utc:
        return []
    first = start_utc.astimezone(tz).date()
    last = (end_utc - timedelta(microseconds=1)).astimezone(tz).date()
    days: list[LocalDay] = []
    day_start = local_midnight(first, tz)
    day = first
    while day <= last:
        following = day + timedelta(days=1)
        day_end = local_midnight(following, tz)
        days.append(LocalDay(day, day_start, day_end))
        day, day_start = following, day_end
    return days


def local_hour_index(
    hour_epochs: npt.ArrayLike, tz: ZoneInfo, first_day: date
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Where UTC hours fall locally: (local day index from ``first_day``, local hour-of-week 0..167, Monday 00 = 0).

    ``hour_epochs`` are epoch seconds (UTC); each is placed by the local time of the
    start of its hour, which matters only in zones with a non-whole-hour offset. Day
    indexes before ``first_day`` are negative; callers drop what is out of range.
    """
    hours = np.floor_divide(np.asarray(hour_epochs, dtype=np.int64), HOUR_SECONDS)
    if hours.size == 0:
        empty = np.zeros(hours.shape, dtype=np.int64)
        return empty, empty.copy()
    local_seconds = hours * HOUR_SECONDS + _utc_offsets(hours, tz)
    day_number = np.floor_divide(local_seconds, DAY_SECONDS)
    hour_of_day = np.floor_divide(local_seconds - day_number * DAY_SECONDS, HOUR_SECONDS)
    weekday = (day_number + _EPOCH_WEEKDAY) % 7
    day_index = day_number - (first_day.toordinal() - _EPOCH_ORDINAL)
    return day_index.astype(np.int64), (weekday * 24 + hour_of_day).astype(np.int64)


def _utc_offsets(hours: npt.NDArray[np.int64], tz: ZoneInfo) -> npt.NDArray[np.int64]:
    """The timezone's UTC offset in seconds at the start of each epoch hour.

    Offsets are looked up once a day and hour by hour only across a day in which
    they change, so a year of hours costs a few hundred ``zoneinfo`` calls. This
    assumes no zone changes its offset twice within 24 hours, which none does.
    """
    low, high = int(hours.min()), int(hours.max())
    samples = np.arange(low, high + 25, 24, dtype=np.int64)
    sampled = np.array([_offset_at(int(h), tz) for h in samples], dtype=np.int64)
    table = np.repeat(sampled[:-1], 24)
    for k in np.flatnonzero(sampled[:-1] != sampled[1:]):
        base = int(samples[k])
        table[k * 24 : k * 24 + 24] = [_offset_at(base + i, tz) for i in range(24)]
    result: npt.NDArray[np.int64] = table[hours - low]
    return result


def _offset_at(epoch_hour: int, tz: ZoneInfo) -> int:
    """The UTC offset in seconds at the start of one epoch hour."""
    offset = datetime.fromtimestamp(epoch_hour * HOUR_SECONDS, tz).utcoffset()
    return 0 if offset is None else int(offset.total_seconds())


def as_utc(moment: datetime, name: str) -> datetime:
    """The same instant in UTC; naive datetimes are a programming error."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return moment.astimezone(UTC)


def active_days_mask(messages: npt.ArrayLike, voice_active_s: npt.ArrayLike) -> BoolArray:
    """Which days are active (a message, or 60 s of active voice), element-wise for any shape."""
    msg = np.asarray(messages)
    voice = np.asarray(voice_active_s)
    mask: BoolArray = (msg > 0) | (voice >= ACTIVE_VOICE_SECONDS)
    return mask


def daily_matrix(
    hour_epochs: npt.ArrayLike,
    rows: npt.ArrayLike,
    values: npt.ArrayLike,
    tz: ZoneInfo,
    first_day: date,
    n_rows: int,
    n_days: int,
) -> FloatArray:
    """Hourly values summed into a rows × local-days matrix (rows: member indexes); out-of-range hours are dropped."""
    epochs = np.asarray(hour_epochs, dtype=np.int64)
    row_index = np.asarray(rows, dtype=np.int64)
    weights = np.asarray(values, dtype=np.float64)
    if epochs.size == 0:
        return np.zeros((n_rows, n_days), dtype=np.float64)
    day_index, _ = local_hour_index(epochs, tz, first_day)
    keep = (day_index >= 0) & (day_index < n_days) & (row_index >= 0) & (row_index < n_rows)
    cells = row_index[keep] * n_days + day_index[keep]
    flat = np.bincount(cells, weights=weights[keep], minlength=n_rows * n_days)
    matrix: FloatArray = flat.reshape(n_rows, n_days).astype(np.float64)
    return matrix
