"""The bot's Prometheus metrics: its own registry, the instruments, and the exposition."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bot.app import StatsBot
from bot.settings import load_settings


def make_bot(tmp_path: Path) -> StatsBot:
    return StatsBot(load_settings(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/m.db"), extensions=())


def samples(bot: StatsBot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = bot.telemetry.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_events_by_kind_and_process_metrics_in_the_bots_own_registry(tmp_path: Path) -> None:
    a, b = make_bot(tmp_path), make_bot(tmp_path)  # two bots in one process do not clash
    for _ in range(3):
        a.telemetry.event("message")
    a.dispatch("typing", object(), object(), object())  # through StatsBot.dispatch (no listener for it)
    a.telemetry.event("socket_raw_receive")  # not a gateway event of its own
    got = samples(a)
    assert got[("statsbot_events_total", (("kind", "message"),))] == 3
    assert got[("statsbot_events_total", (("kind", "typing"),))] == 1
    kinds = {dict(labels).get("kind") for name, labels in got if name == "statsbot_events_total"}
    assert kinds == {"message", "typing"}
    assert ("statsbot_events_total", (("kind", "message"),)) not in samples(b)
    assert got[("statsbot_buffer_depth", ())] == 0
    assert any(name.startswith("process_") for name, _ in got)
    assert not any(name.startswith("statsbot_") for name in REGISTRY._names_to_collectors)


def test_flushes_and_renders_are_timed_and_failures_counted(tmp_path: Path) -> None:
    bot = make_bot(tmp_path)
    telemetry = bot.telemetry
    # What the flusher and the render pool tell their observers (bot.buffer.flusher, bot.render.pool).
    telemetry.flushed(0.02, True)
    telemetry.flushed(0.5, False)
    telemetry.rendered("leaderboard", 0.01, True)
    got = samples(bot)
    assert got[("statsbot_flush_duration_seconds_count", ())] == 1
    assert got[("statsbot_errors_total", (("kind", "flush"),))] == 1
    assert got[("statsbot_render_seconds_count", (("kind", "leaderboard"),))] == 1


def test_the_render_pool_tells_its_observer(tmp_path: Path) -> None:
    bot = StatsBot(
        load_settings(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/m.db"), extensions=(), render_processes=0
    )
    seen: list[tuple[str, bool]] = []
    bot.render_pool.on_render = lambda kind, _s, ok: seen.append((kind, ok))

    async def scenario() -> None:
        pool = bot.render_pool
        with pytest.raises(Exception):  # noqa: B017 - whatever the renderer raises for a bad model
            await pool.render("leaderboard", None)

    asyncio.run(scenario())
    assert seen == [("leaderboard", False)]
