"""EmojiTracker: emojis in message content and reactions added, kept apart by kind."""

from __future__ import annotations

from typing import Any

import pytest

from cogs.emojis import EmojiTracker
from cogs.messages import MessageTracker
from tests.unit.cogs.harness import T0, Harness, channel, guild, member, message

G = 110_000_000_000_000_001
TEXT = 110_000_000_000_000_010
THREAD = 110_000_000_000_000_012
ALICE = 210_000_000_000_000_001
BOB = 210_000_000_000_000_002
BOT = 210_000_000_000_000_009
PARTY = 123_456_789_012_345_678


@pytest.fixture
async def h(harness: Harness) -> Harness:
    await harness.bot.add_cog(MessageTracker(harness.bot))
    await harness.bot.add_cog(EmojiTracker(harness.bot))
    await harness.feed(
        "GUILD_CREATE",
        guild(
            G,
            channels=[channel(TEXT, G)],
            threads=[channel(THREAD, G, type=11, parent_id=TEXT)],
            members=[member(ALICE), member(BOB), member(BOT, bot=True)],
            emojis=[{"id": str(PARTY), "name": "party", "animated": False, "roles": [], "require_colons": True}],
        ),
    )
    return harness


def reaction(uid: int, emoji: dict[str, Any], *, channel_id: int = TEXT, bot: bool = False) -> dict[str, Any]:
    return {
        "user_id": str(uid),
        "channel_id": str(channel_id),
        "message_id": "110000000000000500",
        "guild_id": str(G),
        "member": member(uid, bot=bot),
        "emoji": emoji,
        "burst": False,
        "type": 0,
        "message_author_id": str(BOB),
    }


def emoji_counts(h: Harness, kind: str) -> dict[tuple[int, int, str], int]:
    return {(int(k[3]), int(k[4]), str(k[5])): v for k, v in h.series("emoji").items() if k[6] == kind}


async def test_message_emojis_each_occurrence(h: Harness) -> None:
    text = "🎉🎉 👨‍👩‍👧 👍🏽 ❤️ <:party:123456789012345678> <a:dance:223456789012345678>"
    await h.feed("MESSAGE_CREATE", message(h.new_id(), TEXT, G, ALICE, text))
    assert emoji_counts(h, "message") == {
        (TEXT, ALICE, "🎉"): 2,
        (TEXT, ALICE, "👨\u200d👩\u200d👧"): 1,
        (TEXT, ALICE, "👍🏽"): 1,
        (TEXT, ALICE, "❤"): 1,
        (TEXT, ALICE, "<:party:123456789012345678>"): 1,
        (TEXT, ALICE, "<a:dance:223456789012345678>"): 1,
    }
    assert all(k[2] == T0 for k in h.series("emoji"))


async def test_custom_emoji_counted_by_id_under_current_name(h: Harness) -> None:
    await h.feed("MESSAGE_CREATE", message(h.new_id(), TEXT, G, ALICE, "<:oldname:123456789012345678>"))
    assert emoji_counts(h, "message") == {(TEXT, ALICE, "<:party:123456789012345678>"): 1}


async def test_message_emojis_in_thread_under_thread(h: Harness) -> None:
    await h.feed("MESSAGE_CREATE", message(h.new_id(), THREAD, G, ALICE, "🎉"))
    assert emoji_counts(h, "message") == {(THREAD, ALICE, "🎉"): 1}


async def test_bots_webhooks_optouts_and_edits_do_not_count(h: Harness) -> None:
    h.bot.optouts.add(G, BOB)
    await h.feed("MESSAGE_CREATE", message(h.new_id(), TEXT, G, BOT, "🎉", bot=True))
    await h.feed("MESSAGE_CREATE", message(h.new_id(), TEXT, G, ALICE, "🎉", webhook_id=5))
    await h.feed("MESSAGE_CREATE", message(h.new_id(), TEXT, G, BOB, "🎉"))
    mid = h.new_id()
    await h.feed("MESSAGE_CREATE", message(mid, TEXT, G, ALICE, "🎉"))
    await h.feed("MESSAGE_UPDATE", message(mid, TEXT, G, ALICE, "🎉🎉🎉"))
    assert emoji_counts(h, "message") == {(TEXT, ALICE, "🎉"): 1}


async def test_reactions_added_count_and_removals_do_not_subtract(h: Harness) -> None:
    h.clock.advance(7200 + 5)
    await h.feed("MESSAGE_REACTION_ADD", reaction(ALICE, {"id": None, "name": "❤️"}))
    await h.feed("MESSAGE_REACTION_ADD", reaction(BOB, {"id": str(PARTY), "name": "party", "animated": False}))
    await h.feed(
        "MESSAGE_REACTION_ADD", reaction(ALICE, {"id": "223456789012345678", "name": "dance", "animated": True})
    )
    await h.feed("MESSAGE_REACTION_ADD", reaction(ALICE, {"id": None, "name": "🎉"}, channel_id=THREAD))
    remove = reaction(ALICE, {"id": None, "name": "❤️"})
    del remove["member"]
    await h.feed("MESSAGE_REACTION_REMOVE", remove)
    assert emoji_counts(h, "reaction") == {
        (TEXT, ALICE, "❤"): 1,
        (TEXT, BOB, "<:party:123456789012345678>"): 1,
        (TEXT, ALICE, "<a:dance:223456789012345678>"): 1,
        (THREAD, ALICE, "🎉"): 1,
    }
    assert emoji_counts(h, "message") == {}
    assert {k[2] for k in h.series("emoji")} == {T0 + 7200}


async def test_reactions_by_bots_and_opted_out_members_are_ignored(h: Harness) -> None:
    h.bot.optouts.add(G, BOB)
    await h.feed("MESSAGE_REACTION_ADD", reaction(BOT, {"id": None, "name": "🎉"}, bot=True))
    await h.feed("MESSAGE_REACTION_ADD", reaction(BOB, {"id": None, "name": "🎉"}))
    assert h.series("emoji") == {}
