"""What each report image shows: plain, picklable data with no Discord objects.

Analytics builds these; the renderers only draw them. Times are aware datetimes
already converted to the guild's timezone (labels are printed as given); series and
heatmaps arrive bucketed. Names are display names as they should be printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# The words a header uses for the ``period`` option values; other labels are printed as given.
PERIOD_LABELS = {
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "365d": "Last 365 days",
    "all": "All time",
}


def to_zone(moment: datetime, timezone: str | None) -> datetime:
    """An aware ``moment`` shown in ``timezone`` (an IANA name); naive or zone-less ones are left as they are."""
    if timezone and moment.tzinfo is not None:
        return moment.astimezone(ZoneInfo(timezone))
    return moment


@dataclass(frozen=True, slots=True, eq=False)
class Period:
    """The time span a report covers, as shown in its header."""

    label: str  # an option value ("7d", "all") or words ("Week 2026-W47")
    start: datetime  # inclusive; aware datetimes are shown in ``timezone``
    end: datetime  # exclusive
    timezone: str = "UTC"  # IANA name of the guild's timezone

    def describe(self) -> str:
        """The header line: ``Last 7 days · 16 Nov – 22 Nov 2026 (Europe/Paris)``."""
        start, end = to_zone(self.start, self.timezone), to_zone(self.end, self.timezone)
        label = PERIOD_LABELS.get(self.label, self.label)
        if (end - start) <= timedelta(hours=24):
            dates = f"{start:%d %b %H:%M} – {end:%d %b %Y %H:%M}"
        else:
            last = end - timedelta(microseconds=1)  # the end is exclusive
            first = f"{start:%d %b}" if start.year == last.year else f"{start:%d %b %Y}"
            dates = f"{first} – {last:%d %b %Y}"
        return f"{label} · {dates} ({self.timezone})"


@dataclass(frozen=True, slots=True, eq=False)
class RankedItem:
    """One bar of a ranking: a member, channel or inviter and its value."""

    name: str
    value: float
    id: int = 0
    avatar_png: bytes | None = None


@dataclass(frozen=True, slots=True, eq=False)
class ActivitySeries:
    """Messages and voice minutes per bucket (an hour up to 7 days, a local calendar day beyond)."""

    start: datetime  # start of the first bucket (a local midnight for days)
    step_hours: int  # 1 or 24
    messages: FloatArray
    voice_minutes: FloatArray
    timezone: str | None = None  # IANA name; when set, aware times are labelled in it

    def bucket_starts(self) -> list[datetime]:
        """When each bucket starts, as labelled: hours step in real time, days by local calendar day."""
        count = max(len(self.messages), len(self.voice_minutes))
        if self.step_hours >= 24:
            # Wall-clock arithmetic keeps local midnight across a DST change.
            first = to_zone(self.start, self.timezone)
            return [first + timedelta(days=i * (self.step_hours // 24)) for i in range(count)]
        if self.start.tzinfo is None:
            return [self.start + timedelta(hours=self.step_hours * i) for i in range(count)]
        utc = self.start.astimezone(UTC)
        return [to_zone(utc + timedelta(hours=self.step_hours * i), self.timezone) for i in range(count)]


@dataclass(frozen=True, slots=True, eq=False)
class VoiceBreakdown:
    """Voice minutes by sub-state; ``streaming`` and ``video`` overlap the four buckets."""

    active: float = 0.0
    muted: float = 0.0
    deafened: float = 0.0
    alone: float = 0.0
    streaming: float = 0.0
    video: float = 0.0

    @property
    def total(self) -> float:
        """Minutes in voice (the four exclusive buckets)."""
        return self.active + self.muted + self.deafened + self.alone


@dataclass(frozen=True, slots=True, eq=False)
class EmojiUse:
    """One emoji (unicode, or ``<:name:id>``) with its uses in messages and as reactions."""

    emoji: str
    message: int
    reaction: int
    image_png: bytes | None = None  # a custom emoji's image, fetched through discord.py (None: drawn by name)

    @property
    def total(self) -> int:
        """All uses."""
        return self.message + self.reaction


@dataclass(frozen=True, slots=True)
class Change:
    """A key figure against the previous period of the same length."""

    name: str  # the metric, as the embed field names it ("Messages")
    value: float
    previous: float

    @property
    def pct(self) -> float | None:
        """The change in percent, None when there was nothing to compare with."""
        return None if self.previous == 0 else (self.value - self.previous) / self.previous * 100.0


@dataclass(frozen=True, slots=True)
class MemberGrowth:
    """Members who joined and left the guild in the period."""

    joins: int
    leaves: int

    @property
    def net(self) -> int:
        """Joins minus leaves."""
        return self.joins - self.leaves

    @property
    def net_text(self) -> str:
        """The net change signed: ``+5``, ``-2``, ``0``."""
        return f"{self.net:+d}" if self.net else "0"


@dataclass(frozen=True, slots=True, eq=False)
class ServerReport:
    """/stats server."""

    guild_name: str
    period: Period
    messages: int
    voice_minutes: float
    active_members: int
    series: ActivitySeries
    top_channels: tuple[RankedItem, ...] = ()
    top_members: tuple[RankedItem, ...] = ()
    channel_name: str | None = None  # set when the report is narrowed to one channel
    changes: tuple[Change, ...] = ()  # against ``compared_with``
    compared_with: str = ""  # "previous 7 days"
    growth: MemberGrowth | None = None


@dataclass(frozen=True, slots=True, eq=False)
class UserReport:
    """/stats user: the member card."""

    guild_name: str
    period: Period
    user_id: int
    display_name: str
    messages: int
    voice: VoiceBreakdown
    heatmap: FloatArray  # 7×24, rows Mon..Sun, guild timezone
    rank: int | None = None  # by messages; None when unranked
    ranked_members: int = 0
    top_channels: tuple[RankedItem, ...] = ()
    top_emojis: tuple[EmojiUse, ...] = ()
    avatar_png: bytes | None = None
    changes: tuple[Change, ...] = ()
    compared_with: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class ChannelReport:
    """/stats channel: the channel card."""

    guild_name: str
    period: Period
    channel_name: str
    messages: int
    voice_minutes: float
    active_members: int
    series: ActivitySeries
    top_members: tuple[RankedItem, ...] = ()
    changes: tuple[Change, ...] = ()
    compared_with: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class LeaderboardReport:
    """/top: members ranked by one metric."""

    guild_name: str
    period: Period
    metric: str  # "Messages", "Voice", "Emojis", "Invites", "Commands"
    unit: str  # "messages", "minutes", "emojis", "joins", "uses"
    entries: tuple[RankedItem, ...]


@dataclass(frozen=True, slots=True, eq=False)
class EmojiReport:
    """/emojis: the most used emojis, in messages and as reactions."""

    guild_name: str
    period: Period
    emojis: tuple[EmojiUse, ...]
    member_name: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class InviterRow:
    """One inviter: invites created, joins attributed to them, and joiners still here."""

    name: str
    invites: int
    joins: int
    stayed: int
    id: int = 0


@dataclass(frozen=True, slots=True, eq=False)
class InviteReport:
    """/invites: joins by inviter and how many stayed."""

    guild_name: str
    period: Period
    inviters: tuple[InviterRow, ...]
    vanity_joins: int = 0
    unknown_joins: int = 0
    member_name: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class EventAttendee:
    """One member's presence in an event, one flag per minute."""

    name: str
    present: BoolArray  # length = the event's minutes
    id: int = 0

    @property
    def minutes(self) -> int:
        """Minutes present."""
        return int(np.count_nonzero(self.present))


