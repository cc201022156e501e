"""Image commands have cooldowns: past them a member gets one short ephemeral "try again in N s"."""

from __future__ import annotations

import re

import pytest

from bot.commands.options import MEMBER_IMAGES
from sandbox import SandboxDiscord
from tests.conftest import Backend
from tests.support.live import live_bot

pytestmark = pytest.mark.integration


async def test_a_member_over_the_image_cooldown_is_told_when_to_try_again(backend: Backend) -> None:
    rate, _per = MEMBER_IMAGES
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Cooldown Guild")
        general = sb.add_channel(guild, "general")
        alice = sb.add_member(guild, "alice")
        bob = sb.add_member(guild, "bob")
        async with live_bot(backend, sb, extensions=("cogs.top",)) as bot:
            bot.command_cooldowns = True  # as in production (the demo's bot turns them off)
            for _ in range(rate):
                reply = await (await sb.invoke(guild, general, alice.user, "top", {"metric": "messages"})).final()
                assert "Slow down" not in reply.content  # nothing recorded yet: its own answer
            over = await (await sb.invoke(guild, general, alice.user, "top", {"metric": "messages"})).final()
            other = await (await sb.invoke(guild, general, bob.user, "top", {"metric": "messages"})).final()
    assert over.ephemeral and not over.embeds and len(over.content) <= 200
    assert re.fullmatch(r"Slow down: try again in \d+ s\.", over.content), over.content
    assert "Slow down" not in other.content  # per member: bob is not held up by alice
