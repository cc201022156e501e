"""MessageTracker: which messages count, what they add, where threads go."""

from __future__ import annotations

import discord
import pytest

from cogs.messages import MessageTracker
from db.series import hour_of
from tests.unit.cogs.harness import T0, Harness, channel, guild, member, message

G = 100_000_000_000_000_001
TEXT = 100_000_000_000_000_010
FORUM = 100_000_000_000_000_011
THREAD = 100_000_000_000_000_012
POST = 100_000_000_000_000_013
VOICE = 100_000_000_000_000_014
ALICE = 200_000_000_000_000_001
BOB = 200_000_000_000_000_002


@pytest.fixture
async def h(harness: Harness) -> Harness:
    await harness.bot.add_cog(MessageTracker(harness.bot))
    await harness.feed(
        "GUILD_CREATE",
        guild(
            G,
            channels=[channel(TEXT, G), channel(FORUM, G, type=15), channel(VOICE, G, type=2)],
            threads=[channel(THREAD, G, type=11, parent_id=TEXT), channel(POST, G, type=11, parent_id=FORUM)],
            members=[member(ALICE), member(BOB)],
        ),
    )
    return harness


async def test_counts_messages_characters_attachments_replies(h: Harness) -> None:
    first = h.new_id()
    await h.feed("MESSAGE_CREATE", message(first, TEXT, G, ALICE, "héllo 🎉", attachments=2))
    await h.feed("MESSAGE_CREATE", message(h.new_id(), TEXT, G, ALICE, "<@123> hi", reply_to=first))
    hour = hour_of(T0)
    base = ("msg", G, hour, TEXT, ALICE)
    assert h.counters[(*base, "messages")] == 2
    # Code points as received: "héllo 🎉" is 7, "<@123> hi" is 9.
    assert h.counters[(*base, "characters")] == 16
    assert h.counters[(*base, "attachments")] == 2
    assert h.counters[(*base, "replies")] == 1


async def test_forward_is_not_a_reply(h: Harness) -> None:
    await h.feed("MESSAGE_CREATE", message(h.new_id(), TEXT, G, ALICE, "", forward_of=h.new_id()))
    assert h.total("msg", "messages") == 1
    assert h.total("msg", "replies") == 0


async def test_hour_comes_from_the_snowflake(h: Harness) -> None:
    # The clock says one time, the message id another: the id wins.
    h.clock.advance(5 * 3600)
    mid = h.new_id(at=T0 + 3599)
    await h.feed("MESSAGE_CREATE", message(mid, TEXT, G, ALICE, "x"))
    assert h.counters[("msg", G, T0, TEXT, ALICE, "messages")] == 1
    assert discord.utils.snowflake_time(mid).timestamp() // 3600 * 3600 == T0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bot": True},
        {"webhook_id": 555_000_000_000_000_000},
        {"type": 7},  # member join system message
        {"type": 6},  # pin notification
        {"type": 21},  # thread starter
    ],
)
async def test_bots_webhooks_and_system_messages_are_ignored(h: Harness, kwargs: dict[str, object]) -> None:
    author = 200_000_000_000_000_777 if kwargs.get("bot") else ALICE
    await h.feed("MESSAGE_CREATE", message(h.new_id(), TEXT, G, author, "hello", **kwargs))  # type: ignore[arg-type]
    assert h.series("msg") == {}


async def test_dms_and_voice_chat_are_not_counted(h: Harness) -> None:
    dm = message(h.new_id(), 300_000_000_000_000_000, G, ALICE, "hi")
    del dm["guild_id"]
    del dm["member"]
    await h.feed("MESSAGE_CREATE", dm)
    await h.feed("MESSAGE_CREATE", message(h.new_id(), VOICE, G, ALICE, "hi"))
    assert h.series("msg") == {}


async def test_opted_out_member_is_ignored(h: Harness) -> None:
    h.bot.optouts.add(G, BOB)
    await h.feed("MESSAGE_CREATE", message(h.new_id(), TEXT, G, BOB, "secret"))
    await h.feed("MESSAGE_CREATE", message(h.new_id(), TEXT, G, ALICE, "hi"))
    assert h.total("msg", "messages", user_id=BOB) == 0
    assert h.total("msg", "messages", user_id=ALICE) == 1


async def test_threads_and_forum_posts_counted_under_the_thread_with_parent_record(h: Harness) -> None:
    await h.feed("MESSAGE_CREATE", message(h.new_id(), THREAD, G, ALICE, "in thread"))
    await h.feed("MESSAGE_CREATE", message(h.new_id(), POST, G, BOB, "in post"))
    assert h.total("msg", "messages", channel_id=THREAD) == 1
    assert h.total("msg", "messages", channel_id=POST) == 1
    assert h.total("msg", "messages", channel_id=TEXT) == 0
    chans = h.kind("channel")
    assert chans[("channel", G, THREAD)] == (TEXT, "public_thread", f"channel-{THREAD % 1000}")
    assert chans[("channel", G, POST)][0] == FORUM
    assert chans[("channel", G, TEXT)][0] is None


async def test_thread_created_later_is_recorded(h: Harness) -> None:
    new_thread = 100_000_000_000_000_099
    await h.feed("THREAD_CREATE", {**channel(new_thread, G, type=11, parent_id=FORUM), "newly_created": True})
    await h.feed("MESSAGE_CREATE", message(h.new_id(), new_thread, G, ALICE, "first post"))
    assert h.kind("channel")[("channel", G, new_thread)][0] == FORUM
    assert h.total("msg", "messages", channel_id=new_thread) == 1


async def test_edits_and_deletes_change_nothing(h: Harness) -> None:
    mid = h.new_id()
    await h.feed("MESSAGE_CREATE", message(mid, TEXT, G, ALICE, "hello"))
    before = dict(h.series("msg"))
    await h.feed("MESSAGE_UPDATE", {**message(mid, TEXT, G, ALICE, "hello, edited 🎉"), "edited_timestamp": None})
    await h.feed("MESSAGE_DELETE", {"id": str(mid), "channel_id": str(TEXT), "guild_id": str(G)})
    assert h.series("msg") == before


async def test_message_in_a_thread_not_yet_cached_counts_under_the_thread(h: Harness) -> None:
    unseen = 100_000_000_000_000_077
    await h.feed("MESSAGE_CREATE", message(h.new_id(), unseen, G, ALICE, "hi"))
    assert h.total("msg", "messages", channel_id=unseen) == 1
