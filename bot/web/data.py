"""The figures behind each dashboard page, as plain JSON-ready dicts.

Built from the same repositories as the slash commands (``db.reports.Reports`` for
/stats, ``db.mentor.MentorData`` and the mentor card's model for /mentor, ``db.export``
for /export), so a page and its command show the same numbers; what no command asks
for (voice sub-states of every member, joins and leaves, invite retention) is in
``db.dashboard``. Opted-out members are left out by every query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from bot.analytics import RiskLevel, activity_points
from bot.analytics.activity import percentile_scores
from bot.analytics.periods import PERIOD_CHOICES, Period, parse_period, parse_timezone
from bot.reports.builders import activity_series, fallback_name, heatmap, hourly_series, read_span, series_span
from bot.reports.mentor import assess, build_card, build_watchlist, card_figures, risk_window
from bot.web.events import EventsPage, UnknownOccurrence
from bot.web.kept import KeptByVersion
from db import dashboard as repo
from db.days import active_days_mask, local_midnight
from db.guilds import get_settings
from db.mentor import ActiveDays, MentorData
from db.names import names_of
from db.privacy import opted_out_ids
from db.reports import Reports, Totals, split_period

TOP: Final = 10
RETENTION_DAYS: Final = (1, 7, 30)
WEEKLY_AFTER: Final = timedelta(days=91)


class NotFound(Exception):
    """The page's subject is not there (unknown period, a member never seen); the message says so."""


@dataclass(frozen=True, slots=True)
class Names:
    """Members' last seen names, and who left; opted-out members are absent."""

    names: dict[int, tuple[str, bool]]

    def of(self, user_id: int) -> str:
        """The last name seen, marked when the member left."""
        found = self.names.get(user_id)
        if found is None:
            return fallback_name(user_id)
        name, present = found
        return name if present else f"{name} (left)"


@dataclass(frozen=True, slots=True)
class NameTable:
    """Every stored name of a guild (opted-out members included), arranged once for the members table:
    ids ascending, the names as shown (marked when the member left), the ids as text, and each
    member's place in the case-insensitive alphabetical order of the shown names (ties by id)."""

    ids: npt.NDArray[np.int64]
    shown: npt.NDArray[np.object_]
    id_text: npt.NDArray[np.object_]
    alphabetical: npt.NDArray[np.int64]

    @classmethod
    def of(cls, names: dict[int, tuple[str, bool]]) -> NameTable:
        """From ``{user_id: (name, present)}``."""
        ordered = sorted(names)
        shown = Names(names)
        texts = [shown.of(u) for u in ordered]
        by_name = sorted(range(len(texts)), key=lambda i: texts[i].lower())  # stable: ties stay by id
        rank = np.empty(len(texts), dtype=np.int64)
        rank[by_name] = np.arange(len(texts), dtype=np.int64)
        return cls(np.array(ordered, dtype=np.int64), _strings(texts), _strings([str(u) for u in ordered]), rank)

    @property
    def nbytes(self) -> int:
        """Roughly the memory held (what keeping it weighs)."""
        return int(self.ids.nbytes + self.alphabetical.nbytes) + 64 * len(self.shown)


