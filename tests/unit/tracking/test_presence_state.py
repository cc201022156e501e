"""Rich Presence time: accrued per activity, split at hour boundaries, opt-outs respected."""

from __future__ import annotations

from bot.buffer import Counters
from bot.tracking.presence_state import GuildPresence
from db.series import HOUR, CounterKey

G = 1
H = 1_800_000_000 - 1_800_000_000 % HOUR


def seconds(counters: Counters) -> dict[CounterKey, int]:
    snap = counters.take()
    return dict(snap.counters) if snap else {}


def test_activity_time_is_split_at_the_hour() -> None:
    c = Counters()
    g = GuildPresence(G, c)
    g.update(7, {(42, "Chess")}, H - 100)
    g.update(7, set(), H + 50)
    assert seconds(c) == {
        ("presence", G, H - HOUR, 7, 42, "Chess", "seconds"): 100,
        ("presence", G, H, 7, 42, "Chess", "seconds"): 50,
    }
    assert g.open == {}


def test_two_activities_at_once_both_count_and_checkpoints_do_not_double() -> None:
    c = Counters()
    g = GuildPresence(G, c)
    g.update(7, {(0, "Coding"), (42, "Chess")}, H)
    g.checkpoint(H + 60)
    g.checkpoint(H + 90)
    g.update(7, {(0, "Coding")}, H + 100)
    g.close_all(H + 160)
    assert seconds(c) == {
        ("presence", G, H, 7, 0, "Coding", "seconds"): 160,
        ("presence", G, H, 7, 42, "Chess", "seconds"): 100,
    }


def test_opted_out_members_are_not_recorded() -> None:
    c = Counters()
    out = {9}
    g = GuildPresence(G, c, excluded=lambda u: u in out)
    g.update(9, {(1, "Game")}, H)
    g.update(7, {(1, "Game")}, H)
    out.add(7)  # opts out mid-activity: nothing more is written
    g.close_all(H + 30)
    assert seconds(c) == {}
