"""/privacy optout, optin and status: a member's own choice about being recorded in this guild.

Stores the choice in ``optouts`` (db/privacy.py). ``hide`` stops recording at once
(the in-memory ``bot.optouts`` set that every tracking cog consults) and hides the
member from every report; ``delete`` does the same and erases everything stored of
the member in this guild: the counters still in the process and in the buffer store,
then every table row (db/privacy.py ``erase_member``), so nothing reappears after
the next flush. Replies are ephemeral: only the member sees them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import discord
from discord import app_commands
from discord.ext import commands

from bot.commands.permissions import member_of
from db import privacy

if TYPE_CHECKING:
    from bot.app import StatsBot

log = logging.getLogger(__name__)

MODES: Final = [
    app_commands.Choice(name="hide: stop recording me and hide me from reports", value="hide"),
    app_commands.Choice(name="delete: the same, and erase all my data in this server", value="delete"),
]


class Privacy(commands.Cog):
    """The /privacy commands: opt out (hide or delete), opt back in, and see the current state."""

    privacy = app_commands.Group(name="privacy", description="Your privacy: opt out of recording", guild_only=True)

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot

    async def forget(self, guild_id: int, user_id: int) -> int:
        """Erase the member in this guild everywhere: process counters, buffer store, then the tables."""
        held = self.bot.counters.discard_member(guild_id, user_id)
        buffered = await self.bot.store.discard_member(guild_id, user_id)
        # A flush already under way may have loaded the member's counters before the discard;
        # flush_once waits for it (the flusher's lock), so the erase below comes after its commit.
        try:
            await self.bot.flusher.flush_once()
        except Exception as exc:  # the erase must still happen; the flusher retries on its own
            log.warning("flush before erasing member %s in guild %s failed: %s", user_id, guild_id, exc)
        rows = await privacy.erase_member(self.bot.engine, guild_id, user_id)
        log.info("member %s erased in guild %s: %d held, %d buffered, %d rows", user_id, guild_id, held, buffered, rows)
        return rows

    @privacy.command(name="optout", description="Stop recording your activity in this server")
    @app_commands.describe(mode="hide: stop and hide your data; delete: stop and erase your data here")
    @app_commands.choices(mode=MODES)
    async def optout(self, interaction: discord.Interaction, mode: str) -> None:
        """Stop recording your activity here; ``delete`` also erases what was stored."""
        member = member_of(interaction)
        guild_id, user_id = member.guild.id, member.id
        if mode not in {"hide", "delete"}:
            await interaction.response.send_message("The mode must be hide or delete.", ephemeral=True)
            return
        # First: nothing of theirs is counted from this instant on.
        self.bot.optouts.add(guild_id, user_id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        now = datetime.fromtimestamp(self.bot.clock(), UTC)
        await privacy.set_optout(self.bot.engine, guild_id, user_id, mode, now)
        if mode == "delete":
            await self.forget(guild_id, user_id)
            text = "Done: you are no longer recorded here, and all your stored data in this server was erased."
        else:
            text = "Done: you are no longer recorded here and hidden from every report. /privacy optin undoes it."
        await interaction.followup.send(text, ephemeral=True)

    @privacy.command(name="optin", description="Let the bot record your activity in this server again")
    async def optin(self, interaction: discord.Interaction) -> None:
        """Resume recording your activity here."""
        member = member_of(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        mode = await privacy.remove_optout(self.bot.engine, member.guild.id, member.id)
        self.bot.optouts.remove(member.guild.id, member.id)
        if mode is None:
            text = "You are already recorded here; nothing changed."
        elif mode == "hide":
            text = "Welcome back: your activity is recorded again and your earlier data shows in reports again."
        else:
            text = "Welcome back: your activity is recorded again from now on (your earlier data was erased)."
        await interaction.followup.send(text, ephemeral=True)

    @privacy.command(name="status", description="Whether the bot records your activity in this server")
    async def status(self, interaction: discord.Interaction) -> None:
        """Say whether your activity here is recorded."""
        member = member_of(interaction)
        mode = await privacy.get_mode(self.bot.engine, member.guild.id, member.id)
        if mode is None:
            text = "Your activity here is recorded (counts only, never message content). /privacy optout stops it."
        elif mode == "hide":
            text = "You opted out (hide): nothing is recorded and hidden from reports. /privacy optin undoes it."
        else:
            text = "You opted out (delete): nothing is recorded and your data here was erased. /privacy optin resumes."
        await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: StatsBot) -> None:
    """Load the /privacy commands."""
    await bot.add_cog(Privacy(bot))
