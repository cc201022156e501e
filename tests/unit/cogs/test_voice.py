"""VoiceTracker: exact sessions and voice seconds by sub-state, through real VOICE_STATE_UPDATEs."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.buffer.store import Batch
from cogs.voice import CHECKPOINT_S, VoiceTracker
from db.flush import BatchWriter
from db.voice import open_sessions
from tests.unit.cogs.harness import T0, Harness, channel, guild, member, voice_state

G = 120_000_000_000_000_001
TEXT = 120_000_000_000_000_010
V1 = 120_000_000_000_000_011
V2 = 120_000_000_000_000_012
AFK = 120_000_000_000_000_013
ALICE = 220_000_000_000_000_001
BOB = 220_000_000_000_000_002
CAROL = 220_000_000_000_000_003
MUSIC = 220_000_000_000_000_009

CHANNELS = [channel(TEXT, G), channel(V1, G, type=2), channel(V2, G, type=2), channel(AFK, G, type=2)]
MEMBERS = [member(ALICE), member(BOB), member(CAROL), member(MUSIC, bot=True)]


def guild_create(voice_states: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    states = []
    for vs in voice_states:
        vs = dict(vs)
        vs.pop("member", None)
        states.append(vs)
    return guild(G, channels=CHANNELS, members=MEMBERS, voice_states=states, afk_channel_id=AFK)


async def vsu(h: Harness, uid: int, channel_id: int | None, **flags: Any) -> None:
    await h.feed("VOICE_STATE_UPDATE", voice_state(uid, channel_id, G, **flags))


def secs(h: Harness, uid: int, field: str, channel_id: int | None = None) -> int:
    match: dict[str, int | str] = {"user_id": uid}
    if channel_id is not None:
        match["channel_id"] = channel_id
    return h.total("voice", field, **match)


def buckets(h: Harness, uid: int) -> dict[str, int]:
    out = {f: secs(h, uid, f) for f in ("active_s", "muted_s", "deafened_s", "alone_s", "streaming_s", "video_s")}
    return {k: v for k, v in out.items() if v}


def sessions(h: Harness, uid: int) -> dict[int, tuple[Any, ...]]:
    """started_at → (channel_id, ended_at, open) of one member's session records."""
    return {int(k[3]): v for k, v in h.kind("vsess").items() if k[2] == uid}


@pytest.fixture
async def h(harness: Harness) -> Harness:
    await harness.bot.add_cog(VoiceTracker(harness.bot))
    await harness.feed("GUILD_CREATE", guild_create())
    return harness


def cog(h: Harness) -> VoiceTracker:
    c = h.bot.get_cog("VoiceTracker")
    assert isinstance(c, VoiceTracker)
    return c


async def test_alone_then_someone_joins_both_leave_alone(h: Harness) -> None:
    await vsu(h, ALICE, V1)
    h.clock.advance(100)
    await vsu(h, BOB, V1)
    h.clock.advance(50)
    await vsu(h, BOB, None)
    h.clock.advance(10)
    await vsu(h, ALICE, None)
    assert buckets(h, ALICE) == {"alone_s": 110, "active_s": 50}
    assert buckets(h, BOB) == {"active_s": 50}
    assert sessions(h, ALICE) == {int(T0): (V1, int(T0) + 160, 0)}
    assert sessions(h, BOB) == {int(T0) + 100: (V1, int(T0) + 150, 0)}


async def test_mute_while_alone_is_muted_and_deafen_beats_mute(h: Harness) -> None:
    await vsu(h, ALICE, V1)
    h.clock.advance(10)
    await vsu(h, ALICE, V1, self_mute=True)
    h.clock.advance(20)
    await vsu(h, ALICE, V1, self_mute=True, deaf=True)
    h.clock.advance(30)
    await vsu(h, ALICE, V1, mute=True)  # server mute
    h.clock.advance(40)
    await vsu(h, ALICE, V1, self_deaf=True, self_mute=True)
    h.clock.advance(5)
    await vsu(h, ALICE, None)
    assert buckets(h, ALICE) == {"alone_s": 10, "muted_s": 60, "deafened_s": 35}


async def test_streaming_and_video_overlay_the_bucket(h: Harness) -> None:
    await vsu(h, ALICE, V1)
    await vsu(h, BOB, V1)
    await vsu(h, ALICE, V1, self_stream=True)
    h.clock.advance(30)
    await vsu(h, ALICE, V1, self_stream=True, self_video=True, self_mute=True)
    h.clock.advance(20)
    await vsu(h, ALICE, None)
    assert buckets(h, ALICE) == {"active_s": 30, "muted_s": 20, "streaming_s": 50, "video_s": 20}


