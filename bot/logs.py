"""Logging set-up for the command line."""

from __future__ import annotations

import logging


def configure(level: int) -> None:
    """One line per record on stderr; discord.py's gateway chatter one level quieter."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
    logging.getLogger("discord.gateway").setLevel(max(level, logging.WARNING))
    logging.getLogger("discord.client").setLevel(max(level, logging.INFO))
