"""When scheduled posts are due: event occurrences and weekly summaries, in the guild's timezone.

Pure functions of the configuration and a time window. An event starts at its local
``HH:MM`` on each weekday of its bitmask (bit 0 = Monday); it lasts ``minutes`` of
real time, so an event may cross midnight (it belongs to the day it starts) and one
spanning a DST change is an hour shorter or longer on the wall clock. A start that
falls in a DST gap moves forward by the gap (02:30 on the spring-forward night in
Berlin is 03:30 CEST); an ambiguous one is its first occurrence.

The weekly summary is due at the local weekday and time of the settings and covers
the last whole ISO week before the week it is due in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from bot.analytics.periods import AnalyticsError, Period, parse_iso_week
from db.days import local_midnight

# Reports missed while the bot was down are posted when it returns, up to this far back.
CATCH_UP: Final = timedelta(days=7)
ALL_DAYS: Final = 0b1111111
_HHMM: Final = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


class InvalidTime(AnalyticsError):
    """A time of day that is not ``HH:MM`` (24-hour clock)."""


def parse_hhmm(value: str) -> time:
    """``HH:MM`` as a ``time``, or ``InvalidTime``."""
    match = _HHMM.fullmatch(value.strip())
    if match is None:
        raise InvalidTime("The time must look like 07:00 (24-hour HH:MM).")
    return time(int(match.group(1)), int(match.group(2)))


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The aware UTC instant of local ``day`` at ``at``: gaps move forward, ambiguous times take the first."""
    # fold=0 reads a wall time in a gap with the offset before the change, which lands
    # after the gap: the wall time moves forward by the gap's length.
    return datetime.combine(day, at, tzinfo=tz).replace(fold=0).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class EventPlan:
    """A configured event as the scheduler needs it."""

    id: int
    start_time: str  # 'HH:MM', guild-local
    minutes: int
    days: int  # bit 0 = Monday … bit 6 = Sunday


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One occurrence of an event: its UTC interval and its local start."""

    event_id: int
    start: datetime  # aware UTC
    end: datetime
    local_start: datetime
    minutes: int

    @property
    def key(self) -> str:
        """The posted_reports key: local start with its offset and the event id, ``2026-11-22T07:00+01:00#3``."""
        return f"{self.local_start.isoformat(timespec='minutes')}#{self.event_id}"


def occurrence_on(event: EventPlan, day: date, tz: ZoneInfo) -> Occurrence | None:
    """The event's occurrence starting on local ``day``, if it runs on that weekday."""
    if not event.days >> day.weekday() & 1 or event.minutes <= 0:
        return None
    start = local_instant(day, parse_hhmm(event.start_time), tz)
    return Occurrence(event.id, start, start + timedelta(minutes=event.minutes), start.astimezone(tz), event.minutes)


def occurrences(event: EventPlan, since: datetime, until: datetime, tz: ZoneInfo) -> list[Occurrence]:
    """Occurrences that end in ``(since, until]``, oldest first."""
    first = since.astimezone(tz).date() - timedelta(days=1 + event.minutes // 1440)
    last = until.astimezone(tz).date()
    out: list[Occurrence] = []
    day = first
    while day <= last:
        occ = occurrence_on(event, day, tz)
        if occ is not None and since < occ.end <= until:
            out.append(occ)
        day += timedelta(days=1)
    return out


def next_end(events: list[EventPlan], after: datetime, tz: ZoneInfo) -> datetime | None:
    """The first end of any occurrence strictly after ``after`` (within the next 8 days)."""
    ends = [o.end for e in events for o in occurrences(e, after, after + timedelta(days=8), tz)]
    return min(ends, default=None)


def latest_occurrence(
    events: list[EventPlan], before: datetime, tz: ZoneInfo, day: date | None = None, start: time | None = None
) -> Occurrence | None:
    """The latest occurrence ended by ``before`` (on local ``day``, starting at local ``start`` when given)."""
    found: list[Occurrence] = []
    if day is not None:
        for event in events:
            occ = occurrence_on(event, day, tz)
            if occ is not None and occ.end <= before:
                found.append(occ)
    else:
        for event in events:
            found.extend(occurrences(event, before - timedelta(days=8), before, tz))
    if start is not None:
        found = [o for o in found if o.local_start.time() == start]
    return max(found, key=lambda o: (o.end, o.event_id), default=None)


@dataclass(frozen=True, slots=True)
class WeeklyDue:
    """One weekly summary: when it is due and the ISO week it covers."""

    due: datetime  # aware UTC
    week: Period

    @property
    def key(self) -> str:
        """The posted_reports key: the ISO week, ``2026-W47``."""
        return self.week.label


def week_before(moment: datetime, tz: ZoneInfo) -> Period:
    """The last whole ISO week before the local week that ``moment`` falls in."""
    local = moment.astimezone(tz).date()
    monday = local - timedelta(days=local.weekday() + 7)
    year, week, _ = monday.isocalendar()
    return parse_iso_week(f"{year:04d}-W{week:02d}", tz)


def previous_week(week: Period) -> Period:
    """The ISO week before ``week``."""
    return week_before(week.start, week.tz)


def weekly_due(weekday: int, at: str, tz: ZoneInfo, monday: date) -> WeeklyDue:
    """The weekly summary due in the local week starting ``monday``."""
    due = local_instant(monday + timedelta(days=weekday % 7), parse_hhmm(at), tz)
    return WeeklyDue(due, week_before(local_midnight(monday, tz), tz))


def weekly_dues(weekday: int, at: str, tz: ZoneInfo, since: datetime, until: datetime) -> list[WeeklyDue]:
    """Weekly summaries due in ``(since, until]``, oldest first."""
    day = since.astimezone(tz).date()
    monday = day - timedelta(days=day.weekday() + 7)
    out: list[WeeklyDue] = []
    while monday <= until.astimezone(tz).date():
        due = weekly_due(weekday, at, tz, monday)
        if since < due.due <= until:
            out.append(due)
        monday += timedelta(days=7)
    return out


def next_weekly(weekday: int, at: str, tz: ZoneInfo, after: datetime) -> datetime:
    """The first weekly due time strictly after ``after``."""
    dues = weekly_dues(weekday, at, tz, after, after + timedelta(days=15))
    return dues[0].due
