"""Report replies carry period buttons: pressing one runs the report again with that period."""

from __future__ import annotations

from typing import Any

import pytest

from cogs import TRACKING_EXTENSIONS
from sandbox import SandboxChannel, SandboxDiscord
from sandbox.interactions import InteractionReply, InteractionResult
from tests.conftest import Backend
from tests.support.live import flush, live_bot

pytestmark = pytest.mark.integration

EXTENSIONS = (*TRACKING_EXTENSIONS, "cogs.top", "cogs.stats")


async def answered(sb: SandboxDiscord, result: InteractionResult) -> InteractionReply:
    """The final reply, once the bot has read Discord's answer to it too (it keeps the buttons then).

    The sandbox records a reply before the bot has read the HTTP answer that carries the
    message's id, under which discord.py keeps the buttons; a gateway round trip after it
    lets the bot's loop read that answer first.
    """
    reply = await result.final()
    await sb.barrier()
    return reply


def buttons(reply: InteractionReply) -> dict[str, dict[str, Any]]:
    """The reply's buttons by label."""
    rows = reply.message.payload.get("components") or []
    return {b["label"]: b for row in rows for b in row["components"]}


async def test_a_period_button_reruns_the_report_with_that_period(backend: Backend) -> None:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Buttons Guild")
        general = sb.add_channel(guild, "general")
        alice = sb.add_member(guild, "alice")
        bob = sb.add_member(guild, "bob")
        async with live_bot(backend, sb, extensions=EXTENSIONS) as bot:
            for i in range(3):
                await sb.send_message(general, alice.user, f"hello {i}")
            await sb.barrier()
            await flush(bot)
            first = await answered(sb, await sb.invoke(guild, general, alice.user, "top", {"metric": "messages"}))
            shown = buttons(first)
            assert list(shown) == ["24 h", "7 days", "30 days", "90 days", "All time"]
            assert shown["7 days"]["disabled"] and not shown["30 days"].get("disabled")
            # Anyone may press: bob switches alice's leaderboard to all time.
            switched = await answered(sb, await sb.press(bob.user, first.message, shown["All time"]["custom_id"]))
            again = buttons(switched)
            assert again["All time"]["disabled"] and not again["7 days"].get("disabled")
            options: dict[str, SandboxChannel | str] = {"channel": general, "period": "30d"}
            channel = await answered(sb, await sb.invoke(guild, general, alice.user, "stats channel", options))
            day = await answered(sb, await sb.press(alice.user, channel.message, buttons(channel)["24 h"]["custom_id"]))
    assert first.embeds[0]["title"] == switched.embeds[0]["title"] == "Top 1 by messages"
    assert "7 days" in first.embeds[0]["footer"]["text"] or "7d" in first.embeds[0]["footer"]["text"]
    assert switched.embeds[0]["footer"]["text"] != first.embeds[0]["footer"]["text"]  # another period
    assert not switched.ephemeral and switched.files
    assert day.embeds and buttons(day)["24 h"]["disabled"]
    assert {f["name"]: f["value"] for f in day.embeds[0]["fields"]}["Messages"] == "3"
