"""Parsing and wording of the ``/config event`` options: start, minutes, days, channels.

``days`` accepts (case-insensitive, separated by commas or spaces):
``every day`` (also ``everyday``, ``daily``, ``all``), ``weekdays`` (Mon–Fri),
``weekends`` (Sat, Sun), day names (``mon``, ``monday``, ``tue``, ``tues``…) and
ranges of them (``mon-fri``, ``fri-mon`` wraps). Stored as a bitmask, bit 0 = Monday.

``channels`` accepts voice-channel mentions or ids (``<#123> <#456>``), or a
name pattern with ``*`` and ``?`` (``Study*``), matched case-insensitively.

``name`` (optional, shown in the event's reports) is one line of at most 60
characters, surrounding spaces dropped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

from bot.analytics.periods import AnalyticsError
from bot.posts.schedule import parse_hhmm

ALL_DAYS: Final = 0b1111111
WEEKDAYS: Final = 0b0011111
WEEKENDS: Final = 0b1100000
DEFAULT_MINUTES: Final = 60
MAX_MINUTES: Final = 1440
MAX_PATTERN: Final = 100
MAX_NAME: Final = 60
DAY_ABBR: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_NAMES: Final = {
    **{d.lower(): i for i, d in enumerate(DAY_ABBR)},
    **{
        n: i
        for i, names in enumerate(
            (
                ("monday",),
                ("tuesday", "tues"),
                ("wednesday", "weds"),
                ("thursday", "thur", "thurs"),
                ("friday",),
                ("saturday",),
                ("sunday",),
            )
        )
        for n in names
    },
}
_GROUPS: Final = {
    "everyday": ALL_DAYS,
    "daily": ALL_DAYS,
    "all": ALL_DAYS,
    "weekdays": WEEKDAYS,
    "weekday": WEEKDAYS,
    "weekends": WEEKENDS,
    "weekend": WEEKENDS,
}
_MENTION: Final = re.compile(r"<#(\d{15,21})>|(\d{15,21})")


class InvalidEventOption(AnalyticsError):
    """A ``/config event`` option the bot cannot read; the message is the reply."""


def parse_start(value: str) -> str:
    """``HH:MM`` (24-hour clock) normalised to two-digit hours, or ``InvalidTime``."""
    return parse_hhmm(value).strftime("%H:%M")


def parse_minutes(value: int) -> int:
    """The event length in minutes: 1 to 1440."""
    if not 1 <= value <= MAX_MINUTES:
        raise InvalidEventOption(f"An event lasts from 1 to {MAX_MINUTES} minutes.")
    return value


def parse_days(value: str) -> int:
    """The weekdays of ``value`` as a bitmask (bit 0 = Monday), or ``InvalidEventOption``."""
    text = re.sub(r"\s*-\s*", "-", value.strip().lower())
    text = re.sub(r"every\s+day", "everyday", text)
    tokens = [t for t in re.split(r"[,\s]+", text) if t]
    if not tokens:
        raise InvalidEventOption("Give the days, e.g. every day, weekdays, weekends or mon,wed,fri.")
    mask = 0
    for token in tokens:
        if token in _GROUPS:
            mask |= _GROUPS[token]
            continue
        first, sep, last = token.partition("-")
        if first not in _DAY_NAMES or (sep and last not in _DAY_NAMES):
            raise InvalidEventOption(
                f"Unknown day {token[:20]!r}; use e.g. every day, weekdays, weekends, mon,wed,fri or mon-fri."
            )
        a = _DAY_NAMES[first]
        b = _DAY_NAMES[last] if sep else a
        for step in range((b - a) % 7 + 1):
            mask |= 1 << ((a + step) % 7)
    return mask


def days_text(mask: int) -> str:
    """A bitmask in words: ``every day``, ``weekdays``, ``weekends`` or ``Mon, Wed, Fri``."""
    mask &= ALL_DAYS
    named = {ALL_DAYS: "every day", WEEKDAYS: "weekdays", WEEKENDS: "weekends", 0: "no day"}
    if mask in named:
        return named[mask]
    return ", ".join(d for i, d in enumerate(DAY_ABBR) if mask >> i & 1)


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """Which voice channels an event watches: listed ids, or a name pattern."""

    ids: tuple[int, ...] = ()
    pattern: str | None = None

    def as_json(self) -> dict[str, list[int] | str]:
        """The ``events.channels`` JSON object."""
        return {"pattern": self.pattern} if self.pattern is not None else {"ids": list(self.ids)}

    def text(self) -> str:
        """The channels in words for a reply."""
        if self.pattern is not None:
            return "every voice channel" if self.pattern == "*" else f"voice channels named `{self.pattern}`"
        return " ".join(f"<#{i}>" for i in self.ids)


def parse_channels(value: str | None) -> ChannelSpec:
    """Mentions or ids (at least one, nothing else), or a name pattern; ``None``/empty means every voice channel."""
    text = (value or "").strip()
    if not text:
        return ChannelSpec(pattern="*")
    ids = [int(a or b) for a, b in _MENTION.findall(text)]
    rest = _MENTION.sub("", text).replace(",", " ").strip()
    if ids and not rest:
        return ChannelSpec(ids=tuple(dict.fromkeys(ids)))
    if ids:
        raise InvalidEventOption("Give either voice channel mentions or one name pattern such as Study*, not both.")
    if len(text) > MAX_PATTERN or any(c in text for c in "<>@#\n"):
        raise InvalidEventOption("That is not a channel name pattern; use e.g. Study* or mention voice channels.")
    return ChannelSpec(pattern=text)


def parse_name(value: str | None) -> str | None:
    """The event's name for its reports: one line of 1 to 60 characters, or None when not given."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        raise InvalidEventOption("An event name cannot be blank; leave the option out for no name.")
    # splitlines knows every line break (\r, \u2028, …); a title is drawn on one line.
    if len(text.splitlines()) > 1 or any(unicodedata.category(c) == "Cc" for c in text):
        raise InvalidEventOption("An event name must be one line of text, without line breaks or tabs.")
    if len(text) > MAX_NAME:
        raise InvalidEventOption(f"An event name has at most {MAX_NAME} characters; this one has {len(text)}.")
    return text
