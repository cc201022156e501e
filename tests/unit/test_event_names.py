"""Event names (issue #14): what ``/config event name:`` accepts, and how reports and lists title an event."""

from __future__ import annotations

import pytest

from bot.posts.attendance import event_title
from bot.posts.eventconfig import MAX_NAME, InvalidEventOption, parse_name
from cogs.config import event_line
from cogs.weekly import HeldEvent
from db.events import EventConfig

HALL = 123456789012345678


def test_a_name_is_kept_as_typed_without_surrounding_spaces() -> None:
    assert parse_name(None) is None
    assert parse_name("Morning study") == "Morning study"
    assert parse_name("  Raid night 🎉  ") == "Raid night 🎉"
    assert parse_name("x" * MAX_NAME) == "x" * MAX_NAME
    assert parse_name(" " + "é" * MAX_NAME + "\n") == "é" * MAX_NAME  # a trailing line break is only space


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("x" * (MAX_NAME + 1), f"at most {MAX_NAME} characters; this one has {MAX_NAME + 1}"),
        ("Morning\nstudy", "one line"),
        ("Morning\r\nstudy", "one line"),
        ("Morning\u2028study", "one line"),
        ("Morning\x85study", "one line"),
        ("Morning\tstudy", "one line"),
        ("   ", "cannot be blank"),
        ("", "cannot be blank"),
    ],
)
def test_a_bad_name_gets_one_short_sentence(value: str, words: str) -> None:
    with pytest.raises(InvalidEventOption) as caught:
        parse_name(value)
    message = str(caught.value)
    assert words in message and len(message) <= 200 and "\n" not in message
    assert message.endswith(".") and message.count(". ") == 0


def test_reports_use_the_name_and_keep_the_old_title_without_one() -> None:
    named = EventConfig(1, 7, "07:00", 60, 0b1111111, pattern="Study*", name="Morning study")
    unnamed = EventConfig(2, 7, "16:30", 90, 0b0011111, channel_ids=(HALL,))
    assert event_title(named) == "Morning study"
    assert event_title(unnamed) == "Event 16:30 (90 min)"
    assert event_line(named) == "Morning study: 07:00 for 60 min, every day, in voice channels named `Study*`"
    assert event_line(unnamed) == f"16:30 for 90 min, weekdays, in <#{HALL}>"


def test_the_weekly_summary_lists_each_event_held_by_name() -> None:
    assert HeldEvent("Morning study", 5, 1234).text() == "Morning study — 5 times, 1,234 member-minutes"
    assert HeldEvent("Event 07:00 (60 min)", 1, 0).text() == "Event 07:00 (60 min) — once, 0 member-minutes"
