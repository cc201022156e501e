"""Logging set-up for the command line: text or JSON lines on stderr, passwords never shown."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

from bot.settings import redact

# discord.py warns "PyNaCl (or davey) is not installed, voice will NOT be supported" at every
# start. The bot never joins a voice connection (voice *tracking* reads voice state events from
# the gateway), so the warning would only alarm the admin of a voice-tracking bot.
_NO_VOICE_WARNING = "voice will NOT be supported"
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"


class Redacting(logging.Filter):
    """Replaces the password of every URL in a record's message (and traceback) by ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_text is None and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class NoVoiceWarning(logging.Filter):
    """Drops discord.py's "… is not installed, voice will NOT be supported" warnings (no audio is used)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "discord.client" and record.getMessage().endswith(_NO_VOICE_WARNING))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (UTC ISO 8601), ``level``, ``logger``, ``message``, ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info or record.exc_text:
            data["exc"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(data, ensure_ascii=False)


def configure(level: int, fmt: str = "text", stream: TextIO | None = None) -> None:
    """One line per record on stderr (``fmt`` ``text`` or ``json``); gateway chatter one level quieter."""
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter: logging.Formatter = JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT, DATE_FORMAT)
    handler.setFormatter(formatter)
    handler.addFilter(NoVoiceWarning())
    handler.addFilter(Redacting())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("discord.gateway").setLevel(max(level, logging.WARNING))
    logging.getLogger("discord.client").setLevel(max(level, logging.INFO))
