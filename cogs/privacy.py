"""/privacy optout, optin and status: a member's own choice about being recorded in this guild.

Stores the choice in ``optouts`` (db/privacy.py). ``hide`` stops recording at once
(the in-memory ``bot.optouts`` set that every tracking cog consults) and hides the
member from every report; ``delete`` does the same and erases everything stored of
the member in this guild: the counters still in the process and in the buffer store,
then every table row (db/privacy.py ``erase_member``), so nothing reappears after
the next flush. ``/privacy export`` gives the member every row stored about them in this
guild (db/export.py ``member_export``) as CSV files in one zip. Replies are ephemeral: only
the member sees them.
"""

from __future__ import annotations

import asyncio
import io
import logging
import zipfile
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import discord
from discord import app_commands
from discord.ext import commands

from bot.commands.errors import UserError
from bot.commands.permissions import member_of
from bot.render.csvfile import cell, csv_text
from db import privacy
from db.export import MemberTable, member_export
from db.nudges import set_nudges

if TYPE_CHECKING:
    from bot.app import StatsBot

log = logging.getLogger(__name__)

MODES: Final = [
    app_commands.Choice(name="hide: stop recording me and hide me from reports", value="hide"),
    app_commands.Choice(name="delete: the same, and erase all my data in this server", value="delete"),
]


EXPORT_README: Final = """Everything this bot stores about you in the server {guild} (id {guild_id}), as of {when}.

One CSV file per table (UTF-8, RFC 4180); times are UTC in ISO 8601; ids are decimal.
Message content is never stored: only counts and ids. Tables with no rows about you are
included, empty, so that you can see what is kept. invites.csv lists the invites you
created; member_joins.csv your own joins (with who invited you).

{listing}
"""


def csv_cell(value: Any) -> str:
    """A CSV cell of any stored value: times and ids as in /export, anything else as its text."""
    if value is None or isinstance(value, datetime | int | str):
        return cell(value)
    return str(value)


def member_zip(tables: list[MemberTable], guild: str, guild_id: int, when: datetime) -> bytes:
    """The export as zip bytes: one ``<table>.csv`` per table and a README.txt (blocking: run in a thread)."""
    stamp = (when.year, when.month, when.day, when.hour, when.minute, when.second)
    listing = "\n".join(f"{t.name}.csv: {len(t.rows)} row{'s' if len(t.rows) != 1 else ''}" for t in tables)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        when_text = when.isoformat(timespec="seconds")
        readme = EXPORT_README.format(guild=guild, guild_id=guild_id, when=when_text, listing=listing)
        zf.writestr(zipfile.ZipInfo("README.txt", stamp), readme.encode("utf-8"))
        for t in tables:
            text = csv_text([t.columns]) + csv_text([[csv_cell(v) for v in row] for row in t.rows])
            info = zipfile.ZipInfo(f"{t.name}.csv", stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text.encode("utf-8"))
    return out.getvalue()


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

    @privacy.command(name="export", description="Download everything stored about you in this server (CSV files)")
    async def export(self, interaction: discord.Interaction) -> None:
        """Download every row stored about you in this server, as CSV files in one zip."""
        member = member_of(interaction)
        guild, user_id = member.guild, member.id
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:  # counts still in the buffer are stored data too: write them first
            await self.bot.settle()
        except Exception as exc:
            log.warning("flush before the privacy export of %s in guild %s failed: %s", user_id, guild.id, exc)
        tables = await member_export(self.bot.engine, guild.id, user_id)
        now = datetime.fromtimestamp(self.bot.clock(), UTC)
        data = await asyncio.to_thread(member_zip, tables, guild.name, guild.id, now)
        if len(data) > interaction.filesize_limit:
            raise UserError("Your data here is too large for one attachment; ask the server's admins for /export.")
        rows = sum(len(t.rows) for t in tables)
        name = f"my-data-{guild.id}-{now:%Y-%m-%d}.zip"
        file = discord.File(io.BytesIO(data), filename=name, description=f"your data in this server: {rows:,} rows")
        text = f"Everything stored about you in this server: {rows:,} rows in {len(tables)} CSV files."
        await interaction.followup.send(text, file=file, ephemeral=True)
        log.info("privacy export of member %s in guild %s: %d rows", user_id, guild.id, rows)

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

    @privacy.command(name="nudges", description="Whether you may get a friendly DM when you have been away")
    @app_commands.describe(state="on: you may be nudged (if the server uses nudges); off: never")
    @app_commands.choices(state=[app_commands.Choice(name=v, value=v) for v in ("on", "off")])
    async def nudges(self, interaction: discord.Interaction, state: str) -> None:
        """Turn nudges to yourself on or off in this server."""
        member = member_of(interaction)
        if state not in {"on", "off"}:
            raise UserError("The state must be on or off.")
        now = datetime.fromtimestamp(self.bot.clock(), UTC)
        await set_nudges(self.bot.engine, member.guild.id, member.id, state == "on", now)
        text = (
            "You may get a short DM from this server when you have been away (if its admins turned nudges on)."
            if state == "on"
            else "You will never get a nudge from this server. /privacy nudges on turns them back on."
        )
        await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: StatsBot) -> None:
    """Load the /privacy commands."""
    await bot.add_cog(Privacy(bot))
