"""Who may use what: enforced by the bot itself, whatever the server's integration overrides say."""

from __future__ import annotations

import discord

from bot.commands.errors import UserError


def member_of(interaction: discord.Interaction) -> discord.Member:
    """The invoking member; commands only run in guilds."""
    if interaction.guild is None or not isinstance(interaction.user, discord.Member):
        raise UserError("This command only works in a server.")
    return interaction.user


def can_manage(member: discord.Member) -> bool:
    """Manage Server (administrators have it too)."""
    return member.guild_permissions.manage_guild


def require_manage(interaction: discord.Interaction) -> discord.Member:
    """The invoking member, or a UserError when they lack Manage Server."""
    member = member_of(interaction)
    if not can_manage(member):
        raise UserError("You need the Manage Server permission to use this command.")
    return member


def is_mentor(member: discord.Member, mentor_role_id: int | None) -> bool:
    """Mentor role or Manage Server."""
    return can_manage(member) or (mentor_role_id is not None and member.get_role(mentor_role_id) is not None)
