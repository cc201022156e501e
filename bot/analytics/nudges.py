"""Nudges: who is due a friendly direct message now, and the message's text.

A member is due when their drop-off risk is ``high`` (bot.analytics.risk), or, when
the guild set ``after_days``, when they were regular and have been silent that many
days. At most one attempt per member per interval, and one per silence: a member
already nudged (or whose DMs refused the nudge) since they were last active is not
nudged again until they come back and drift away once more. Who may never be nudged
(bots, opted-out members, members who turned nudges off or left) is the caller's
``excluded``. No Discord, no SQL.
"""

from __future__ import annotations

import string
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from bot.analytics.periods import AnalyticsError
from bot.analytics.risk import REGULAR_RATE, GuildRisk, RiskLevel

DEFAULT_TEXT: Final = (
    "Hi {member}! We have missed you in {guild}: it has been {days} days since we last saw you. "
    "Drop by whenever you like, we would be glad to see you."
)
PLACEHOLDERS: Final = frozenset({"member", "guild", "days"})
MAX_TEXT: Final = 1500
MAX_INTERVAL_DAYS: Final = 365


class InvalidNudge(AnalyticsError):
    """A nudge setting that cannot be used (the message says why)."""


def check_text(text: str) -> str:
    """The text if its placeholders are only {member}, {guild} and {days}; else ``InvalidNudge``."""
    cleaned = text.strip()
    if not cleaned:
        raise InvalidNudge("The nudge text cannot be empty.")
    if len(cleaned) > MAX_TEXT:
        raise InvalidNudge(f"The nudge text can be at most {MAX_TEXT} characters.")
    try:
        names = {field for _, field, _, _ in string.Formatter().parse(cleaned) if field is not None}
    except ValueError:
        raise InvalidNudge(
            "Unbalanced braces in the nudge text; placeholders are {member}, {guild} and {days}."
        ) from None
    unknown = sorted(names - PLACEHOLDERS)
    if unknown:
        raise InvalidNudge(f"Unknown placeholder {{{unknown[0]}}}; use {{member}}, {{guild}} and {{days}}.")
    return cleaned


def nudge_text(template: str | None, *, member: str, guild: str, days: int) -> str:
    """The message with its placeholders filled in (the default text when none is set)."""
    return check_text(template or DEFAULT_TEXT).format(member=member, guild=guild, days=days)


@dataclass(frozen=True, slots=True)
class Due:
    """A member to nudge now and how many days they have been silent."""

    member_id: int
    silent_days: int


def due_nudges(
    risk: GuildRisk,
    now: datetime,
    today: datetime,
    *,
    after_days: int | None,
    interval_days: int,
    last_attempts: Mapping[int, datetime],
    excluded: Collection[int],
) -> list[Due]:
    """The members due a nudge at ``now``, by member id; ``today`` is the local midnight of the risk window's
    last day (where silences are counted from). ``last_attempts`` holds each member's latest attempt, sent or
    refused."""
    out: list[Due] = []
    skip = set(excluded)
    for index in range(len(risk)):
        user = int(risk.member_ids[index])
        if user in skip:
            continue
        silent = int(risk.silent_days[index])
        high = int(risk.level[index]) == RiskLevel.HIGH
        regular = float(risk.usual_days_per_week[index]) >= REGULAR_RATE * 7 - 1e-9
        quiet = after_days is not None and regular and silent >= after_days and silent < int(risk.history_days[index])
        if not (high or quiet) or silent < 1:
            continue
        last = last_attempts.get(user)
        if last is not None:
            if last > now - timedelta(days=interval_days):
                continue  # at most one per interval
            if last >= today - timedelta(days=silent - 1):
                continue  # already nudged during this silence
        out.append(Due(user, silent))
    return sorted(out, key=lambda d: d.member_id)


def nudged_ago(sent_at: datetime, now: datetime) -> str:
    """How long ago a member was last nudged, for the mentor card: ``nudged 3 days ago``."""
    days = max(0, (now - sent_at) // timedelta(days=1))
    if days == 0:
        return "nudged today"
    return f"nudged {days} day{'s' if days > 1 else ''} ago"