def _strings(values: list[str]) -> npt.NDArray[np.object_]:
    """Strings as an object array (taken by index arrays without a Python loop)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


class PageData:
    """Reads for one dashboard process: the report repository and the mentor reads on its engine."""

    def __init__(self, reports: Reports, clock: Any) -> None:
        self.reports = reports
        self.engine = reports.engine
        self.clock = clock
        self.mentor = MentorData(reports.engine, reports.snapshots, reports.days)
        self.event_reads = EventsPage(reports)
        # Every stored name of a guild, opted-out members included (taken out per request).
        self._names: KeptByVersion[NameTable] = KeptByVersion()

    def now(self) -> datetime:
        """The dashboard's clock, as an aware UTC time."""
        return datetime.fromtimestamp(self.clock(), UTC)

    async def period(self, guild_id: int, value: str) -> Period:
        """The period option in the guild's timezone, as /stats reads it."""
        if value not in PERIOD_CHOICES:
            raise NotFound("The period must be one of 24h, 7d, 30d, 90d, 365d or all.")
        settings = await get_settings(self.engine, guild_id)
        tz = parse_timezone(settings.timezone)
        earliest = await self.reports.earliest(guild_id) if value == "all" else None
        return parse_period(value, self.now(), tz, earliest)

    async def names(self, guild_id: int, user_ids: Sequence[int]) -> Names:
        """Names for these ids; opted-out members left out."""
        return Names(await repo.member_names(self.engine, guild_id, user_ids))

    async def name_table(self, guild_id: int) -> tuple[NameTable, frozenset[int]]:
        """The guild's whole name list and the members opted out now (to leave out of it).

        The list is kept while its ``names_version`` stands, so a large guild's names are not
        read (nor sorted) on every request; the opt-outs are read each time.
        """
        version, hidden = await asyncio.gather(repo.names_version(self.engine, guild_id), self._hidden(guild_id))
        table = await self._names.get(guild_id, version, lambda: self._name_table(guild_id))
        return table, hidden

    async def _name_table(self, guild_id: int) -> NameTable:
        return NameTable.of(await repo.member_names(self.engine, guild_id, with_opted_out=True))

    async def _hidden(self, guild_id: int) -> frozenset[int]:
        async with self.engine.connect() as conn:
            return await opted_out_ids(conn, guild_id)

    async def channels(self, guild_id: int) -> list[dict[str, Any]]:
        """The guild's known text and voice channels, for the channel filter."""
        info = await self.reports.channel_info(guild_id)
        return sorted(
            ({"id": str(c.channel_id), "name": c.name} for c in info.values() if c.parent_id is None),
            key=lambda c: c["name"].lower(),
        )

    # -- overview ----------------------------------------------------------------------------------

    async def overview(self, guild_id: int, period_value: str, channel_id: int | None) -> dict[str, Any]:
        """Totals and their change, activity over time, growth, the hour-of-week heatmap, top channels and members."""
        period = await self.period(guild_id, period_value)
        channels = None if channel_id is None else await self.reports.channel_family(guild_id, channel_id)
        span = read_span(period)
        hourly = hourly_series(period)

        async def none() -> None:
            return None

        # Independent reads at once, each on a connection of its own.
        points, prev, hours, (joins, leaves), top_members, top_channels = await asyncio.gather(
            self.reports.series(guild_id, series_span(period), channels),
            none() if period.label == "all" else self._totals(guild_id, previous_period(period), channels),
            none()
            if hourly
            else self.reports.series(guild_id, split_period(period.start, period.end, False), channels),
            repo.joins_leaves(self.engine, guild_id, period.start, period.end),
            self.reports.top_members(guild_id, span, "messages", TOP, channels),
            none() if channels is not None else self.reports.top_channels(guild_id, span, TOP),
        )
        top_channels = top_channels or []
        totals, info, names = await asyncio.gather(
            self.reports.totals_from(guild_id, span, points, channels),
            self.reports.channel_info(guild_id, [c for c, _ in top_channels]),
            self.names(guild_id, [u for u, _ in top_members]),
        )
        series = activity_series(points, period)
        x, messages, voice, step = _bucketed(
            series.start, series.step_hours, series.messages, series.voice_minutes, period
        )
        previous = (
            None
            if prev is None
            else {
                "messages": prev.messages,
                "voice_minutes": round(prev.voice_minutes),
                "active_members": prev.active_members,
            }
        )
        heat = heatmap([(p.ts, p.messages) for p in (points if hours is None else hours)], period)
        edges = [datetime.fromisoformat(v) for v in x] + [period.end]
        return {
            "period": _period_json(period),
            "bucket": step,
            "totals": {
                "messages": totals.messages,
                "voice_minutes": round(totals.voice_minutes),
                "active_members": totals.active_members,
                "joins": len(joins),
                "leaves": len(leaves),
            },
            "previous": previous,
            "series": {"x": x, "messages": messages, "voice_minutes": voice},
            "growth": {"x": x, "joins": _count_into(joins, edges), "leaves": _count_into(leaves, edges)},
            "heatmap": heat.tolist(),
            "top_members": [{"id": str(u), "name": names.of(u), "value": v} for u, v in top_members],
            "top_channels": [
                {"id": str(c), "name": info[c].name if c in info else f"channel {c}", "value": v}
                for c, v in top_channels
            ],
        }

    async def _totals(self, guild_id: int, period: Period, channels: Sequence[int] | None) -> Totals:
        """A period's totals as /stats server reads them: from its series and the members' totals (snapshots)."""
        points = await self.reports.series(guild_id, series_span(period), channels)
        return await self.reports.totals_from(guild_id, read_span(period), points, channels)

    # -- members -----------------------------------------------------------------------------------

    async def members(self, guild_id: int, period_value: str) -> dict[str, Any]:
        """Every shown member: messages, voice by sub-state, active days, last active day, engagement, risk."""
        period = await self.period(guild_id, period_value)
        span = read_span(period)
        window = risk_window(period)
        recent = window.period_days
        # The watchlist's active days (kept as a snapshot), not the card's day matrices: the table needs
        # only each member's totals, and engagement is a percentile of those (bot.analytics.activity).
        messages, voice, data, joins, (names, hidden) = await asyncio.gather(
            self.reports.member_totals(guild_id, span, "messages"),
            repo.member_voice_states(self.engine, guild_id, span, self.reports.snapshots),
            self.mentor.active_days(guild_id, window.start, period.end, period.tz),
            self.mentor.membership(guild_id),
            self.name_table(guild_id),
        )
        mask = data.active
        risk = assess(data, joins.first_joined, period)
        msg_ids, msg_counts = messages.ids, messages.values
        window_ids = data.member_ids.astype(np.int64)
        total_s = voice.seconds[:, list(repo.VOICE_TOTAL_COLUMNS)].sum(axis=1)
        # Engagement: the percentile of the period's activity points among members active in it.
        active_col = repo.VOICE_STATES.index("active_s")
        window_voice = Aligned(voice.ids, window_ids).take(voice.seconds[:, active_col])
        points = activity_points(Aligned(msg_ids, window_ids).take(msg_counts), window_voice)
        recent_mask = mask[:, -recent:]
        scores = np.rint(percentile_scores(points, recent_mask.any(axis=1))).astype(np.int64)
        active_days = recent_mask.sum(axis=1)
        last_index = np.where(mask.any(axis=1), mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1), -1)
        # Shown: members with a message, voice time or an active day in the period, whom the bot saw
        # (opted-out members are not among the names).
        candidates = np.unique(
            np.concatenate((msg_ids[msg_counts > 0], voice.ids[np.rint(total_s / 60) > 0], window_ids[active_days > 0]))
        )
        named = names.ids[~np.isin(names.ids, np.fromiter(hidden, dtype=np.int64, count=len(hidden)))]
        shown = candidates[np.isin(candidates, named, assume_unique=True)]
        # The table's order: most messages first, then by name.
        messages_shown = Aligned(msg_ids, shown).take(msg_counts)
        row_of = np.searchsorted(names.ids, shown)  # every shown member has a name
        order = np.lexsort((names.alphabetical[row_of], -messages_shown))
        shown, rows_shown = shown[order], row_of[order]
        by_voice, by_window = Aligned(voice.ids, shown), Aligned(window_ids, shown)
        minutes = np.rint(by_voice.take(voice.seconds) / 60).astype(np.int64)
        # One array per column (numbers stay numpy arrays, which orjson writes without a Python object
        # per value): a large guild's table is tens of thousands of rows.
        columns: dict[str, Any] = {
            "id": names.id_text[rows_shown].tolist(),
            "name": names.shown[rows_shown].tolist(),
            "messages": messages_shown[order],
            "voice_minutes": np.rint(by_voice.take(total_s) / 60).astype(np.int64),
        }
        for k, state in enumerate(repo.VOICE_STATES):
            columns[state.removesuffix("_s") + "_minutes"] = np.ascontiguousarray(minutes[:, k])
        columns["active_days"] = by_window.take(active_days).astype(np.int64)
        days = [(data.first_day + timedelta(days=i)).isoformat() for i in range(mask.shape[1])]
        day_text = np.array([*days, None], dtype=object)  # -1: the last, none
        columns["last_active"] = day_text[by_window.take(last_index, missing=-1)].tolist()
        columns["engagement"] = by_window.take(scores).astype(np.int64)
        words = np.array([RiskLevel(n).word for n in range(len(RiskLevel))], dtype=object)
        levels = Aligned(risk.member_ids.astype(np.int64), shown).take(risk.level.astype(np.int64))
        columns["risk"] = words[levels].tolist()
        return {"period": _period_json(period), "keys": list(columns), "columns": columns}

    async def member(self, guild_id: int, user_id: int, period_value: str) -> dict[str, Any]:
        """One member's mentor card figures, heatmap and daily activity."""
        period = await self.period(guild_id, period_value)
        window = risk_window(period)
        # The reads of /mentor card, at once; the server checked the opt-out (names leave them out too).
        names, seen, hours, data, joins = await asyncio.gather(
            self.names(guild_id, [user_id]),
            names_of(self.engine, guild_id, [user_id]),
            self.mentor.member_hours(guild_id, user_id, window.start, period.end),
            self.mentor.guild_days(guild_id, window.start, period.end, period.tz),
            self.mentor.membership(guild_id),
        )
        if user_id not in names.names:
            raise NotFound("There is nothing to show for this member.")
        active = ActiveDays(data.first_day, data.member_ids, active_days_mask(data.messages, data.active_s))
        tracked = seen.get(user_id)
        model = build_card(
            guild_name="",
            display_name=names.of(user_id),
            user_id=user_id,
            period=period,
            data=data,
            hours=hours,
            period_days=window.period_days,
            risk=assess(active, joins.first_joined, period),
            # As /mentor card: the first join recorded, else when the gateway said the member joined.
            joined=joins.first_joined.get(user_id) or (tracked.joined_at if tracked is not None else None),
        )
        first = data.first_day + timedelta(days=data.days - window.period_days)
        return {
            "period": _period_json(period),
            "id": str(user_id),
            "name": model.display_name,
            "figures": {k: v for k, v in card_figures(model).items()},
            "risk_reason": model.risk_reason,
            "heatmap": np.asarray(model.heatmap).tolist(),
            "daily": {
                "x": [(first + timedelta(days=i)).isoformat() for i in range(len(model.daily_activity))],
                "activity": [float(v) for v in model.daily_activity],
            },
        }

    # -- events ----------------------------------------------------------------------------------------

    async def events(self, guild_id: int, period_value: str, names_shown: bool) -> dict[str, Any]:
        """The Events page: occurrences, attendance by week, never present, weekly summaries."""
        period = await self.period(guild_id, period_value)
        return {
            "period": _period_json(period),
            **await self.event_reads.page(guild_id, period, self.now(), names_shown),
        }

    async def occurrence(self, guild_id: int, key: str) -> dict[str, Any]:
        """One occurrence's minute grid."""
        settings = await get_settings(self.engine, guild_id)
        try:
            return await self.event_reads.occurrence(guild_id, key, parse_timezone(settings.timezone), self.now())
        except UnknownOccurrence as exc:
            raise NotFound(str(exc)) from None

    # -- watchlist, invites --------------------------------------------------------------------------

    async def watchlist(self, guild_id: int, period_value: str) -> dict[str, Any]:
        """Members at medium or high risk with the reason, as /mentor watchlist lists them."""
        period = await self.period(guild_id, period_value)
        entries = await build_watchlist(self.mentor, guild_id, period)
        names = await self.names(guild_id, [e.member_id for e in entries])
        return {
            "period": _period_json(period),
            "members": [
                {"id": str(e.member_id), "name": names.of(e.member_id), "risk": e.level.word, "reason": e.reason}
                for e in entries
                if e.member_id in names.names
            ],
        }

    async def invites(self, guild_id: int, period_value: str) -> dict[str, Any]:
        """Inviters: invites, joins, who stayed, and how many joiners were still active after 1, 7 and 30 days."""
        period = await self.period(guild_id, period_value)
        figures, joins = await asyncio.gather(
            self.reports.invites(guild_id, read_span(period)),
            repo.invited_joins(self.engine, guild_id, period.start, period.end),
        )
        now = self.now()
        names, retention = await asyncio.gather(
            self.names(guild_id, [f.inviter_id for f in figures.inviters]),
            asyncio.gather(*(repo.active_after(self.engine, guild_id, joins, d, now) for d in RETENTION_DAYS)),
        )
        after = dict(zip(RETENTION_DAYS, retention, strict=True))
        rows = []
        for f in figures.inviters:
            theirs = [j for j in joins if j.inviter_id == f.inviter_id]
            retained: dict[str, int | None] = {}
            for d in RETENTION_DAYS:
                due = [j for j in theirs if j.joined_at + timedelta(days=d) <= now]
                retained[f"active_after_{d}d"] = sum(1 for j in due if j.user_id in after[d]) if due else None
            rows.append(
                {
                    "id": str(f.inviter_id),
                    "name": names.of(f.inviter_id),
                    "invites": f.invites,
                    "joins": f.joins,
                    "stayed": f.stayed,
                    **retained,
                }
            )
        return {
            "period": _period_json(period),
            "inviters": rows,
            "vanity_joins": figures.vanity_joins,
            "unknown_joins": figures.unknown_joins,
        }


