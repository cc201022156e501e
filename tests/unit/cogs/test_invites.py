"""InviteTracker: joins attributed by comparing invite use counts; never a guess."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from cogs.invites import InviteTracker
from tests.unit.cogs.harness import T0, Harness, channel, guild, member, user

G = 140_000_000_000_000_001
TEXT = 140_000_000_000_000_010
ALICE = 240_000_000_000_000_001
BOB = 240_000_000_000_000_002
NEW1 = 240_000_000_000_000_011
NEW2 = 240_000_000_000_000_012
SOMEBOT = 240_000_000_000_000_099


class FakeDiscord:
    """What Discord's REST API answers about the guild's invites (the state on Discord's side)."""

    def __init__(self) -> None:
        self.invites: dict[str, dict[str, Any]] = {}
        self.vanity_uses = 0
        self.fail = False
        self.fetches = 0

    def add(self, code: str, inviter: int, *, uses: int = 0, max_uses: int = 0) -> None:
        self.invites[code] = {
            "code": code,
            "type": 0,
            "channel": {"id": str(TEXT), "name": "general", "type": 0},
            "inviter": user(inviter),
            "uses": uses,
            "max_uses": max_uses,
            "max_age": 0,
            "temporary": False,
            "created_at": "2026-11-01T00:00:00+00:00",
        }

    def use(self, code: str) -> None:
        inv = self.invites[code]
        inv["uses"] += 1
        if inv["max_uses"] and inv["uses"] >= inv["max_uses"]:
            del self.invites[code]

    async def invites_from(self, guild_id: int) -> list[dict[str, Any]]:
        self.fetches += 1
        if self.fail:
            raise discord.HTTPException(_Response(500), "boom")
        return [dict(v) for v in self.invites.values()]

    async def get_vanity_code(self, guild_id: int) -> dict[str, Any]:
        return {"code": "cool", "uses": self.vanity_uses}


class _Response:
    def __init__(self, status: int) -> None:
        self.status = status
        self.reason = "error"


@pytest.fixture
async def h(harness: Harness) -> Harness:
    return harness


async def start(h: Harness, api: FakeDiscord, *, vanity: bool = False) -> None:
    h.bot.http.invites_from = api.invites_from  # type: ignore[method-assign, assignment]
    h.bot.http.get_vanity_code = api.get_vanity_code  # type: ignore[method-assign, assignment]
    await h.bot.add_cog(InviteTracker(h.bot))
    features = ["VANITY_URL"] if vanity else []
    await h.feed(
        "GUILD_CREATE", guild(G, channels=[channel(TEXT, G)], members=[member(ALICE), member(BOB)], features=features)
    )


def member_add(uid: int, *, bot: bool = False) -> dict[str, Any]:
    return {**member(uid, bot=bot, joined_at="2026-11-22T10:00:00+00:00"), "guild_id": str(G)}


def joins(h: Harness) -> dict[int, tuple[Any, ...]]:
    return {int(k[2]): v for k, v in h.kind("join").items()}


async def test_one_invite_grew_by_one(h: Harness) -> None:
    api = FakeDiscord()
    api.add("abc", ALICE, uses=3)
    api.add("xyz", BOB)
    await start(h, api)
    assert h.kind("invite")[("invite", G, "abc")] == (ALICE, TEXT, 0, 0, 1_793_491_200, 3, None)
    api.use("abc")
    await h.feed("GUILD_MEMBER_ADD", member_add(NEW1))
    assert joins(h) == {NEW1: ("abc", ALICE)}
    joined_at = next(iter(h.kind("join")))[3]
    assert joined_at == 1_795_341_600  # the member's joined_at
    assert h.kind("invite")[("invite", G, "abc")][5] == 4


async def test_simultaneous_joins_are_unknown(h: Harness) -> None:
    api = FakeDiscord()
    api.add("abc", ALICE)
    api.add("xyz", BOB)
    await start(h, api)
    api.use("abc")
    api.use("xyz")
    parse = h.bot._connection.parsers["GUILD_MEMBER_ADD"]
    parse(member_add(NEW1))
    parse(member_add(NEW2))
    await h.drain()
    assert joins(h) == {NEW1: ("unknown", None), NEW2: ("unknown", None)}
    # The next lone join is attributed again.
    api.use("xyz")
    await h.feed("GUILD_MEMBER_ADD", member_add(240_000_000_000_000_013))
    assert joins(h)[240_000_000_000_000_013] == ("xyz", BOB)


async def test_same_invite_twice_between_looks_is_unknown(h: Harness) -> None:
    api = FakeDiscord()
    api.add("abc", ALICE)
    await start(h, api)
    api.use("abc")
    api.use("abc")
    await h.feed("GUILD_MEMBER_ADD", member_add(NEW1))
    assert joins(h) == {NEW1: ("unknown", None)}


async def test_vanity_join(h: Harness) -> None:
    api = FakeDiscord()
    api.add("abc", ALICE)
    api.vanity_uses = 10
    await start(h, api, vanity=True)
    api.vanity_uses += 1
    await h.feed("GUILD_MEMBER_ADD", member_add(NEW1))
    assert joins(h) == {NEW1: ("vanity", None)}


async def test_invite_at_max_uses_vanishing_is_the_one_used(h: Harness) -> None:
    api = FakeDiscord()
    api.add("once", ALICE, max_uses=1)
    api.add("abc", BOB)
    await start(h, api)
    api.use("once")  # Discord deletes it: it is gone from the next look
    h.clock.advance(2)
    await h.feed("INVITE_DELETE", {"channel_id": str(TEXT), "guild_id": str(G), "code": "once"})
    await h.feed("GUILD_MEMBER_ADD", member_add(NEW1))
    assert joins(h) == {NEW1: ("once", ALICE)}
    assert h.kind("invite")[("invite", G, "once")][6] == int(T0) + 2


async def test_vanished_invite_with_another_candidate_is_unknown(h: Harness) -> None:
    api = FakeDiscord()
    api.add("once", ALICE, max_uses=1)
    api.add("abc", BOB)
    await start(h, api)
    api.use("once")
    api.use("abc")
    await h.feed("GUILD_MEMBER_ADD", member_add(NEW1))
    assert joins(h) == {NEW1: ("unknown", None)}


async def test_nothing_grew_or_fetch_failed_is_unknown(h: Harness) -> None:
    api = FakeDiscord()
    api.add("abc", ALICE)
    await start(h, api)
    await h.feed("GUILD_MEMBER_ADD", member_add(NEW1))
    api.use("abc")
    api.fail = True
    await h.feed("GUILD_MEMBER_ADD", member_add(NEW2))
    assert joins(h) == {NEW1: ("unknown", None), NEW2: ("unknown", None)}


async def test_invite_created_after_the_look_is_tracked(h: Harness) -> None:
    api = FakeDiscord()
    await start(h, api)
    api.add("fresh", BOB)
    await h.feed(
        "INVITE_CREATE",
        {
            "channel_id": str(TEXT),
            "guild_id": str(G),
            "code": "fresh",
            "created_at": "2026-11-22T10:00:00+00:00",
            "inviter": user(BOB),
            "max_age": 3600,
            "max_uses": 5,
            "temporary": False,
            "uses": 0,
            "type": 0,
        },
    )
    assert h.kind("invite")[("invite", G, "fresh")] == (BOB, TEXT, 5, 3600, 1_795_341_600, 0, None)
    api.use("fresh")
    await h.feed("GUILD_MEMBER_ADD", member_add(NEW1))
    assert joins(h) == {NEW1: ("fresh", BOB)}


async def test_bots_and_opted_out_members_leave_no_join_or_leave(h: Harness) -> None:
    api = FakeDiscord()
    api.add("abc", ALICE)
    await start(h, api)
    h.bot.optouts.add(G, NEW1)
    api.use("abc")
    await h.feed("GUILD_MEMBER_ADD", member_add(NEW1))
    await h.feed("GUILD_MEMBER_ADD", member_add(SOMEBOT, bot=True))
    await h.feed("GUILD_MEMBER_REMOVE", {"guild_id": str(G), "user": user(NEW1)})
    await h.feed("GUILD_MEMBER_REMOVE", {"guild_id": str(G), "user": user(SOMEBOT, bot=True)})
    assert joins(h) == {}
    assert h.kind("leave") == {}
    # The opted-out member's use was still looked at: the next join is attributed correctly.
    api.use("abc")
    await h.feed("GUILD_MEMBER_ADD", member_add(NEW2))
    assert joins(h) == {NEW2: ("abc", ALICE)}


async def test_leave_is_recorded(h: Harness) -> None:
    api = FakeDiscord()
    await start(h, api)
    h.clock.advance(100)
    await h.feed("GUILD_MEMBER_REMOVE", {"guild_id": str(G), "user": user(ALICE)})
    assert h.kind("leave") == {("leave", G, ALICE, int(T0) + 100): ()}


async def test_opted_out_inviter_is_not_named(h: Harness) -> None:
    api = FakeDiscord()
    api.add("abc", ALICE)
    h.bot.optouts.add(G, ALICE)
    await start(h, api)
    api.use("abc")
    await h.feed("GUILD_MEMBER_ADD", member_add(NEW1))
    assert joins(h) == {NEW1: ("abc", None)}
    assert h.kind("invite")[("invite", G, "abc")][0] is None
