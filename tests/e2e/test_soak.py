"""The CI-sized soak (``bench/soak.py``): the real bot through a seeded event stream and every fault.

On TimescaleDB (a scratch database behind a proxy that is cut once) with a Redis server of the
soak's own (restarted once on its append-only file): SIGKILLs at a random moment, during a
flush and during a catch-up, a stop with messages sent meanwhile, a gateway resume and an
invalid session. Messages and everything derived from them must come out exact; nothing is
ever doubled; voice is never invented and loses at most 60 s per member and crash.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import service_url
from tests.e2e.soak import VOICE_LOSS_BOUND_S, SoakOptions, print_report, run_soak

pytestmark = pytest.mark.e2e

EXACT = ("messages", "characters", "attachments", "replies", "message_emojis")
NEVER_DOUBLED = (*EXACT, "reactions", "app_commands", "joins", "leaves")


@pytest.mark.timeout(300)
async def test_soak_loses_and_doubles_no_message_and_invents_no_voice(tmp_path: Path) -> None:
    service_url("TEST_DATABASE_URL")  # fails, never skips, without the services
    opts = SoakOptions(events=800, kills=3, seed=16, postgres=True, catch_up_messages=300, workdir=tmp_path)
    result, soak, elapsed = await run_soak(opts)
    print_report(result, soak, elapsed)

    for name in EXACT:
        r = result[name]
        assert (r["lost"], r["doubled"]) == (0, 0), (name, r)
        assert r["counted"] == r["offered"] > 0, (name, r)
    assert result["messages"]["sent_while_down"] > 0
    for name in NEVER_DOUBLED:
        assert result[name]["doubled"] == 0, (name, result[name])
    voice = result["voice"]
    assert voice["invented_seconds"] == 0, voice
    assert voice["lost_seconds_per_crash_per_member_max"] <= VOICE_LOSS_BOUND_S, voice
    assert voice["counted_seconds"] > 0, voice
    faults = soak.faults
    assert faults["sigkill"] == 3, faults
    for kind in ("sigkill_during_flush", "sigkill_during_catch_up", "stop_with_downtime", "redis_restart"):
        assert faults[kind] >= 1, faults
    for kind in ("database_outage", "gateway_resume", "invalid_session"):
        assert faults[kind] >= 1, faults
