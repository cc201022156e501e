"""Slash commands synced by a real commands.Bot, invoked in the sandbox and answered."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from sandbox import SandboxDiscord
from tests.sandbox import READY_TIMEOUT, intents, race, running

PNG = b"\x89PNG\r\n\x1a\nnot really a picture"


class Demo(commands.Cog):
    """Commands that answer in each of the ways the real bot does."""

    group = app_commands.Group(name="stats", description="Activity statistics")

    @group.command(name="user", description="A member card")
    @app_commands.describe(member="Whose card", period="Which period")
    async def user(self, interaction: discord.Interaction, member: discord.Member, period: str = "7d") -> None:
        embed = discord.Embed(title=f"{member.display_name} ({period})")
        embed.add_field(name="Messages", value="1,234")
        embed.add_field(name="Channel", value=str(interaction.channel_id))
        file = discord.File(io.BytesIO(PNG), filename="card.png", description="Messages: 1,234")
        await interaction.response.send_message(embed=embed, file=file)

    @app_commands.command(name="slow", description="Defers, then follows up")
    async def slow(self, interaction: discord.Interaction, channel: discord.TextChannel, limit: int) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(f"{channel.mention} top {limit}")

    @app_commands.command(name="private", description="Answers only to you")
    async def private(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Nothing recorded for you in this period.", ephemeral=True)

    @app_commands.command(name="edited", description="Defers ephemerally, then edits the original")
    async def edited(self, interaction: discord.Interaction, role: discord.Role) -> None:
        await interaction.response.defer(ephemeral=True)
        await interaction.edit_original_response(content=f"{role.name} has {len(role.members)} members")


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[SandboxDiscord]:
    async with SandboxDiscord() as sandbox:
        guild = sandbox.add_guild("Commands", guild_id=sandbox.snowflake())
        sandbox.add_channel(guild, "general")
        sandbox.add_member(guild, "alice")
        yield sandbox


@pytest.fixture(scope="module")
async def bot(sandbox: SandboxDiscord) -> AsyncIterator[commands.Bot]:
    bot = commands.Bot(command_prefix="!", intents=intents(), guild_ready_timeout=READY_TIMEOUT)
    await bot.add_cog(Demo())
    async with running(bot, sandbox) as (bot, task):
        await race(bot.tree.sync(), task)
        yield bot


def _place(sandbox: SandboxDiscord) -> tuple[int, int, int]:
    """The guild, channel and user ids the invocations use."""
    guild = next(iter(sandbox.world.guilds.values()))
    channel = next(c for c in guild.channels.values())
    alice = next(m.user for m in guild.members.values() if m.user.username == "alice")
    return guild.id, channel.id, alice.id


async def test_sync_registers_the_commands(sandbox: SandboxDiscord, bot: commands.Bot) -> None:
    names = sorted(c["name"] for c in sandbox.world.global_commands)
    assert names == ["edited", "private", "slow", "stats"]
    assert [r.method for r in sandbox.requests if r.path.endswith("/commands")] == ["PUT"]
    assert not sandbox.unknown_routes


async def test_file_and_embed_reply(sandbox: SandboxDiscord, bot: commands.Bot) -> None:
    guild_id, channel_id, alice = _place(sandbox)
    result = await sandbox.invoke(guild_id, channel_id, alice, "stats user", {"member": alice, "period": "30d"})
    reply = await result.final(timeout=5)
    assert reply.kind == "callback" and not reply.ephemeral and not result.deferred
    (embed,) = reply.embeds
    assert embed["title"] == "Alice (30d)"
    assert embed["fields"][0] == {"name": "Messages", "value": "1,234", "inline": True}
    assert embed["fields"][1]["value"] == str(channel_id)
    (file,) = reply.files
    assert (file.filename, file.data, file.description) == ("card.png", PNG, "Messages: 1,234")
    posted = sandbox.messages_in(channel_id, by_bot=True)
    assert [m.id for m in posted] == [reply.message.id]


async def test_deferred_command_answered_by_followup(sandbox: SandboxDiscord, bot: commands.Bot) -> None:
    guild_id, channel_id, alice = _place(sandbox)
    result = await sandbox.invoke(guild_id, channel_id, alice, "slow", {"channel": channel_id, "limit": 3})
    reply = await result.final()
    assert result.deferred and reply.kind == "followup"
    assert reply.content == f"<#{channel_id}> top 3"
    # the follow-up took the place of the "thinking…" message, as on Discord
    assert result.original is not None and reply.message.id == result.original.id
    assert sandbox.messages_in(channel_id, by_bot=True)[-1].id == reply.message.id


async def test_ephemeral_reply(sandbox: SandboxDiscord, bot: commands.Bot) -> None:
    guild_id, channel_id, alice = _place(sandbox)
    result = await sandbox.invoke(guild_id, channel_id, alice, "private")
    reply = await result.final()
    assert reply.ephemeral and reply.content.startswith("Nothing recorded")
    assert reply.message.id not in {m.id for m in sandbox.messages_in(channel_id)}


async def test_ephemeral_deferral_answered_by_edit(sandbox: SandboxDiscord, bot: commands.Bot) -> None:
    guild_id, channel_id, alice = _place(sandbox)
    everyone = sandbox.world.guilds[guild_id].everyone
    result = await sandbox.invoke(guild_id, channel_id, alice, "edited", {"role": everyone})
    reply = await result.final()
    assert result.deferred and result.deferred_ephemeral
    assert reply.kind == "edit" and reply.ephemeral and reply.content == "@everyone has 3 members"


async def test_unknown_option_is_refused(sandbox: SandboxDiscord, bot: commands.Bot) -> None:
    guild_id, channel_id, alice = _place(sandbox)
    with pytest.raises(ValueError, match="no option 'nope'"):
        await sandbox.invoke(guild_id, channel_id, alice, "private", {"nope": 1})
    with pytest.raises(LookupError):
        await sandbox.invoke(guild_id, channel_id, alice, "missing")


async def test_rate_limited_callback_is_retried(sandbox: SandboxDiscord, bot: commands.Bot) -> None:
    guild_id, channel_id, alice = _place(sandbox)
    sandbox.rate_limit("/callback", retry_after=0.01)
    result = await sandbox.invoke(guild_id, channel_id, alice, "private")
    reply = await result.final()
    assert reply.ephemeral
    callbacks = [r.status for r in sandbox.requests if r.path.startswith(f"/interactions/{result.id}/")]
    assert callbacks == [429, 200]
