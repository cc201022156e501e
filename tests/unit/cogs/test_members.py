"""MemberNames: the last display name, join and leave of each member, as records; never bots or opted-out members."""

from __future__ import annotations

import pytest

from cogs.members import MemberNames
from tests.unit.cogs.harness import T0, Harness, channel, guild, member, user

G = 150_000_000_000_000_001
TEXT = 150_000_000_000_000_010
ANA = 250_000_000_000_000_001
BOB = 250_000_000_000_000_002
NEW = 250_000_000_000_000_011
SOMEBOT = 250_000_000_000_000_099
JOINED = 1_767_225_600  # 2026-01-01T00:00:00Z, the harness's member join time


@pytest.fixture
async def h(harness: Harness) -> Harness:
    await harness.bot.add_cog(MemberNames(harness.bot))
    return harness


def names(h: Harness) -> dict[int, tuple[object, ...]]:
    return {int(k[2]): v for k, v in h.kind("mname").items()}


async def test_members_are_recorded_when_the_guild_arrives_and_when_they_join_and_leave(h: Harness) -> None:
    await h.feed(
        "GUILD_CREATE",
        guild(G, channels=[channel(TEXT, G)], members=[member(ANA), member(BOB), member(SOMEBOT, bot=True)]),
    )
    seen = names(h)
    assert set(seen) == {ANA, BOB}  # no bot
    assert seen[ANA] == ("user1", JOINED, None, int(T0))
    h.clock.advance(60)
    await h.feed("GUILD_MEMBER_ADD", {**member(NEW, joined_at="2026-11-22T10:00:00+00:00"), "guild_id": str(G)})
    assert names(h)[NEW][1] == 1_795_341_600 and names(h)[NEW][2] is None
    h.clock.advance(60)
    await h.feed("GUILD_MEMBER_REMOVE", {"guild_id": str(G), "user": user(ANA)})
    # The last name seen, the join time discord.py had cached, and when the member left.
    assert names(h)[ANA] == ("user1", JOINED, int(T0) + 120, int(T0) + 120)


async def test_opted_out_members_get_no_record(h: Harness) -> None:
    h.bot.optouts.add(G, BOB)
    await h.feed("GUILD_CREATE", guild(G, channels=[channel(TEXT, G)], members=[member(ANA), member(BOB)]))
    await h.feed("GUILD_MEMBER_REMOVE", {"guild_id": str(G), "user": user(BOB)})
    assert set(names(h)) == {ANA}
