"""The exactly-once rules of live tracking and catch-up (bot.tracking.catchup), without I/O."""

from __future__ import annotations

from bot.buffer import Counters
from bot.reports.context import coverage_notice, duration_words
from bot.tracking.catchup import (
    SETTLE_S,
    UNMARKED_MARGIN_S,
    GapState,
    GuildCoverage,
    LiveMarks,
    upper_bound,
)
from bot.tracking.snowflakes import snowflake_at

G, C, D = 1, 10, 11


def records(counters: Counters) -> dict[tuple[int | str, ...], tuple[int | str | None, ...]]:
    snap = counters.take()
    return {} if snap is None else dict(snap.records)


def test_first_start_without_marks_counts_live_and_opens_no_range() -> None:
    counters = Counters()
    marks = LiveMarks(counters)
    assert marks.admit(500, G, C)
    assert records(counters) == {("mark", G, C): (500, 500)}


def test_after_a_gap_the_first_live_message_opens_a_range_from_the_mark() -> None:
    counters = Counters()
    marks = LiveMarks(counters)
    marks.load({(G, C): (100, 400)})
    assert marks.admit(900, G, C)
    assert records(counters) == {("catchup", G, C, 900): (400, 0), ("mark", G, C): (100, 900)}
    assert marks.wanted == {G}
    # Below the session's first live message: catch-up's, never counted live.
    assert not marks.admit(899, G, C) and marks.skipped == 1
    assert marks.admit(901, G, C)


def test_a_channel_without_a_mark_starts_at_the_guild_floor() -> None:
    counters = Counters()
    marks = LiveMarks(counters)
    marks.new_session([G], 1_800_000_000)
    floor = snowflake_at(1_800_000_000 - UNMARKED_MARGIN_S)
    assert marks.start_of(G, D) == floor
    assert marks.admit(floor + 5, G, D)
    assert records(counters)[("catchup", G, D, floor + 5)] == (floor, 0)
    assert marks.start_of(G, D) is None, "live tracking took the channel over"


def test_a_new_session_hands_channels_back_and_catch_up_hands_them_over() -> None:
    counters = Counters()
    marks = LiveMarks(counters)
    assert marks.admit(500, G, C)
    marks.new_session([G], None)
    assert not marks.is_live(G, C) and marks.start_of(G, C) == 500
    marks.moved(G, C, 700)  # catch-up imported up to 700
    marks.hand_over(G, C, 800)
    assert marks.is_live(G, C)
    assert not marks.admit(799, G, C)
    assert marks.admit(800, G, C)
    assert records(counters)[("mark", G, C)] == (500, 800)


def test_the_safety_net_hands_a_missed_tail_to_catch_up_once() -> None:
    counters = Counters()
    marks = LiveMarks(counters)
    assert marks.admit(500, G, C)
    records(counters)
    assert marks.active_since(G, 400) == [(C, 500)] and marks.active_since(G, 501) == []
    # History's newest (700) is above the mark: live tracking never got 501..700.
    assert marks.tail_missed(G, C, 700, seen_mark=500)
    assert records(counters) == {("catchup", G, C, 701): (500, 0), ("mark", G, C): (500, 700)}
    assert marks.wanted == {G}
    # A late live delivery of a message of the range is the range's; later ones are live.
    assert not marks.admit(650, G, C)
    assert marks.admit(800, G, C)
    # Found once: the mark is past it now.
    assert not marks.tail_missed(G, C, 700, seen_mark=800)


def test_the_safety_net_leaves_a_channel_whose_mark_moved_while_it_asked() -> None:
    counters = Counters()
    marks = LiveMarks(counters)
    assert marks.admit(500, G, C)
    assert marks.admit(900, G, C)  # arrived live during the request
    records(counters)
    assert not marks.tail_missed(G, C, 700, seen_mark=500)
    assert records(counters) == {}
    # Not live in this session (catch-up has not handed it over): not the safety net's.
    marks.load({(G, D): (100, 200)})
    assert not marks.tail_missed(G, D, 300, seen_mark=200)


def test_recovered_messages_belong_to_the_first_gap_ending_after_them() -> None:
    cov = GuildCoverage(gaps=[GapState(100, 200, "offline"), GapState(300, 400, "disconnected")])
    assert cov.gap_for(50) is cov.gaps[0]
    assert cov.gap_for(250) is cov.gaps[1]
    assert cov.gap_for(999) is cov.gaps[1]
    assert GuildCoverage().gap_for(1) is None


def test_catch_up_stops_short_of_what_may_still_arrive_live() -> None:
    assert upper_bound(1_800_000_100, 1_800_000_000) == snowflake_at(1_800_000_100 - SETTLE_S)
    assert upper_bound(1_800_000_003, 1_800_000_000) == snowflake_at(1_800_000_000)


def test_the_coverage_notice() -> None:
    assert duration_words(7800) == "2 h 10 min"
    assert duration_words(3600) == "1 h"
    assert duration_words(45 * 60) == "45 min"
    assert duration_words(30) == "30 s"
    assert coverage_notice(7800) == "bot offline 2 h 10 min in this period: messages recovered, voice not recorded"
    assert coverage_notice(0) is None
