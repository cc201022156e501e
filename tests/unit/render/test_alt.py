"""Alt texts state the images' key figures, stay under Discord's limit, and cut lists cleanly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bot.render import ALT_TEXT_LIMIT, KINDS, alt_text, samples
from bot.render.alt import change_text, clip, trend_text
from bot.render.models import EventAttendee, RankedItem, WeeklyTotal


@pytest.mark.parametrize("kind", KINDS)
def test_under_limit_and_names_guild(kind: str) -> None:
    text = alt_text(kind, getattr(samples, kind)())
    assert 0 < len(text) <= ALT_TEXT_LIMIT
    assert samples.GUILD in text


def test_server_figures() -> None:
    model = samples.server()
    text = alt_text("server", model)
    assert f"Messages: {model.messages:,}" in text
    assert f"Voice minutes: {round(model.voice_minutes):,}" in text
    assert f"Active members: {model.active_members}" in text
    assert "#general 1,871 messages" in text
    assert "16 Nov – 22 Nov 2026 (Europe/Berlin)" in text


def test_user_figures() -> None:
    text = alt_text("user", samples.user())
    for fragment in ("Messages: 1,284", "Voice minutes: 2,425", "Rank 4 of 87", "active 1,710", "muted 420",
                     "deafened 35", "alone 260", "streaming 180", "video 45", "face with tears of joy 128",
                     ":pepe_cry: 43"):  # fmt: skip
        assert fragment in text


def test_leaderboard_lists_every_entry() -> None:
    model = samples.leaderboard(25)
    text = alt_text("leaderboard", model)
    assert "1. Aurora 1,935 minutes" in text
    assert "25. " in text


def test_event_hour_totals_per_member() -> None:
    model = samples.event_hour()
    text = alt_text("event_hour", model)
    assert "07:00–08:00" in text
    for attendee in model.attendees:
        assert f"{attendee.name} {attendee.minutes} min" in text


def test_event_hour_fifty_members_is_cut_at_an_item() -> None:
    people = tuple(EventAttendee(f"Member number {i:02d}", np.ones(60, dtype=bool), i) for i in range(50))
    text = alt_text("event_hour", dataclasses.replace(samples.event_hour(), attendees=people))
    assert len(text) <= ALT_TEXT_LIMIT
    assert "Members present: 50" in text
    assert text.endswith(("min…", "more."))


def test_weekly_changes_and_absentees() -> None:
    text = alt_text("weekly", samples.weekly())
    assert "Messages: 6,012 (up 9.7% vs last week)" in text
    assert "Voice minutes: 18,440 (down 12.2% vs last week)" in text
    assert "Never present at any of the 21 events (7): Olu, Quinn" in text


def test_mentor_figures() -> None:
    text = alt_text("mentor", samples.mentor())
    for fragment in ("Drop-off risk: medium", "Engagement score: 46 of 100", "Current streak: 2 days",
                     "longest streak: 9 days", "Trend: down 58%", "Last seen 21 Nov 2026, 22:14"):  # fmt: skip
        assert fragment in text


def test_long_lists_never_exceed_limit() -> None:
    members = tuple(RankedItem("x" * 60, 10, i) for i in range(50))
    model = dataclasses.replace(samples.server(), top_members=members, top_channels=members, guild_name="g" * 300)
    assert len(alt_text("server", model)) <= ALT_TEXT_LIMIT


def test_clip() -> None:
    assert clip(["One.", "", "Two."]) == "One. Two."
    assert clip(["Head.", "a 1, b 2, c 3, d 4"], limit=16) == "Head. a 1, b 2…"


def test_change_and_trend_words() -> None:
    assert change_text(WeeklyTotal("Messages", 110, 100)) == "▲ 10.0% vs last week"
    assert change_text(WeeklyTotal("Messages", 90, 100)) == "▼ 10.0% vs last week"
    assert change_text(WeeklyTotal("Messages", 5, 0)) == "new this week"
    assert change_text(WeeklyTotal("Messages", 100, 100)) == "no change vs last week"
    assert trend_text(None) == "No earlier weeks to compare"
    assert trend_text(12.4) == "▲ 12% vs earlier weeks"


def test_unknown_kind() -> None:
    with pytest.raises(ValueError):
        alt_text("nope", samples.server())
