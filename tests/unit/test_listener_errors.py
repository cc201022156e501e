"""StatsBot.on_error: a listener cut short by the shutdown is one line; every other failure keeps its traceback."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.app import StatsBot
from bot.settings import load_settings


async def session_gone() -> None:
    raise RuntimeError("Session is closed")  # what aiohttp raises once close() closed the HTTP session


async def broken() -> None:
    raise KeyError("a bug")


@pytest.mark.parametrize(
    ("listener", "closing", "traceback"),
    [(session_gone, True, False), (session_gone, False, True), (broken, True, True)],
    ids=["cut-by-shutdown", "runtime-error-while-running", "other-error-while-closing"],
)
async def test_listener_failures(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    listener: object,
    closing: bool,
    traceback: bool,
) -> None:
    bot = StatsBot(load_settings(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/l.db"), extensions=())
    monkeypatch.setattr(bot, "is_closed", lambda: closing)
    caplog.set_level(logging.INFO)
    await bot._run_event(listener, "on_guild_available")  # type: ignore[arg-type]  # discord.py's listener runner
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    if traceback:
        assert len(errors) == 1 and errors[0].exc_info is not None
    else:
        assert errors == []
        assert [r.getMessage() for r in caplog.records if r.name == "bot.app"] == [
            "on_guild_available stopped by the shutdown: Session is closed"
        ]
