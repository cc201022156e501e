"""Periods, local calendar days and ISO weeks: turning what a user asked for into UTC intervals.

Every interval is half-open, ``[start, end)``, in aware UTC. Day and week boundaries
are the guild's local midnights (``zoneinfo``), so a local day lasts 23 or 25 hours
when the clocks change, and a day whose midnight falls in a DST gap starts at the
first instant that exists on that date.

The ``period`` option (SPEC, "Slash commands"):

- ``24h``: the last 24 hours up to now;
- ``7d``, ``30d``, ``90d``, ``365d``: the last N calendar days in the guild's
  timezone, today included: from local midnight N-1 days ago up to now;
- ``all``: from the earliest recorded time up to now.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

HOUR_SECONDS: Final = 3600
DAY_SECONDS: Final = 86400
HOURS_PER_WEEK: Final = 168

PERIOD_CHOICES: Final = ("24h", "7d", "30d", "90d", "365d", "all")
DEFAULT_PERIOD: Final = "7d"
# Days of each calendar-day period.
_PERIOD_DAYS: Final = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}
_ISO_WEEK: Final = re.compile(r"(\d{4})-?W(\d{1,2})", re.IGNORECASE)
# 1970-01-01 was a Thursday: weekday 3 with Monday = 0.
_EPOCH_WEEKDAY: Final = 3
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()


class AnalyticsError(ValueError):
    """A user's input that the analytics cannot work with; the message is meant for the user."""


class InvalidPeriod(AnalyticsError):
    """The ``period`` option is not one of the SPEC values."""


class InvalidWeek(AnalyticsError):
    """The ``week`` option is not an existing ISO week such as ``2026-W47``."""


class InvalidTimezone(AnalyticsError):
    """The name is not an IANA timezone known to this system."""


class LocalDay(NamedTuple):
    """One calendar day in the guild's timezone and the UTC interval it covers."""

    date: date
    utc_start: datetime
    utc_end: datetime


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open UTC interval ``[start, end)`` and the timezone its days and weeks are counted in."""

    label: str
    start: datetime
    end: datetime
    tz: ZoneInfo

    @property
    def seconds(self) -> float:
        """Length of the period in seconds."""
        return (self.end - self.start).total_seconds()

    def days(self) -> list[LocalDay]:
        """The local calendar days the period touches, oldest first."""
        return local_days(self.start, self.end, self.tz)

    def contains(self, moment: datetime) -> bool:
        """Whether an aware datetime lies in the period."""
        return self.start <= moment < self.end


def parse_timezone(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` for an IANA name such as ``Europe/Berlin``, or ``InvalidTimezone``."""
    cleaned = name.strip()
    # ZoneInfo also accepts file-system-like keys; only plain IANA names are wanted.
    if not cleaned or cleaned.startswith(("/", ".")) or ".." in cleaned:
        raise InvalidTimezone("That is not a timezone name; use an IANA name such as Europe/Berlin.")
    try:
        return ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidTimezone("Unknown timezone; use an IANA name such as Europe/Berlin.") from None


def parse_period(value: str, now: datetime, tz: ZoneInfo, earliest: datetime | None = None) -> Period:
    """The UTC interval a ``period`` option value stands for at ``now`` in the guild's timezone.

    ``earliest`` is the first recorded time, used by ``all``; without it (nothing
    recorded) ``all`` is the empty period ``[now, now)``. Raises ``InvalidPeriod``.
    """
    end = _as_utc(now, "now")
    key = value.strip().lower()
    if key == "24h":
        return Period("24h", end - timedelta(hours=24), end, tz)
    if key in _PERIOD_DAYS:
        today = end.astimezone(tz).date()
        first = today - timedelta(days=_PERIOD_DAYS[key] - 1)
        return Period(key, local_midnight(first, tz), end, tz)
    if key == "all":
        start = end if earliest is None else min(_as_utc(earliest, "earliest"), end)
        return Period("all", start, end, tz)
    raise InvalidPeriod("The period must be one of 24h, 7d, 30d, 90d, 365d or all.")


def parse_iso_week(value: str, tz: ZoneInfo) -> Period:
    """The UTC interval of an ISO week such as ``2026-W47``: Monday 00:00 to the next Monday 00:00, local time.

    Raises ``InvalidWeek`` for malformed text and for week numbers the year does not
    have (``2027-W53``).
    """
    text = value.strip()
    match = _ISO_WEEK.fullmatch(text)
    if match is None:
        raise InvalidWeek("The week must look like 2026-W47 (ISO year, W, week number).")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError:
        raise InvalidWeek(f"Week {week} does not exist in {year}; ISO weeks run from 1 to 52 or 53.") from None
    return Period(f"{year:04d}-W{week:02d}", local_midnight(monday, tz), local_midnight(monday + timedelta(7), tz), tz)


def iso_week_label(moment: datetime, tz: ZoneInfo) -> str:
    """The ISO week (``2026-W47``) that a moment falls in, in the guild's timezone."""
    year, week, _ = _as_utc(moment, "moment").astimezone(tz).date().isocalendar()
    return f"{year:04d}-W{week:02d}"


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
    start_utc, end_utc = _as_utc(start, "start"), _as_utc(end, "end")
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


def _as_utc(moment: datetime, name: str) -> datetime:
    """The same instant in UTC; naive datetimes are a programming error."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return moment.astimezone(UTC)