@dataclass(frozen=True, slots=True, eq=False)
class EventHourReport:
    """The event-hour report: minute-by-minute presence per member."""

    guild_name: str
    event_name: str  # "Morning session"
    start: datetime  # guild-local
    minutes: int
    attendees: tuple[EventAttendee, ...]
    timezone: str = "UTC"
    channels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class WeeklyTotal:
    """A weekly figure with the week before, for the change arrow."""

    name: str  # "Messages", "Voice minutes", "Active members", "Event minutes"
    value: float
    previous: float

    @property
    def change_pct(self) -> float | None:
        """Change against the week before in percent; None when there was nothing before."""
        if self.previous == 0:
            return None
        return (self.value - self.previous) / self.previous * 100.0


@dataclass(frozen=True, slots=True, eq=False)
class WeeklyReport:
    """The weekly summary posted to the report channel."""

    guild_name: str
    period: Period  # label like "Week 2026-W47"
    totals: tuple[WeeklyTotal, ...]
    top_messages: tuple[RankedItem, ...] = ()
    top_voice: tuple[RankedItem, ...] = ()  # minutes
    attendance: tuple[RankedItem, ...] = ()  # event minutes per member
    never_present: tuple[str, ...] = ()
    events_held: int = 0


@dataclass(frozen=True, slots=True, eq=False)
class MentorReport:
    """The mentor card: one member's engagement and drop-off risk."""

    guild_name: str
    period: Period
    user_id: int
    display_name: str
    messages: int
    voice_minutes: float
    active_days: int
    period_days: int
    current_streak: int
    longest_streak: int
    regularity: float  # 0..1, share of days active
    weekday_spread: float  # 0..1, how evenly activity spreads over the week
    heatmap: FloatArray  # 7×24, rows Mon..Sun
    daily_activity: FloatArray  # one value per day of the period, oldest first
    trend_pct: float | None  # last 7 days against the member's earlier weekly mean, in percent
    engagement: int  # 0..100
    risk: str  # "low", "medium", "high"
    risk_reason: str
    last_seen: datetime | None = None
    avatar_png: bytes | None = None
    trend_word: str = ""  # the analytics' word: "rising", "steady", "falling", "new", "inactive"
