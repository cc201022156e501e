"""Report replies: an image with alt text, and an embed whose fields are the key figures."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot.commands.views import period_buttons

if TYPE_CHECKING:
    from bot.app import StatsBot

# Discord's limits: 1024 characters per attachment description and per embed field value.
MAX_ALT = 1024
EMBED_COLOUR = discord.Colour(0x5865F2)


def figure(value: int | float | str) -> str:
    """A key figure as an embed field value: just the number, thousands separated."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() or abs(value) >= 100 else f"{value:,.1f}"
    return value


def leaderboard_lines(entries: Sequence[tuple[int, int | float | str]]) -> str:
    """One line per member: ``rank. <@id> value`` (the leaderboard format, README → Reference → Commands)."""
    return "\n".join(f"{rank}. <@{user_id}> {figure(value)}" for rank, (user_id, value) in enumerate(entries, 1))


def report_embed(
    title: str,
    figures: Mapping[str, int | float | str],
    *,
    description: str | None = None,
    footer: str | None = None,
    image_name: str | None = None,
) -> discord.Embed:
    """An embed with one inline field per key figure, named after its metric."""
    embed = discord.Embed(title=title[:256], description=description, colour=EMBED_COLOUR)
    for name, value in figures.items():
        embed.add_field(name=name, value=figure(value), inline=True)
    if footer:
        embed.set_footer(text=footer[:2048])
    if image_name:
        embed.set_image(url=f"attachment://{image_name}")
    return embed


async def send_report(
    bot: StatsBot,
    interaction: discord.Interaction,
    *,
    kind: str,
    model: Any,
    alt: str,
    embed: discord.Embed,
    filename: str | None = None,
    ephemeral: bool = False,
) -> None:
    """Render ``model`` off the event loop and send it with ``embed`` (the interaction was deferred).

    Members' avatars and custom emojis' images are put into the model first (bot/reports/assets.py).
    """
    model = await bot.assets.decorate(bot, interaction.guild, model)
    png = await bot.render_pool.render(kind, model)
    name = filename or f"{kind}.png"
    embed.set_image(url=f"attachment://{name}")
    file = discord.File(io.BytesIO(png), filename=name, description=alt[:MAX_ALT])
    # Buttons to switch the period without retyping the command (bot/commands/views.py).
    buttons = period_buttons(interaction)
    if buttons is None:
        await interaction.followup.send(embed=embed, file=file, ephemeral=ephemeral)
        return
    buttons.message = await interaction.followup.send(
        embed=embed, file=file, ephemeral=ephemeral, view=buttons, wait=True
    )
