"""Shared slash-command options: periods in words, suggestions for dates, times and weeks, cooldowns."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast
from zoneinfo import ZoneInfo

import discord

from bot.analytics.periods import PERIOD_CHOICES
from bot.commands.options import (
    MAX_SUGGESTIONS,
    _cooldown,
    period_choices,
    recent_days,
    recent_weeks,
    times_of_day,
)

BERLIN = ZoneInfo("Europe/Berlin")
# Sunday 23 Nov 2026, 00:30 in Berlin (Sunday 23:30 UTC): the local day is already Monday.
NOW = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)


def test_periods_read_as_words_and_send_the_contracts_values() -> None:
    choices = period_choices()
    assert [c.value for c in choices] == list(PERIOD_CHOICES)
    assert choices[1].name == "Last 7 days" and choices[-1].name == "All time"


def test_recent_days_are_local_days_today_first() -> None:
    days = recent_days(NOW, BERLIN, "")
    assert days[0].value == "2026-11-23" and "(today)" in days[0].name and days[0].name.startswith("Mon")
    assert days[1].value == "2026-11-22" and "(yesterday)" in days[1].name
    assert [c.value for c in recent_days(NOW, BERLIN, "11-2")] == [
        "2026-11-23",
        "2026-11-22",
        "2026-11-21",
        "2026-11-20",
    ]


def test_recent_weeks_are_whole_weeks_labelled_by_their_dates() -> None:
    weeks = recent_weeks(NOW, BERLIN, "")
    assert weeks[0].value == "2026-W47" and weeks[0].name == "2026-W47 · 16–22 Nov 2026 (last week)"
    assert weeks[3].name == "2026-W44 · 26 Oct – 01 Nov 2026"
    assert [c.value for c in recent_weeks(NOW, BERLIN, "w45")] == ["2026-W45"]


def test_times_of_day_put_known_times_first_and_match_what_was_typed() -> None:
    known = [("19:15", "19:15 for 60 min, every day")]
    assert times_of_day("", known)[0].value == "19:15"
    assert len(times_of_day("", known)) == MAX_SUGGESTIONS
    assert [c.value for c in times_of_day("19", known)] == ["19:15", "19:00", "19:30"]
    assert [c.value for c in times_of_day("every", known)] == ["19:15"]


def test_cooldowns_apply_unless_the_client_turns_them_off() -> None:
    factory = _cooldown(3, 30.0)
    on = cast(discord.Interaction, SimpleNamespace(client=SimpleNamespace()))
    off = cast(discord.Interaction, SimpleNamespace(client=cast(Any, SimpleNamespace(command_cooldowns=False))))
    bucket = factory(on)
    assert bucket is not None and bucket.rate == 3 and bucket.per == 30.0
    assert factory(off) is None
