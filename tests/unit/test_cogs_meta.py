"""Every cog loads; listeners are real discord.py events; command names do not clash."""

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
        for cmd in bot.tree.walk_commands():
            path = cmd.qualified_name
            assert path not in seen, f"two commands named /{path}"
            seen.add(path)
            if isinstance(cmd, app_commands.Command):
                assert cmd.description and cmd.description != "…", f"/{path} has no description"
                for param in cmd.parameters:
                    assert param.description and param.description != "…", f"/{path} {param.name} undescribed"
    finally:
        for ext in reversed(EXTENSIONS):
            await bot.unload_extension(ext)
        await bot.engine.dispose()
