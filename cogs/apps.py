"""App activity tracking.

Stores, per guild, UTC hour (the interaction's snowflake time), channel, member,
application and command, one use per interaction id:

- interactions with this bot: each application command, by its full path
  (``stats user``), under this bot's application id;
- other apps' commands, seen on their reply messages: app = the message's
  ``application_id``, member = ``interaction_metadata.user``, command = the raw
  ``interaction_metadata.name``, else ``message.interaction.name``, else ``unknown``.

Bots and members who opted out are not counted. Rich Presence is not tracked here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

import discord
from discord.ext import commands

from bot.app import StatsBot
from bot.tracking.snowflakes import snowflake_hour
from db.series import APPS

log = logging.getLogger(__name__)

_APP: Final = APPS.code
UNKNOWN_COMMAND: Final = "unknown"
# Interaction ids remembered to count each use once (follow-ups share the id).
SEEN_MAX: Final = 50_000
# Raw command names waiting for their message's listener.
_NAMES_MAX: Final = 10_000

_SUBCOMMAND = discord.AppCommandOptionType.subcommand.value
_GROUP = discord.AppCommandOptionType.subcommand_group.value


class RecentIds:
    """A bounded set of ids: the oldest is forgotten past ``maxlen``."""

    __slots__ = ("_ids", "maxlen")

    def __init__(self, maxlen: int) -> None:
        self._ids: dict[int, None] = {}
        self.maxlen = maxlen

    def add(self, i: int) -> bool:
        """Remember ``i``; False when it was already known."""
        ids = self._ids
        if i in ids:
            return False
        ids[i] = None
        if len(ids) > self.maxlen:
            del ids[next(iter(ids))]
        return True

    def __len__(self) -> int:
        return len(self._ids)


def command_path(data: Mapping[str, Any] | None) -> str | None:
    """The full command path of an application command interaction (``stats user``)."""
    if not data or "name" not in data:
        return None
    parts = [str(data["name"])]
    options = data.get("options") or []
    while options:
        first = options[0]
        if first.get("type") not in (_SUBCOMMAND, _GROUP):
            break
        parts.append(str(first["name"]))
        options = first.get("options") or []
    return " ".join(parts)


class AppTracker(commands.Cog):
    """Counts uses of this bot's commands and of other apps' commands."""

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot
        self.counters = bot.counters
        self.optouts = bot.optouts
        self.seen = RecentIds(SEEN_MAX)
        self._names: dict[int, str] = {}
        self._parser: Callable[[Any], None] | None = None
        self._original: Callable[[Any], None] | None = None

    async def cog_load(self) -> None:
        self._wrap_message_parser()
        self.bot.feed.subscribe(self.handle_message)

    async def cog_unload(self) -> None:
        self.bot.feed.unsubscribe(self.handle_message)
        parsers = self.bot._connection.parsers
        if self._original is not None and parsers.get("MESSAGE_CREATE") is self._parser:
            parsers["MESSAGE_CREATE"] = self._original

    def _wrap_message_parser(self) -> None:
        """Keep ``interaction_metadata.name`` from the raw payload: discord.py does not."""
        parsers = self.bot._connection.parsers
        original = parsers["MESSAGE_CREATE"]
        names = self._names

        def parse_message_create(data: Any) -> None:
            meta = data.get("interaction_metadata")
            if meta is not None:
                name = meta.get("name")
                if name:
                    if len(names) >= _NAMES_MAX:
                        names.clear()
                    names[int(data["id"])] = str(name)
            original(data)

        self._original = original
        self._parser = parse_message_create
        parsers["MESSAGE_CREATE"] = parse_message_create

    def _count(
        self, guild_id: int, interaction_id: int, channel_id: int, user_id: int, app_id: int, command: str
    ) -> None:
        key = (_APP, guild_id, snowflake_hour(interaction_id), channel_id, user_id, app_id, command, "count")
        self.counters.incr(key, 1)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        self.handle_interaction(interaction)

    def handle_interaction(self, interaction: discord.Interaction) -> None:
        """Count one application command used on this bot."""
        guild_id = interaction.guild_id
        if guild_id is None or interaction.type is not discord.InteractionType.application_command:
            return
        if self.bot.get_guild(guild_id) is None:
            return  # a user-installed use in a server the bot is not in: not this bot's data
        user = interaction.user
        if user.bot or self.optouts.excluded(guild_id, user.id):
            return
        command = command_path(interaction.data)
        if command is None or not self.seen.add(interaction.id):
            return
        channel_id = interaction.channel_id or 0
        self._count(guild_id, interaction.id, channel_id, user.id, interaction.application_id, command)

    def handle_message(self, message: discord.Message) -> None:
        """Count another app's command from the message it replied with."""
        meta = message.interaction_metadata
        legacy = message._interaction
        if meta is None and legacy is None:
            return
        raw_name = self._names.pop(message.id, None) if meta is not None else None
        guild = message.guild
        if guild is None:
            return
        app_id = message.application_id
        if app_id is None:
            # Not expected on an interaction reply; an app's bot user shares the app's id.
            app_id = message.author.id
        if app_id == self.bot.application_id:
            return  # this bot's own commands are counted from the interaction itself
        user: discord.User | discord.Member
        if meta is not None:
            interaction_id, user = meta.id, meta.user
        else:
            assert legacy is not None
            interaction_id, user = legacy.id, legacy.user
        if user.bot or self.optouts.excluded(guild.id, user.id):
            return
        if not self.seen.add(interaction_id):
            return
        command = raw_name or (legacy.name if legacy is not None else None) or UNKNOWN_COMMAND
        self._count(guild.id, interaction_id, message.channel.id, user.id, app_id, command)


async def setup(bot: StatsBot) -> None:
    await bot.add_cog(AppTracker(bot))
