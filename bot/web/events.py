"""The Events page's figures: every occurrence with its minute grid, attendance over the weeks,
the members never present, and the weekly summaries of past weeks.

Judged as the bot judges them, with its own code: an occurrence counts only when its event
was configured at the time it started (``db.events.event_versions`` and ``in_force``, as the
weekly summary), a minute counts for a member present at least 30 seconds of it
(``bot.analytics.attendance.presence``), the event's channels are chosen by
``bot.posts.attendance.choose_channels``, and "never present" by ``member_during``. The web
process has no gateway: channels come from the stored ``channels`` table and members from
the name tracker's ``member_names`` (join and leave times), instead of a live guild.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.analytics.attendance import presence
from bot.analytics.periods import Period
from bot.posts.attendance import choose_channels, event_title, members_during, plans, stored_kind_is_voice
from bot.posts.schedule import Occurrence, occurrences, previous_week, week_before
from bot.reports.builders import fallback_name
from bot.web.kept import KeptByVersion
from db import dashboard as repo
from db.events import EventConfig, event_versions
from db.names import MemberName, names_of
from db.privacy import opted_out_ids
from db.reports import Reports, Totals, split_period
from db.voice import Interval, sessions_between, sessions_version

# The weekly summaries shown at most (a quarter), newest first.
MAX_WEEKS: Final = 13
# Names listed at most per "never present" list and attendance ranking; the counts are exact.
MAX_NAMES: Final = 500


class UnknownOccurrence(Exception):
    """No such occurrence (malformed key, an event not configured then, or not over yet)."""


@dataclass(frozen=True, slots=True)
class Held:
    """One occurrence that took place, with the event as it was configured then and its channels."""

    event: EventConfig
    occ: Occurrence
    channels: dict[int, str]


@dataclass(frozen=True, slots=True)
class Attended:
    """An occurrence's presence flags per member (one per minute)."""

    held: Held
    flags: dict[int, npt.NDArray[np.bool_]]
    minutes: dict[int, int]  # minutes present per member


def _attended(held: Held, flags: dict[int, npt.NDArray[np.bool_]]) -> Attended:
    return Attended(held, flags, {u: int(f.sum()) for u, f in flags.items()})


async def held_between(
    engine: AsyncEngine, guild_id: int, start: datetime, end: datetime, now: datetime, tz: ZoneInfo
) -> list[Held]:
    """The occurrences starting in ``[start, end)`` that ended by ``now``, each of an event in force when it
    started; oldest first."""
    versions, stored = await asyncio.gather(
        event_versions(engine, guild_id, start, end), repo.stored_channels(engine, guild_id)
    )
    known = [(i, n, stored_kind_is_voice(k)) for i, n, k in stored]
    found: dict[str, Held] = {}
    for version in versions:
        [plan] = plans([version.event])
        for occ in occurrences(plan, start, min(now, end + timedelta(minutes=plan.minutes)), tz):
            if start <= occ.start < end and occ.end <= now and version.in_force(occ.start):
                found.setdefault(occ.key, Held(version.event, occ, choose_channels(version.event, known)))
    return sorted(found.values(), key=lambda h: (h.occ.start, h.occ.event_id))


def _around(held: Sequence[Held]) -> tuple[datetime, datetime]:
    """From the first occurrence's start to the last one's end."""
    return min(h.occ.start for h in held), max(h.occ.end for h in held)


async def attend(engine: AsyncEngine, guild_id: int, held: Sequence[Held]) -> list[Attended]:
    """Who was present in each minute of each occurrence, from one read of the voice sessions around them."""
    if not held:
        return []
    sessions = await sessions_between(engine, guild_id, *_around(held))
    starts = np.fromiter((iv.start for iv in sessions), dtype=np.int64, count=len(sessions))
    ends = np.fromiter((iv.end for iv in sessions), dtype=np.int64, count=len(sessions))
    return [_attended(h, _flags(sessions, starts, ends, h)) for h in held]


def _flags(
    sessions: Sequence[Interval], starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64], held: Held
) -> dict[int, npt.NDArray[np.bool_]]:
    """The occurrence's presence, from the sessions overlapping it (a period holds many occurrences)."""
    if not held.channels:
        return {}
    start = int(held.occ.start.timestamp())
    end = int(held.occ.end.timestamp())
    overlapping = [sessions[i] for i in np.flatnonzero((starts < end) & (ends > start)).tolist()]
    return presence(overlapping, start, held.occ.minutes, held.channels.keys())