def previous_period(period: Period) -> Period:
    """The period before: the 24 hours before ``24h``, else as many whole local days before the first day."""
    if period.label == "24h":
        return Period(period.label, period.start - timedelta(hours=24), period.start, period.tz)
    days = period.days()
    first = local_midnight(days[0].date - timedelta(days=len(days)), period.tz)
    return Period(period.label, first, period.start, period.tz)


def _period_json(period: Period) -> dict[str, str]:
    return {
        "label": period.label,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "timezone": period.tz.key,
    }


def _bucketed(
    start: datetime, step_hours: int, messages: np.ndarray[Any, Any], voice: np.ndarray[Any, Any], period: Period
) -> tuple[list[str], list[float], list[float], str]:
    """The series' x values and sums by hour, day, or week (periods beyond 91 days)."""
    tz = period.tz
    if step_hours == 1:
        xs = [(start + timedelta(hours=i)).astimezone(tz).isoformat() for i in range(messages.size)]
        return xs, messages.tolist(), np.round(voice, 1).tolist(), "hour"
    days = period.days()
    if period.end - period.start <= WEEKLY_AFTER:
        xs = [d.utc_start.astimezone(tz).isoformat() for d in days]
        return xs, messages.tolist(), np.round(voice, 1).tolist(), "day"
    weeks = -(-messages.size // 7)
    m = np.zeros(weeks)
    v = np.zeros(weeks)
    np.add.at(m, np.arange(messages.size) // 7, messages)
    np.add.at(v, np.arange(voice.size) // 7, voice)
    xs = [days[i * 7].utc_start.astimezone(tz).isoformat() for i in range(weeks)]
    return xs, m.tolist(), np.round(v, 1).tolist(), "week"


class Aligned:
    """Where each of ``wanted`` stands among the unique ``ids``, found once, to take any values kept per id."""

    def __init__(self, ids: npt.NDArray[np.int64], wanted: npt.NDArray[np.int64]) -> None:
        if ids.size and wanted.size:
            if bool((ids[1:] > ids[:-1]).all()):  # sorted already (the repositories' ids mostly are)
                at = np.minimum(np.searchsorted(ids, wanted), ids.size - 1)
            else:
                order = np.argsort(ids, kind="stable")
                at = order[np.minimum(np.searchsorted(ids[order], wanted), ids.size - 1)]
            self.found = ids[at] == wanted
            self.at = at[self.found]
        else:
            self.found = np.zeros(wanted.size, dtype=bool)
            self.at = np.zeros(0, dtype=np.int64)

    def take(self, values: np.ndarray[Any, Any], missing: int = 0) -> np.ndarray[Any, Any]:
        """``values`` (rows aligned with ``ids``) for each of ``wanted``; ``missing`` where an id is absent."""
        out = np.full((self.found.size, *values.shape[1:]), missing, dtype=values.dtype if values.size else np.int64)
        out[self.found] = values[self.at]
        return out


def _count_into(moments: Sequence[datetime], edges: Sequence[datetime]) -> list[int]:
    """How many moments fall in each ``[edges[i], edges[i+1])``."""
    stamps = np.array([e.timestamp() for e in edges])
    counts = np.zeros(max(len(edges) - 1, 0), dtype=np.int64)
    for moment in moments:
        i = int(np.searchsorted(stamps, moment.timestamp(), side="right")) - 1
        if 0 <= i < counts.size:
            counts[i] += 1
    return counts.tolist()