async def test_move_ends_the_session_and_starts_one_in_the_new_channel(h: Harness) -> None:
    await vsu(h, ALICE, V1)
    await vsu(h, BOB, V2)
    h.clock.advance(60)
    await vsu(h, ALICE, V2)
    h.clock.advance(40)
    await vsu(h, ALICE, None)
    assert secs(h, ALICE, "alone_s", V1) == 60
    assert secs(h, ALICE, "active_s", V2) == 40
    # Bob was alone in V2 until Alice came, then not alone until she left, then alone again.
    assert buckets(h, BOB) == {"alone_s": 60, "active_s": 40}
    t = int(T0)
    assert sessions(h, ALICE) == {t: (V1, t + 60, 0), t + 60: (V2, t + 100, 0)}
    h.clock.advance(5)
    cog(h).checkpoint()
    assert buckets(h, BOB) == {"alone_s": 65, "active_s": 40}


async def test_afk_channel_counts_nothing(h: Harness) -> None:
    await vsu(h, ALICE, AFK)
    await vsu(h, BOB, AFK)
    h.clock.advance(300)
    await vsu(h, ALICE, V1)
    h.clock.advance(10)
    await vsu(h, ALICE, AFK)
    h.clock.advance(300)
    cog(h).checkpoint()
    assert buckets(h, ALICE) == {"alone_s": 10}
    assert buckets(h, BOB) == {}
    t = int(T0)
    assert sessions(h, ALICE) == {t + 300: (V1, t + 310, 0)}
    assert sessions(h, BOB) == {}


async def test_crossing_an_hour_boundary_splits_the_seconds(h: Harness) -> None:
    h.clock.advance(3600 - 25)
    await vsu(h, ALICE, V1)
    h.clock.advance(100)
    await vsu(h, ALICE, None)
    assert h.counters[("voice", G, T0, V1, ALICE, "alone_s")] == 25
    assert h.counters[("voice", G, T0 + 3600, V1, ALICE, "alone_s")] == 75


async def test_checkpoint_accrues_and_keeps_the_session_open(h: Harness) -> None:
    await vsu(h, ALICE, V1, self_video=True)
    for _ in range(3):
        h.clock.advance(CHECKPOINT_S)
        cog(h).checkpoint()
    t = int(T0)
    assert sessions(h, ALICE) == {t: (V1, t + 3 * CHECKPOINT_S, 1)}
    assert buckets(h, ALICE) == {"alone_s": 90, "video_s": 90}


async def test_checkpoint_loop_runs_with_the_cog_and_unload_closes_sessions(h: Harness) -> None:
    c = cog(h)
    assert c._loop_task is not None and not c._loop_task.done()
    await vsu(h, ALICE, V1)
    h.clock.advance(12)
    await h.bot.remove_cog("VoiceTracker")
    assert c._loop_task is None
    assert sessions(h, ALICE) == {int(T0): (V1, int(T0) + 12, 0)}


async def test_bots_are_ignored_and_do_not_keep_anyone_company(h: Harness) -> None:
    await vsu(h, MUSIC, V1, bot=True)
    await vsu(h, ALICE, V1)
    h.clock.advance(30)
    cog(h).checkpoint()
    assert buckets(h, ALICE) == {"alone_s": 30}
    assert buckets(h, MUSIC) == {}
    assert sessions(h, MUSIC) == {}


async def test_opted_out_member_is_not_recorded_but_is_company(h: Harness) -> None:
    h.bot.optouts.add(G, BOB)
    await vsu(h, ALICE, V1)
    await vsu(h, BOB, V1)
    h.clock.advance(30)
    cog(h).checkpoint()
    assert buckets(h, ALICE) == {"active_s": 30}
    assert buckets(h, BOB) == {}
    assert sessions(h, BOB) == {}


async def test_opting_out_mid_session_stops_recording(h: Harness) -> None:
    await vsu(h, ALICE, V1)
    h.clock.advance(30)
    cog(h).checkpoint()
    h.bot.optouts.add(G, ALICE)
    h.clock.advance(30)
    cog(h).checkpoint()
    await vsu(h, ALICE, None)
    assert buckets(h, ALICE) == {"alone_s": 30}


async def test_repeated_or_collapsed_states_are_idempotent(h: Harness) -> None:
    """Listeners may see a state already updated by later events: applying it twice changes nothing."""
    await vsu(h, ALICE, V1)
    h.clock.advance(10)
    # Join and leave parsed back to back before the listeners run: both see the member gone.
    h.bot._connection.parsers["VOICE_STATE_UPDATE"](voice_state(BOB, V1, G))
    h.bot._connection.parsers["VOICE_STATE_UPDATE"](voice_state(BOB, None, G))
    await h.drain()
    await vsu(h, ALICE, V1)
    h.clock.advance(10)
    await vsu(h, ALICE, None)
    assert buckets(h, ALICE) == {"alone_s": 20}
    assert buckets(h, BOB) == {}


async def test_counted_seconds_equal_session_lengths(h: Harness) -> None:
    await vsu(h, ALICE, V1)
    h.clock.advance(7)
    await vsu(h, BOB, V1, self_mute=True)
    h.clock.advance(3601)
    await vsu(h, CAROL, V2, self_stream=True)
    h.clock.advance(13)
    await vsu(h, ALICE, V2)
    h.clock.advance(29)
    cog(h).checkpoint()
    for uid in (ALICE, BOB, CAROL):
        counted = sum(secs(h, uid, f) for f in ("active_s", "muted_s", "deafened_s", "alone_s"))
        stored = sum(end - start for start, (_ch, end, _open) in sessions(h, uid).items())
        assert counted == stored > 0


