"""Log lines: text or JSON, never a password, and no voice warning for a bot that never plays audio."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot import logs


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    out = io.StringIO()
    yield out
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved:
        root.addHandler(handler)
    root.setLevel(level)


def test_json_lines_carry_time_level_logger_and_message(stream: io.StringIO) -> None:
    logs.configure(logging.INFO, "json", stream)
    logging.getLogger("bot.test").warning("flushed %d rows", 3)
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "WARNING" and record["logger"] == "bot.test" and record["message"] == "flushed 3 rows"
    assert record["ts"].endswith("+00:00")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_passwords_never_reach_a_log_line(stream: io.StringIO, fmt: str) -> None:
    logs.configure(logging.INFO, fmt, stream)
    log = logging.getLogger("bot.test")
    log.error("cannot reach %s", "postgresql+asyncpg://statsbot:pw-in-args@db/stats")
    try:
        raise ConnectionError("redis://:pw-in-traceback@cache:6379/0 refused")
    except ConnectionError:
        log.exception("push failed")
    text = stream.getvalue()
    assert "pw-in-args" not in text and "pw-in-traceback" not in text
    assert "statsbot:***@db/stats" in text and "redis://:***@cache" in text


def test_the_no_voice_warning_is_dropped_and_others_are_not(stream: io.StringIO) -> None:
    logs.configure(logging.INFO, "text", stream)
    logging.getLogger("discord.client").warning("PyNaCl is not installed, voice will NOT be supported")
    logging.getLogger("discord.client").warning("davey is not installed, voice will NOT be supported")
    logging.getLogger("discord.client").warning("something else")
    assert stream.getvalue().count("\n") == 1 and "something else" in stream.getvalue()