def never_present(
    members: repo.Memberships, held: Sequence[Occurrence], minutes: dict[int, int]
) -> npt.NDArray[np.intp]:
    """Rows of ``members`` who were members during at least one of ``held`` and present at none of them."""
    if not held:
        return np.zeros(0, dtype=np.intp)
    present = np.fromiter((u for u, m in minutes.items() if m > 0), dtype=np.int64)
    during = members_during(members.joined, members.left, held)
    return np.flatnonzero(during & ~np.isin(members.ids, present))


def past_weeks(period: Period, now: datetime) -> list[Period]:
    """The whole ISO weeks (guild timezone) ended by ``now`` that overlap the period, newest first."""
    weeks: list[Period] = []
    week = week_before(now, period.tz)  # the week before the local week ``now`` is in: the last whole one
    while week.end > period.start and len(weeks) < MAX_WEEKS:
        weeks.append(week)
        week = previous_week(week)
    return weeks


def parse_key(key: str) -> tuple[datetime, int]:
    """An occurrence key ``2026-11-22T07:00+01:00#3``: its local start and the event id."""
    when, sep, event = key.partition("#")
    try:
        start = datetime.fromisoformat(when)
        event_id = int(event)
    except ValueError:
        raise UnknownOccurrence("Unknown event occurrence.") from None
    if not sep or start.tzinfo is None:
        raise UnknownOccurrence("Unknown event occurrence.")
    return start, event_id


