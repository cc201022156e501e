"""/export: one dataset of this guild in a period as a CSV file (README → Reference → CSV export).

Stores nothing. Rows are streamed from the database in chunks (db/export.py) into a
spooled file (bot/render/csvfile.py); the file is gzipped (``.csv.gz``) only when the
plain CSV would exceed the interaction's attachment limit. Opted-out members' rows
never appear. Manage Server only (registered as the default permission, and checked);
the reply is ephemeral, so member-level data is not posted to the channel.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import discord
from discord import app_commands
from discord.ext import commands

from bot.analytics.periods import DEFAULT_PERIOD, PERIOD_CHOICES, parse_period, parse_timezone
from bot.commands.errors import UserError
from bot.commands.options import period_choices
from bot.commands.permissions import require_manage
from bot.commands.replies import EMBED_COLOUR
from bot.render.csvfile import DATASETS, Attachment, CsvSpool, ExportTooLarge
from db.export import stream_rows
from db.guilds import get_settings

if TYPE_CHECKING:
    from bot.app import StatsBot

log = logging.getLogger(__name__)

# ``all`` starts at the epoch: every stored row is newer.
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


async def build_export(
    bot: StatsBot, guild_id: int, dataset: str, period_value: str, limit: int
) -> tuple[Attachment, str]:
    """The finished attachment of one dataset and the period's words, streamed from the database."""
    settings = await get_settings(bot.engine, guild_id)
    tz = parse_timezone(settings.timezone)
    now = datetime.fromtimestamp(bot.clock(), UTC)
    period = parse_period(period_value, now, tz, earliest=EPOCH)
    spool = CsvSpool(dataset)
    try:
        async for chunk in stream_rows(bot.read_engine, dataset, guild_id, period.start, period.end):
            spool.add(chunk)
        stamp = now.astimezone(tz).strftime("%Y-%m-%d")
        attachment = await asyncio.to_thread(spool.finish, f"{dataset}-{period.label}-{stamp}", limit)
    except ExportTooLarge:
        raise UserError("That export is too large to attach even gzipped; pick a shorter period.") from None
    except BaseException:
        spool.close()
        raise
    return attachment, "all time" if period.label == "all" else f"the last {period.label}"


class Export(commands.Cog):
    """The /export command: a dataset of this server as CSV."""

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot

    @app_commands.command(name="export", description="Download this server's recorded data as a CSV file")
    @app_commands.describe(dataset="Which data to export", period="Which rows: their hour lies in this period")
    @app_commands.choices(
        dataset=[app_commands.Choice(name=d, value=d) for d in DATASETS],
        period=period_choices(),
    )
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def export(self, interaction: discord.Interaction, dataset: str, period: str = DEFAULT_PERIOD) -> None:
        """Download this server's recorded data as a CSV file."""
        member = require_manage(interaction)
        if dataset not in DATASETS:
            raise UserError(f"The dataset must be one of {', '.join(DATASETS)}.")
        if period not in PERIOD_CHOICES:
            raise UserError("The period must be one of 24h, 7d, 30d, 90d, 365d or all.")
        # Member-level data: only the admin who asked sees the file.
        await interaction.response.defer(ephemeral=True, thinking=True)
        attachment, when = await build_export(self.bot, member.guild.id, dataset, period, interaction.filesize_limit)
        with attachment.file:
            rows = f"{attachment.rows:,} row{'s' if attachment.rows != 1 else ''}"
            embed = discord.Embed(title=f"Export: {dataset}", colour=EMBED_COLOUR)
            embed.add_field(name="Rows", value=f"{attachment.rows:,}")
            embed.add_field(name="Period", value=when)
            if attachment.gzipped:
                embed.set_footer(text="Gzipped to fit Discord's attachment limit.")
            file = discord.File(
                attachment.file,  # type: ignore[arg-type]  # any binary file object works
                filename=attachment.filename,
                description=f"{dataset} export, {rows}, {when}",
            )
            await interaction.followup.send(f"{dataset}: {rows} ({when}).", embed=embed, file=file, ephemeral=True)
        log.info("export %s of guild %s: %d rows, %d bytes", dataset, member.guild.id, attachment.rows, attachment.size)


async def setup(bot: StatsBot) -> None:
    """Load the /export command."""
    await bot.add_cog(Export(bot))
