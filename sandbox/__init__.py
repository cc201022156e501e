"""An offline Discord on loopback, for tests and the demo: REST v10 and gateway for discord.py.

Typical use::

    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Community")
        general = sb.add_channel(guild, "general")
        alice = sb.add_member(guild, "alice").user
        redirect_discord(sb.url)              # bot.api_url; or DISCORD_API_URL=sb.url for `python -m bot run`
        task = asyncio.create_task(bot.start(sb.token))
        await sb.wait_connected()             # READY and every GUILD_CREATE sent
        await sb.send_message(general, alice, "hi 🎉")
        await sb.barrier()                    # the client has parsed everything sent so far
        result = await sb.invoke(guild, general, alice, "stats user", {"member": alice})
        reply = await result.final(timeout=5)  # content, embeds, files (bytes, alt text), ephemeral

discord.py's URLs are class attributes, so one process talks to one sandbox at a time.
The sandbox imports nothing of the bot: it is a Discord, not a part of the product.
"""

from sandbox.interactions import InteractionReply, InteractionResult
from sandbox.rest import RecordedRequest
from sandbox.server import SandboxDiscord
from sandbox.state import (
    CustomEmoji,
    SandboxChannel,
    SandboxGuild,
    SandboxInvite,
    SandboxMember,
    SandboxRole,
    SandboxUser,
    SandboxVoiceState,
    StoredFile,
    StoredMessage,
    snowflake_at,
)

__all__ = [
    "CustomEmoji",
    "InteractionReply",
    "InteractionResult",
    "RecordedRequest",
    "SandboxChannel",
    "SandboxDiscord",
    "SandboxGuild",
    "SandboxInvite",
    "SandboxMember",
    "SandboxRole",
    "SandboxUser",
    "SandboxVoiceState",
    "StoredFile",
    "StoredMessage",
    "snowflake_at",
]
