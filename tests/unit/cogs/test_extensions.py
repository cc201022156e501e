"""The tracking extensions load and unload as the Bot will load them."""

from __future__ import annotations

from cogs import TRACKING_EXTENSIONS
from tests.unit.cogs.harness import Harness


async def test_every_tracking_extension_loads_and_unloads(harness: Harness) -> None:
    bot = harness.bot
    for ext in TRACKING_EXTENSIONS:
        await bot.load_extension(ext)
    assert set(bot.cogs) == {
        "MessageTracker",
        "EmojiTracker",
        "AppTracker",
        "VoiceTracker",
        "InviteTracker",
        "Backfill",
        "CatchUp",
        "PresenceTracker",
        "MemberNames",
    }
    # One task per message for all tracking: a single on_message listener (the feed).
    assert len(bot.extra_events["on_message"]) == 1
    backfill = bot.tree.get_command("backfill")
    assert backfill is not None
    assert backfill.default_permissions is not None and backfill.default_permissions.manage_guild
    for ext in reversed(TRACKING_EXTENSIONS):
        await bot.unload_extension(ext)
    assert not bot.extra_events.get("on_message")
    assert bot.tree.get_command("backfill") is None