class EventsPage:
    """The Events page's reads, on the dashboard's read engine and report repository."""

    def __init__(self, reports: Reports) -> None:
        self.reports = reports
        self.engine = reports.engine
        self._members: KeptByVersion[repo.Memberships] = KeptByVersion()
        # The page's attendance: every occurrence of a quarter, from thousands of sessions, kept while
        # the occurrences and the sessions around them (``sessions_version``) are the same.
        self._attended: KeptByVersion[list[Attended]] = KeptByVersion()

    async def page(self, guild_id: int, period: Period, now: datetime, names_shown: bool) -> dict[str, Any]:
        """Occurrences of the period (newest first), attendance by week, never present, weekly summaries.

        ``names_shown`` is False for a plain member: the counts only, no member named.
        """
        weeks = past_weeks(period, now)
        first = min([period.start, *(w.start for w in weeks)])
        held, members = await asyncio.gather(
            held_between(self.engine, guild_id, first, period.end, now, period.tz), self._memberships(guild_id)
        )
        attended, totals = await asyncio.gather(
            self._attend(guild_id, held),
            self._week_totals(guild_id, [*weeks, *([previous_week(weeks[-1])] if weeks else [])]),
        )
        names = dict(zip(members.ids.tolist(), members.names, strict=True))
        in_period = [a for a in attended if period.contains(a.held.occ.start)]
        minutes = _sum_minutes(in_period)
        absent = never_present(members, [a.held.occ for a in in_period], minutes)
        summaries = []
        for i, week in enumerate(weeks):
            of_week = [a for a in attended if week.contains(a.held.occ.start)]
            week_minutes = _sum_minutes(of_week)
            week_absent = never_present(members, [a.held.occ for a in of_week], week_minutes)
            this, before = totals[i], totals[i + 1]
            summaries.append(
                {
                    "week": week.label,
                    "start": week.start.isoformat(),
                    "end": week.end.isoformat(),
                    "events_held": len(of_week),
                    "event_minutes": sum(week_minutes.values()),
                    "members_present": len(week_minutes),
                    "totals": _totals_json(this),
                    "previous": _totals_json(before),
                    "top_attendance": _ranked(week_minutes, names, names_shown),
                    "never_present_count": len(week_absent),
                    "never_present": _names(members, week_absent, names_shown),
                }
            )
        return {
            "occurrences": [_occurrence_json(a) for a in reversed(in_period)],
            "weeks": summaries,
            "attendance": {
                "x": [w["week"] for w in reversed(summaries)],
                "event_minutes": [w["event_minutes"] for w in reversed(summaries)],
                "members_present": [w["members_present"] for w in reversed(summaries)],
                "events_held": [w["events_held"] for w in reversed(summaries)],
            },
            "events_held": len(in_period),
            "member_minutes": sum(minutes.values()),
            "members_present": len(minutes),
            "never_present_count": len(absent) if in_period else None,
            "never_present": _names(members, absent, names_shown) if in_period else None,
            "names_shown": names_shown,
        }

    async def occurrence(self, guild_id: int, key: str, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
        """One occurrence's minute grid: per member present, a flag per minute; and its channels."""
        local, event_id = parse_key(key)
        start = local.astimezone(tz)
        held = [
            h
            for h in await held_between(self.engine, guild_id, start, start + timedelta(minutes=1), now, tz)
            if h.occ.key == key and h.occ.event_id == event_id
        ]
        if not held:
            raise UnknownOccurrence("No event took place at that time.")
        [attended] = await attend(self.engine, guild_id, held)
        people = await names_of(self.engine, guild_id, attended.flags)
        minutes = attended.minutes
        order = sorted(attended.flags, key=lambda u: (-minutes[u], _name_of(people, u).lower(), u))
        rows = [
            {
                "id": str(u),
                "name": _name_of(people, u),
                "minutes": minutes[u],
                # One character a minute: "1" present, "0" not (compact for long events).
                "present": "".join("1" if x else "0" for x in attended.flags[u].tolist()),
            }
            for u in order
        ]
        return {
            **_occurrence_json(attended),
            "channels": sorted(held[0].channels.values(), key=str.lower),
            "attendees": rows,
        }

    async def _attend(self, guild_id: int, held: Sequence[Held]) -> list[Attended]:
        """``attend``, kept while the occurrences (with their channels) and the sessions around them stay."""
        if not held:
            return []
        occurrences = tuple((h.occ.key, tuple(sorted(h.channels))) for h in held)
        version = (occurrences, await sessions_version(self.engine, guild_id, *_around(held)))
        return await self._attended.get(guild_id, version, lambda: attend(self.engine, guild_id, held))

    async def _memberships(self, guild_id: int) -> repo.Memberships:
        """The guild's members as the name tracker saw them (kept while unchanged), opted-out members left out."""
        version, hidden = await asyncio.gather(
            repo.names_version(self.engine, guild_id), opted_out_ids(self.engine, guild_id)
        )
        everyone = await self._members.get(guild_id, version, lambda: repo.memberships(self.engine, guild_id))
        return everyone.without(hidden)

    async def _week_totals(self, guild_id: int, weeks: Sequence[Period]) -> list[Totals]:
        """Each week's totals, equal to the weekly summary's (which reads the week's hourly rows): its series
        and active members as /stats server reads them, whole UTC days from the rollups (exact sums of
        those rows) and kept as report snapshots, so that past weeks are not read again."""

        async def one(week: Period) -> Totals:
            span = split_period(week.start, week.end, rollups=True)
            return await self.reports.totals_from(guild_id, span, await self.reports.series(guild_id, span))

        return list(await asyncio.gather(*(one(w) for w in weeks)))


def _sum_minutes(attended: Sequence[Attended]) -> dict[int, int]:
    out: dict[int, int] = {}
    for a in attended:
        for u, m in a.minutes.items():
            out[u] = out.get(u, 0) + m
    return out


def _name_of(names: dict[int, MemberName], user_id: int) -> str:
    """The last name the name tracker saw, marked when the member left."""
    found = names.get(user_id)
    if found is None:
        return fallback_name(user_id)
    return found.name if found.left_at is None else f"{found.name} (left)"


def _names(members: repo.Memberships, rows: npt.NDArray[np.intp], shown: bool) -> list[str] | None:
    """The names of those rows, sorted, at most ``MAX_NAMES`` of them (the count says how many in all)."""
    if not shown:
        return None
    first = rows[np.argsort(members.rank[rows], kind="stable")[:MAX_NAMES]]
    return [members.names[i] for i in first.tolist()]


def _ranked(minutes: dict[int, int], names: dict[int, str], shown: bool) -> list[dict[str, Any]] | None:
    if not shown:
        return None
    """Attendance minutes per member, most first (at most ``MAX_NAMES``)."""
    named = sorted(
        ((names.get(u) or fallback_name(u), u, v) for u, v in minutes.items()), key=lambda r: (-r[2], r[0].lower())
    )
    return [{"id": str(u), "name": name, "value": v} for name, u, v in named[:MAX_NAMES]]


def _totals_json(totals: Totals) -> dict[str, int]:
    return {
        "messages": totals.messages,
        "voice_minutes": round(totals.voice_minutes),
        "active_members": totals.active_members,
    }


def _occurrence_json(attended: Attended) -> dict[str, Any]:
    held = attended.held
    minutes = attended.minutes
    return {
        "key": held.occ.key,
        "event": event_title(held.event),
        "start": held.occ.local_start.isoformat(),
        "minutes": held.occ.minutes,
        "members_present": len(minutes),
        "member_minutes": sum(minutes.values()),
    }
