"""Alt text for every report image: the same key figures as words, within Discord's 1024 characters.

Attachment descriptions are read by screen readers and shown when an image fails to
load, so each states what the image shows, most important figures first; lists are
cut short (with how many were left out) rather than the text being cut mid-word.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np

from bot.render.models import (
    WEEKDAYS,
    ActivitySeries,
    Change,
    ChannelReport,
    EmojiReport,
    EmojiUse,
    EventAttendee,
    EventHourReport,
    InviteReport,
    LeaderboardReport,
    MemberGrowth,
    MentorReport,
    RankedItem,
    ServerReport,
    UserReport,
    WeeklyReport,
    WeeklyTotal,
    to_zone,
)
from bot.render.theme import emoji_name, fmt_int

ALT_TEXT_LIMIT: Final = 1024
# What the trend says when there is no ratio, by the analytics' trend word.
NO_TREND_WORDS: Final = {
    "new": "New here: no earlier weeks to compare",
    "inactive": "No activity lately or before",
}


def clip(sentences: Iterable[str], limit: int = ALT_TEXT_LIMIT) -> str:
    """Sentences joined while they fit in ``limit`` characters; a list that does not fit is cut at an item."""
    out = ""
    for sentence in sentences:
        candidate = f"{out} {sentence}".strip()
        if len(candidate) <= limit:
            out = candidate
            continue
        room = limit - len(out) - (1 if out else 0)  # characters left after the joining space
        end = sentence[: room + 1].rfind(", ")  # keep whole items, then "…"
        if end > 0:
            out = f"{out} {sentence[:end]}…".strip()
        break
    return out


def listing(items: Sequence[tuple[str, str]], limit: int = 10) -> str:
    """``name value, name value`` for the first ``limit`` items, then ``and N more``."""
    parts = [f"{name} {value}" for name, value in items[:limit]]
    if len(items) > limit:
        parts.append(f"and {len(items) - limit} more")
    return ", ".join(parts)


def ranked(items: Sequence[RankedItem], unit: str, prefix: str = "") -> str:
    """A ranking as words: ``1. Aurora 812 messages, 2. …``."""
    return ", ".join(f"{i}. {prefix}{item.name} {_amount(item.value, unit)}" for i, item in enumerate(items, 1))


def _amount(value: float, unit: str) -> str:
    """A value with its unit: minutes in hours and minutes, counts with separators."""
    if unit == "minutes":
        return f"{fmt_int(value)} minutes"
    return f"{fmt_int(value)} {unit}"


def _peak(series: ActivitySeries, values: np.ndarray) -> tuple[str, float] | None:
    """When the busiest bucket started, as words, and its value."""
    if not len(values) or float(np.max(values)) <= 0:
        return None
    index = int(np.argmax(values))
    when = series.bucket_starts()[index]
    label = f"{when:%a %d %b %H:%M}" if series.step_hours < 24 else f"{when:%a %d %b %Y}"
    return label, float(values[index])


def _activity(series: ActivitySeries) -> list[str]:
    """Sentences about the busiest bucket of messages and of voice."""
    word = "hour" if series.step_hours < 24 else "day"
    out = []
    for name, values, unit in (
        ("messages", series.messages, "messages"),
        ("voice", series.voice_minutes, "voice minutes"),
    ):
        peak = _peak(series, values)
        if peak:
            out.append(f"Busiest {word} for {name}: {peak[0]} with {fmt_int(peak[1])} {unit}.")
    return out


def delta_text(change: Change, compared_with: str) -> str:
    """A figure against the previous period: ``+12 % vs previous 7 days``, ``new``, ``no change``."""
    pct = change.pct
    if pct is None:
        return f"new: none in the {compared_with}" if change.value else f"none, as in the {compared_with}"
    if round(pct) == 0:
        return f"no change vs {compared_with}" if change.value == change.previous else f"±0 % vs {compared_with}"
    return f"{'+' if pct > 0 else '-'}{abs(pct):.0f} % vs {compared_with}"


def changes_sentence(changes: Sequence[Change], compared_with: str) -> str:
    """``Change: Messages +12 % vs previous 7 days (3,668 against 3,275), …`` for the alt text."""
    if not changes:
        return ""
    parts = [
        f"{c.name} {delta_text(c, compared_with)} ({fmt_int(c.value)} against {fmt_int(c.previous)})" for c in changes
    ]
    return "Change: " + "; ".join(parts) + "."


def growth_sentence(growth: MemberGrowth | None) -> str:
    """``Members: 12 joined, 7 left, net +5.``"""
    if growth is None:
        return ""
    return f"Members: {growth.joins} joined, {growth.leaves} left, net {growth.net_text}."


def alt_server(model: ServerReport) -> str:
    """Alt text of the /stats server image."""
    where = f" in #{model.channel_name}" if model.channel_name else ""
    return clip(
        [
            f"Server activity of {model.guild_name}{where}, {model.period.describe()}.",
            f"Messages: {fmt_int(model.messages)}. Voice minutes: {fmt_int(model.voice_minutes)}.",
            f"Active members: {fmt_int(model.active_members)}.",
            growth_sentence(model.growth),
            changes_sentence(model.changes, model.compared_with),
            *_activity(model.series),
            f"Top channels: {ranked(model.top_channels[:5], 'messages', '#')}." if model.top_channels else "",
            f"Top members: {ranked(model.top_members[:5], 'messages')}." if model.top_members else "",
        ]
    )


def _heatmap_peak(heatmap: np.ndarray) -> str:
    """The busiest hour of the week as words, or nothing when the heatmap is empty."""
    values = np.asarray(heatmap, dtype=np.float64).reshape(7, 24)
    if float(values.max()) <= 0:
        return ""
    day, hour = divmod(int(np.argmax(values)), 24)
    return f"Busiest hour of the week: {WEEKDAYS[day]} {hour:02d}:00 with {fmt_int(values[day, hour])} messages."


def emojis_text(uses: Sequence[EmojiUse]) -> str:
    """Emojis with their uses: ``face with tears of joy 128 (88 in messages, 40 reactions)``."""
    return ", ".join(f"{emoji_name(u.emoji)} {u.total} ({u.message} in messages, {u.reaction} reactions)" for u in uses)


def alt_user(model: UserReport) -> str:
    """Alt text of the /stats user card."""
    v = model.voice
    rank = f"Rank {model.rank} of {model.ranked_members} by messages." if model.rank else "Not ranked."
    return clip(
        [
            f"Member card of {model.display_name} in {model.guild_name}, {model.period.describe()}.",
            f"Messages: {fmt_int(model.messages)}. Voice minutes: {fmt_int(v.total)}.",
            changes_sentence(model.changes, model.compared_with),
            rank,
            f"Voice by state: active {fmt_int(v.active)}, muted {fmt_int(v.muted)}, "
            f"deafened {fmt_int(v.deafened)}, alone {fmt_int(v.alone)} minutes; "
            f"streaming {fmt_int(v.streaming)}, video {fmt_int(v.video)} minutes.",
            _heatmap_peak(model.heatmap),
            f"Top channels: {ranked(model.top_channels[:5], 'messages', '#')}." if model.top_channels else "",
            f"Top emojis: {emojis_text(model.top_emojis[:5])}." if model.top_emojis else "",
        ]
    )


def alt_channel(model: ChannelReport) -> str:
    """Alt text of the /stats channel card."""
    return clip(
        [
            f"Channel card of #{model.channel_name} in {model.guild_name}, {model.period.describe()}.",
            f"Messages: {fmt_int(model.messages)}. Voice minutes: {fmt_int(model.voice_minutes)}.",
            f"Active members: {fmt_int(model.active_members)}.",
            changes_sentence(model.changes, model.compared_with),
            *_activity(model.series),
            f"Top members: {ranked(model.top_members[:10], 'messages')}." if model.top_members else "",
        ]
    )


def alt_leaderboard(model: LeaderboardReport) -> str:
    """Alt text of the /top leaderboard."""
    body = "Nobody is ranked in this period." if not model.entries else f"{ranked(model.entries, model.unit)}."
    return clip([f"{model.metric} leaderboard of {model.guild_name}, {model.period.describe()}:", body])


def alt_emojis(model: EmojiReport) -> str:
    """Alt text of the /emojis chart."""
    who = f" by {model.member_name}" if model.member_name else ""
    in_messages = sum(u.message for u in model.emojis)
    reactions = sum(u.reaction for u in model.emojis)
    return clip(
        [
            f"Most used emojis{who} in {model.guild_name}, {model.period.describe()}.",
            f"Emojis in messages: {fmt_int(in_messages)}. Reactions added: {fmt_int(reactions)}.",
            f"Different emojis: {len(model.emojis)}.",
            f"Top: {emojis_text(model.emojis[:10])}." if model.emojis else "",
        ]
    )


def alt_invites(model: InviteReport) -> str:
    """Alt text of the /invites chart."""
    attributed = sum(r.joins for r in model.inviters)
    stayed = sum(r.stayed for r in model.inviters)
    rows = sorted(model.inviters, key=lambda r: (-r.joins, -r.stayed, r.name))
    per = ", ".join(f"{r.name} {r.joins} joins, {r.stayed} stayed" for r in rows[:7])
    return clip(
        [
            f"Invites in {model.guild_name}, {model.period.describe()}.",
            f"Invites created: {fmt_int(sum(r.invites for r in model.inviters))}.",
            f"Joins: {fmt_int(attributed + model.vanity_joins + model.unknown_joins)} "
            f"({fmt_int(attributed)} by invite, {model.vanity_joins} vanity, {model.unknown_joins} unknown).",
            f"Stayed: {fmt_int(stayed)}.",
            f"By inviter: {per}." if per else "",
        ]
    )


def ordered_attendees(attendees: Sequence[EventAttendee]) -> list[EventAttendee]:
    """Members by minutes present (most first), then by name; the image and alt text share it."""
    return sorted(attendees, key=lambda a: (-a.minutes, a.name.casefold(), a.id))


def alt_event_hour(model: EventHourReport) -> str:
    """Alt text of the event-hour report."""
    people = ordered_attendees(model.attendees)
    start = to_zone(model.start, model.timezone)
    end = start + timedelta(minutes=model.minutes)
    total = sum(a.minutes for a in people)
    per = listing([(a.name, f"{a.minutes} min") for a in people], 40)
    return clip(
        [
            f"Event-hour report of {model.guild_name}: {model.event_name}, "
            f"{start:%a %d %b %Y} {start:%H:%M}–{end:%H:%M} ({model.timezone}).",
            f"Members present: {len(people)}. Average minutes: {total / len(people) if people else 0:.0f}. "
            f"Stayed all {model.minutes} minutes: {sum(1 for a in people if a.minutes >= model.minutes)}. "
            f"Member-minutes: {fmt_int(total)}.",
            f"Minutes present per member: {per}." if people else "Nobody was present.",
        ]
    )


def change_text(total: WeeklyTotal) -> str:
    """The change against the week before: ``▲ 9.7% vs last week``, ``no change``, ``new this week``."""
    pct = total.change_pct
    if pct is None:
        return "nothing the week before" if total.value == 0 else "new this week"
    if abs(pct) < 0.05:
        return "no change vs last week"
    arrow = "▲" if pct > 0 else "▼"
    return f"{arrow} {abs(pct):.1f}% vs last week"


def absent_text(model: WeeklyReport, never: str) -> str:
    """The never-present sentence: the names, everyone attended, or no event took place."""
    if not model.events_held:
        return "No event took place this week, so nobody is listed as never present."
    if model.never_present:
        return f"Never present at any of the {model.events_held} events ({len(model.never_present)}): {never}."
    return f"Everyone attended at least one of the {model.events_held} events."


def alt_weekly(model: WeeklyReport) -> str:
    """Alt text of the weekly summary."""
    totals = " ".join(
        f"{t.name}: {fmt_int(t.value)} ({change_text(t).replace('▲', 'up').replace('▼', 'down')})."
        for t in model.totals
    )
    never = ", ".join(model.never_present)
    return clip(
        [
            f"Weekly summary of {model.guild_name}, {model.period.describe()}.",
            totals,
            f"Top by messages: {ranked(model.top_messages[:5], 'messages')}." if model.top_messages else "",
            f"Top by voice: {ranked(model.top_voice[:5], 'minutes')}." if model.top_voice else "",
            f"Event attendance in minutes: {ranked(model.attendance[:8], 'minutes')}." if model.attendance else "",
            absent_text(model, never),
        ]
    )


def trend_text(trend_pct: float | None, word: str = "") -> str:
    """The trend as words with an arrow: ``▼ 58% vs earlier weeks (falling)``."""
    if trend_pct is None:
        return NO_TREND_WORDS.get(word, "No earlier weeks to compare")
    suffix = f" ({word})" if word else ""
    if abs(trend_pct) < 0.5:
        return f"Same as earlier weeks{suffix}"
    arrow = "▲" if trend_pct > 0 else "▼"
    return f"{arrow} {abs(trend_pct):.0f}% vs earlier weeks{suffix}"


def last_seen_text(last_seen: datetime | None, timezone: str | None = None) -> str:
    """``Last seen 21 Nov 2026, 22:14`` (in ``timezone``) or ``Never seen in this period``."""
    if last_seen is None:
        return "Never seen in this period"
    return f"Last seen {to_zone(last_seen, timezone):%d %b %Y, %H:%M}"


def alt_mentor(model: MentorReport) -> str:
    """Alt text of the mentor card."""
    trend = trend_text(model.trend_pct, model.trend_word).replace("▲", "up").replace("▼", "down")
    return clip(
        [
            f"Mentor card of {model.display_name} in {model.guild_name}, {model.period.describe()}.",
            f"Drop-off risk: {model.risk}. {model.risk_reason.rstrip('.')}.",
            # Active voice only, as the card says ("active voice").
            f"Messages: {fmt_int(model.messages)}. Active voice minutes: {fmt_int(model.voice_minutes)}.",
            f"Engagement score: {model.engagement} of 100.",
            f"Active days: {model.active_days} of {model.period_days}.",
            f"Current streak: {model.current_streak} days; longest streak: {model.longest_streak} days.",
            f"Regularity: {model.regularity:.0%} of days active, spread over the week {model.weekday_spread:.0%}.",
            f"Trend: {trend} (last 7 days).",
            f"{last_seen_text(model.last_seen, model.period.timezone)}.",
            _heatmap_peak(model.heatmap),
        ]
    )


ALT_TEXTS: Final[dict[str, Callable[[Any], str]]] = {
    "server": alt_server,
    "user": alt_user,
    "channel": alt_channel,
    "leaderboard": alt_leaderboard,
    "emojis": alt_emojis,
    "invites": alt_invites,
    "event_hour": alt_event_hour,
    "weekly": alt_weekly,
    "mentor": alt_mentor,
}


def alt_text(kind: str, model: object) -> str:
    """The alt text of report ``kind`` for ``model``."""
    try:
        function = ALT_TEXTS[kind]
    except KeyError:
        raise ValueError(f"unknown report kind {kind!r}") from None
    return function(model)
