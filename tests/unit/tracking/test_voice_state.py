"""The voice state machine against a second-by-second oracle."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.buffer.counters import Counters
from bot.tracking.voice_state import GuildVoice, VoiceFlags, hour_slices

G = 1
AFK = 99
USERS = (1, 2, 3, 4)
CHANNELS = (None, 10, 11, AFK)

flags_st = st.builds(
    VoiceFlags,
    self_deaf=st.booleans(),
    deaf=st.booleans(),
    self_mute=st.booleans(),
    mute=st.booleans(),
    self_stream=st.booleans(),
    self_video=st.booleans(),
)
event_st = st.tuples(st.sampled_from(USERS), st.sampled_from(CHANNELS), flags_st, st.integers(0, 2000))


def bucket(f: VoiceFlags, alone: bool) -> str:
    if f.deafened:
        return "deafened_s"
    if f.muted:
        return "muted_s"
    return "alone_s" if alone else "active_s"


def test_hour_slices() -> None:
    assert list(hour_slices(3590, 7300)) == [(0, 10), (3600, 3600), (7200, 100)]
    assert list(hour_slices(5, 5)) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(event_st, max_size=40), st.integers(0, 7200))
def test_every_second_in_exactly_one_bucket(events: list[tuple[int, int | None, VoiceFlags, int]], t0: int) -> None:
    counters = Counters()
    g = GuildVoice(G, counters, afk_channel_id=AFK)
    where: dict[int, int] = {}
    flags: dict[int, VoiceFlags] = {}
    expected: dict[tuple[int, str], int] = defaultdict(int)
    now = 1_800_000_000 + t0
    for uid, ch, f, dt in events:
        g.update(uid, ch, f, now)
        if ch is None:
            where.pop(uid, None)
            flags.pop(uid, None)
        else:
            where[uid] = ch
            flags[uid] = f
        if dt % 3 == 0:
            g.checkpoint(now)
        # The oracle: nothing changes for dt seconds.
        for u, c in where.items():
            if c == AFK:
                continue
            alone = [c2 for c2 in where.values() if c2 == c] == [c]
            expected[(u, bucket(flags[u], alone))] += dt
            if flags[u].self_stream:
                expected[(u, "streaming_s")] += dt
            if flags[u].self_video:
                expected[(u, "video_s")] += dt
        now += dt
    g.checkpoint(now)
    got: dict[tuple[int, str], int] = defaultdict(int)
    for key, n in counters._counters.items():
        assert key[0] == "voice" and key[2] % 3600 == 0 and n > 0
        got[(int(key[4]), str(key[5]))] += n
    assert dict(got) == {k: v for k, v in expected.items() if v}
    # The session records cover exactly the counted bucket seconds, and only current members are open.
    for u in USERS:
        recs = [(k, v) for k, v in counters._records.items() if k[2] == u]
        span = sum(int(str(v[1])) - int(k[3]) for k, v in recs)
        counted = sum(got[(u, b)] for b in ("active_s", "muted_s", "deafened_s", "alone_s"))
        assert span == counted
        open_ = [k for k, v in recs if v[2] == 1]
        assert len(open_) == (1 if where.get(u) not in (None, AFK) else 0)


def test_afk_channel_change_moves_sessions() -> None:
    counters = Counters()
    g = GuildVoice(G, counters, afk_channel_id=None)
    g.update(1, 10, VoiceFlags(), 0)
    g.set_afk_channel(10, 100)
    g.checkpoint(200)
    g.set_afk_channel(None, 300)
    g.checkpoint(400)
    assert counters._counters == {("voice", G, 0, 10, 1, "alone_s"): 200}
    assert counters._records[("vsess", G, 1, 0)] == (10, 100, 0)
    assert counters._records[("vsess", G, 1, 300)] == (10, 400, 1)