# -- restart: sessions left open in the database ---------------------------------------------


async def store_open_sessions(engine: AsyncEngine, rows: list[tuple[int, int, int, int]]) -> None:
    """Write open sessions (user, started_at, channel, ended_at) the way a previous run did."""
    batch = Batch("previous-run", records={("vsess", G, u, s): (c, e, 1) for u, s, c, e in rows})
    await BatchWriter(engine).apply(batch)


async def test_restart_closes_stored_sessions_at_their_checkpoint_and_opens_new_ones(
    harness: Harness, engine: AsyncEngine
) -> None:
    h = harness
    t = int(T0)
    # The previous run: Alice and Bob in V1 since t-600, last checkpoint t-20; then it crashed.
    # Carol left while the bot was down.
    await store_open_sessions(
        engine, [(ALICE, t - 600, V1, t - 20), (BOB, t - 600, V1, t - 20), (CAROL, t - 900, V2, t - 50)]
    )
    h.bot.engine = engine
    await h.bot.add_cog(VoiceTracker(h.bot))
    h.clock.advance(5)
    states = [voice_state(ALICE, V1, G), voice_state(BOB, V1, G, self_mute=True)]
    await h.feed("GUILD_CREATE", guild_create(states))
    # Stored sessions closed at their last checkpoint: no time invented for the gap.
    assert sessions(h, ALICE)[t - 600] == (V1, t - 20, 0)
    assert sessions(h, BOB)[t - 600] == (V1, t - 20, 0)
    assert sessions(h, CAROL) == {t - 900: (V2, t - 50, 0)}
    # New sessions from the voice states found now.
    assert sessions(h, ALICE)[t + 5] == (V1, t + 5, 1)
    assert sessions(h, BOB)[t + 5] == (V1, t + 5, 1)
    assert h.series("voice") == {}
    h.clock.advance(30)
    cog(h).checkpoint()
    assert buckets(h, ALICE) == {"active_s": 30}
    assert buckets(h, BOB) == {"muted_s": 30}

    # Once flushed, nothing of the previous run is open any more.
    snap = h.bot.counters.take()
    assert snap is not None
    await BatchWriter(engine).apply(Batch("this-run", snap.counters, snap.records))
    still_open = {(s.user_id, s.started_at) for s in await open_sessions(engine, G)}
    assert still_open == {(ALICE, t + 5), (BOB, t + 5)}


async def test_second_guild_create_does_not_reclose_this_runs_sessions(harness: Harness, engine: AsyncEngine) -> None:
    h = harness
    t = int(T0)
    h.bot.engine = engine
    await h.bot.add_cog(VoiceTracker(h.bot))
    await h.feed("GUILD_CREATE", guild_create([voice_state(ALICE, V1, G)]))
    h.clock.advance(30)
    cog(h).checkpoint()
    snap = h.bot.counters.take()
    assert snap is not None
    await BatchWriter(engine).apply(Batch("b1", snap.counters, snap.records))
    # A reconnect: the guild is sent again with Alice still in voice.
    h.clock.advance(10)
    await h.feed("GUILD_CREATE", guild_create([voice_state(ALICE, V1, G)]))
    assert sessions(h, ALICE) == {t: (V1, t + 40, 0), t + 40: (V1, t + 40, 1)}
    assert buckets(h, ALICE) == {"alone_s": 10}


async def test_afk_channel_change_through_guild_update(h: Harness) -> None:
    await vsu(h, ALICE, V2)
    h.clock.advance(10)
    update = guild_create()
    update["afk_channel_id"] = str(V2)
    await h.feed("GUILD_UPDATE", update)
    h.clock.advance(50)
    cog(h).checkpoint()
    assert buckets(h, ALICE) == {"alone_s": 10}
    assert sessions(h, ALICE) == {int(T0): (V2, int(T0) + 10, 0)}


async def test_guild_going_unavailable_closes_its_sessions(h: Harness) -> None:
    await vsu(h, ALICE, V1)
    h.clock.advance(20)
    await h.feed("GUILD_DELETE", {"id": str(G), "unavailable": True})
    h.clock.advance(100)
    cog(h).checkpoint()
    assert buckets(h, ALICE) == {"alone_s": 20}
    assert sessions(h, ALICE) == {int(T0): (V1, int(T0) + 20, 0)}


async def test_opting_back_in_resumes_recording_at_the_next_checkpoint(h: Harness) -> None:
    h.bot.optouts.add(G, ALICE)
    await vsu(h, ALICE, V1)
    h.clock.advance(30)
    cog(h).checkpoint()
    h.bot.optouts.remove(G, ALICE)
    h.clock.advance(30)
    cog(h).checkpoint()
    h.clock.advance(30)
    cog(h).checkpoint()
    assert buckets(h, ALICE) == {"alone_s": 30}
    assert sessions(h, ALICE) == {int(T0) + 60: (V1, int(T0) + 90, 1)}
