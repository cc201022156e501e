"""User-facing errors and the one error handler on the command tree.

A command raises ``UserError("…")`` for anything the user can fix (a bad option,
an unknown member, nothing recorded, a missing permission); the handler answers
with that sentence, ephemeral, at most 200 characters, never a traceback. Anything
else is logged with context and answered with a short apology.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.analytics.periods import AnalyticsError
from db.errors import is_transient

log = logging.getLogger(__name__)

MAX_REPLY = 200


class UserError(Exception):
    """A problem the user can fix; the message is the whole reply (one short sentence)."""


class NothingRecorded(UserError):
    """The subject (member, channel, guild) has nothing recorded in the period."""


def short(text: str) -> str:
    """A reply cut to Discord-friendly length (at most 200 characters, README → Reference → Commands)."""
    return text if len(text) <= MAX_REPLY else text[: MAX_REPLY - 1] + "…"


def message_for(error: BaseException) -> str:
    """The sentence a user sees for ``error``."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, app_commands.TransformerError):
        return short(f"That is not a valid value for `{error.value}`.")
    if isinstance(error, UserError | AnalyticsError):
        return short(str(error))
    if isinstance(error, app_commands.MissingPermissions):
        perms = ", ".join(p.replace("_", " ").replace("guild", "server").title() for p in error.missing_permissions)
        return short(f"You need the {perms} permission to use this command.")
    if isinstance(error, app_commands.BotMissingPermissions):
        perms = ", ".join(p.replace("_", " ").replace("guild", "server").title() for p in error.missing_permissions)
        return short(f"I need the {perms} permission here to do that.")
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command only works in a server."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.CheckFailure):
        return short(str(error) or "You are not allowed to use this command.")
    if is_transient(error):
        return "The database is unreachable right now; nothing was lost. Please try again in a minute."
    return "Something went wrong on our side; it has been logged. Please try again later."


async def drop_public_placeholder(interaction: discord.Interaction) -> None:
    """Delete a public "thinking…" message left by a deferral, so that an error can follow ephemerally.

    The first follow-up of a deferral takes the deferral's visibility: answering a public
    deferral with an ephemeral error would show the error to the whole channel.
    """
    if interaction.response.type is not discord.InteractionResponseType.deferred_channel_message:
        return
    original = await interaction.original_response()
    if original.flags.loading and not original.flags.ephemeral:
        await interaction.delete_original_response()


async def reply_error(interaction: discord.Interaction, text: str) -> None:
    """Answer ephemerally, whether or not the interaction was already answered or deferred."""
    try:
        if interaction.response.is_done():
            await drop_public_placeholder(interaction)
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not deliver an error reply for interaction %s", interaction.id, exc_info=True)


async def on_app_command_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
    """The command tree's error handler: one short ephemeral sentence for every failure."""
    text = message_for(error)
    cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    if not isinstance(cause, UserError | AnalyticsError | app_commands.CheckFailure | app_commands.TransformerError):
        command = interaction.command.qualified_name if interaction.command else "?"
        log.error("command /%s failed in guild %s", command, interaction.guild_id, exc_info=error)
    await reply_error(interaction, text)
