"""Periods, local calendar days and ISO weeks: turning what a user asked for into UTC intervals.

Every interval is half-open, ``[start, end)``, in aware UTC. Day and week boundaries
are the guild's local midnights (``zoneinfo``), so a local day lasts 23 or 25 hours
when the clocks change, and a day whose midnight falls in a DST gap starts at the
first instant that exists on that date.

The ``period`` option (README → Reference → Commands):

- ``24h``: the last 24 hours up to now;
- ``7d``, ``30d``, ``90d``, ``365d``: the last N calendar days in the guild's
  timezone, today included: from local midnight N-1 days ago up to now;
- ``all``: from the earliest recorded time up to now.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from db.days import LocalDay, as_utc, local_days, local_midnight

HOURS_PER_WEEK: Final = 168

PERIOD_CHOICES: Final = ("24h", "7d", "30d", "90d", "365d", "all")
DEFAULT_PERIOD: Final = "7d"
# Days of each calendar-day period.
_PERIOD_DAYS: Final = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}
_ISO_WEEK: Final = re.compile(r"(\d{4})-?W(\d{1,2})", re.IGNORECASE)
# 1970-01-01 was a Thursday: weekday 3 with Monday = 0.


class AnalyticsError(ValueError):
    """A user's input that the analytics cannot work with; the message is meant for the user."""


class InvalidPeriod(AnalyticsError):
    """The ``period`` option is not one of the contract's values."""


class InvalidWeek(AnalyticsError):
    """The ``week`` option is not an existing ISO week such as ``2026-W47``."""


class InvalidTimezone(AnalyticsError):
    """The name is not an IANA timezone known to this system."""


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
    end = as_utc(now, "now")
    key = value.strip().lower()
    if key == "24h":
        return Period("24h", end - timedelta(hours=24), end, tz)
    if key in _PERIOD_DAYS:
        today = end.astimezone(tz).date()
        first = today - timedelta(days=_PERIOD_DAYS[key] - 1)
        return Period(key, local_midnight(first, tz), end, tz)
    if key == "all":
        start = end if earliest is None else min(as_utc(earliest, "earliest"), end)
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
    year, week, _ = as_utc(moment, "moment").astimezone(tz).date().isocalendar()
    return f"{year:04d}-W{week:02d}"
