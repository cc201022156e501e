"""Every cog loads; listeners are real discord.py events; command names do not clash; options are
bounded by Discord (ranges, choices, autocomplete) and periods read as words."""

from __future__ import annotations

import re
from pathlib import Path

import discord
from discord import app_commands

from bot.app import EXTENSIONS, StatsBot
from bot.settings import load_settings
from db.engine import create_engine
from db.migrate import upgrade


def discord_events() -> set[str]:
    """Every event name discord.py dispatches, read from its own source."""
    names: set[str] = set()
    for path in Path(discord.__file__).parent.rglob("*.py"):
        names.update(re.findall(r"dispatch\(\s*['\"](\w+)['\"]", path.read_text(encoding="utf-8")))
    return names


# Free-text options that hold a date, a time of day or a week: typed as codes unless suggested.
CODED_TEXT = {"date", "start", "time", "week"}
NUMBERS = (discord.AppCommandOptionType.integer, discord.AppCommandOptionType.number)


def option_problems(path: str, param: app_commands.Parameter) -> list[str]:
    """What is wrong with one option: a number Discord does not bound, a date/time/week to type as code,
    a period shown as its code instead of in words."""
    problems = []
    chosen = bool(param.choices) or param.autocomplete
    if param.type in NUMBERS and not chosen and (param.min_value is None or param.max_value is None):
        problems.append(f"/{path} {param.name}: an integer option without a range (app_commands.Range)")
    if param.type is discord.AppCommandOptionType.string and param.name in CODED_TEXT and not chosen:
        problems.append(f"/{path} {param.name}: a date/time/week typed as text, without autocomplete")
    if param.name == "period":
        shown = {c.name: c.value for c in param.choices}
        if shown.get("Last 7 days") != "7d" or shown.get("All time") != "all":
            problems.append(f"/{path} period: choices must read as words with the contract's values: {shown}")
    return problems


async def test_cogs_listen_only_to_real_events_and_commands_are_unique(tmp_path: Path) -> None:
    events = discord_events()
    assert {"message", "voice_state_update", "raw_reaction_add", "member_join"} <= events
    bot = StatsBot(load_settings(DATABASE_URL="sqlite+aiosqlite:///:memory:"), extensions=EXTENSIONS)
    bot.engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'meta.db'}")  # as setup_hook does, before cogs
    await upgrade(bot.engine)
    for ext in EXTENSIONS:
        await bot.load_extension(ext)
    try:
        for cog in bot.cogs.values():
            for name, _ in cog.get_listeners():
                assert name.startswith("on_"), f"{cog.qualified_name}.{name}"
                assert name[3:] in events, f"{cog.qualified_name} listens to {name}, which discord.py never sends"
        for name in bot.extra_events:
            assert name[3:] in events, f"listener {name} is not a discord.py event"
        seen: set[str] = set()
        unbounded: list[str] = []
        for cmd in bot.tree.walk_commands():
            path = cmd.qualified_name
            assert path not in seen, f"two commands named /{path}"
            seen.add(path)
            if isinstance(cmd, app_commands.Command):
                assert cmd.description and cmd.description != "…", f"/{path} has no description"
                for param in cmd.parameters:
                    assert param.description and param.description != "…", f"/{path} {param.name} undescribed"
                    unbounded.extend(option_problems(path, param))
        assert unbounded == []
    finally:
        for ext in reversed(EXTENSIONS):
            await bot.unload_extension(ext)
        await bot.engine.dispose()
