"""AppTracker: this bot's commands and other apps' commands seen on their replies."""

from __future__ import annotations

from typing import Any

import pytest

from bot.tracking.snowflakes import snowflake_hour
from cogs.apps import AppTracker, RecentIds, command_path
from tests.unit.cogs.harness import APP_ID, Harness, channel, guild, member, message, user

G = 130_000_000_000_000_001
TEXT = 130_000_000_000_000_010
ALICE = 230_000_000_000_000_001
BOB = 230_000_000_000_000_002
OTHER_APP = 330_000_000_000_000_001


@pytest.fixture
async def h(harness: Harness) -> Harness:
    await harness.bot.add_cog(AppTracker(harness.bot))
    await harness.feed("GUILD_CREATE", guild(G, channels=[channel(TEXT, G)], members=[member(ALICE), member(BOB)]))
    return harness


def interaction(iid: int, uid: int, data: dict[str, Any], *, type: int = 2) -> dict[str, Any]:
    return {
        "id": str(iid),
        "application_id": str(APP_ID),
        "type": type,
        "token": "tok",
        "version": 1,
        "data": data,
        "guild_id": str(G),
        "channel_id": str(TEXT),
        "channel": {"id": str(TEXT), "type": 0, "guild_id": str(G), "name": "general", "position": 0},
        "member": {**member(uid), "permissions": "0"},
        "app_permissions": "0",
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(G)},
        "context": 0,
        "attachment_size_limit": 8_000_000,
    }


def app_reply(h: Harness, iid: int, uid: int, *, name: str | None, legacy_name: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"id": str(iid), "type": 2, "user": user(uid), "authorizing_integration_owners": {}}
    if name is not None:
        meta["name"] = name
    legacy = None
    if legacy_name is not None:
        legacy = {"id": str(iid), "type": 2, "name": legacy_name, "user": user(uid)}
    return message(
        h.new_id(),
        TEXT,
        G,
        OTHER_APP,
        "result",
        bot=True,
        type=20,
        application_id=OTHER_APP,
        interaction_metadata=meta,
        interaction=legacy,
    )


def uses(h: Harness) -> dict[tuple[int, int, str], int]:
    return {(int(k[4]), int(k[5]), str(k[6])): v for k, v in h.series("app").items()}


def test_command_path() -> None:
    assert command_path({"name": "stats", "options": [{"type": 1, "name": "user", "options": []}]}) == "stats user"
    group = {"name": "config", "options": [{"type": 2, "name": "event", "options": [{"type": 1, "name": "add"}]}]}
    assert command_path(group) == "config event add"
    assert command_path({"name": "top", "options": [{"type": 3, "name": "metric", "value": "voice"}]}) == "top"


def test_recent_ids_are_bounded() -> None:
    r = RecentIds(3)
    assert all(r.add(i) for i in range(5))
    assert len(r) == 3
    assert not r.add(4)
    assert r.add(0)  # forgotten


async def test_own_interactions_one_use_per_id(h: Harness) -> None:
    iid = h.new_id()
    data = {"id": "1", "name": "stats", "type": 1, "options": [{"type": 1, "name": "user", "options": []}]}
    await h.feed("INTERACTION_CREATE", interaction(iid, ALICE, data))
    await h.feed("INTERACTION_CREATE", interaction(iid, ALICE, data))  # a duplicate delivery
    await h.feed("INTERACTION_CREATE", interaction(h.new_id(), BOB, {"id": "2", "name": "top", "type": 1}))
    assert uses(h) == {(ALICE, APP_ID, "stats user"): 1, (BOB, APP_ID, "top"): 1}
    key = next(k for k in h.series("app") if k[4] == ALICE)
    assert key[2] == snowflake_hour(iid) and key[3] == TEXT


async def test_component_interactions_and_opted_out_members_are_not_commands(h: Harness) -> None:
    h.bot.optouts.add(G, BOB)
    await h.feed("INTERACTION_CREATE", interaction(h.new_id(), BOB, {"id": "2", "name": "top", "type": 1}))
    button = interaction(h.new_id(), ALICE, {"custom_id": "x", "component_type": 2}, type=3)
    button["message"] = message(h.new_id(), TEXT, G, 900_000_000_000_000_001, "hi", bot=True)
    await h.feed("INTERACTION_CREATE", button)
    assert uses(h) == {}


async def test_other_apps_commands_from_their_replies(h: Harness) -> None:
    i1, i2, i3 = h.new_id(), h.new_id(), h.new_id()
    await h.feed("MESSAGE_CREATE", app_reply(h, i1, ALICE, name="play"))
    await h.feed("MESSAGE_CREATE", app_reply(h, i1, ALICE, name="play"))  # a follow-up of the same use
    await h.feed("MESSAGE_CREATE", app_reply(h, i2, BOB, name=None, legacy_name="queue show"))
    await h.feed("MESSAGE_CREATE", app_reply(h, i3, BOB, name=None))
    assert uses(h) == {
        (ALICE, OTHER_APP, "play"): 1,
        (BOB, OTHER_APP, "queue show"): 1,
        (BOB, OTHER_APP, "unknown"): 1,
    }


async def test_raw_name_wins_over_the_legacy_interaction_name(h: Harness) -> None:
    await h.feed("MESSAGE_CREATE", app_reply(h, h.new_id(), ALICE, name="raw", legacy_name="legacy"))
    assert uses(h) == {(ALICE, OTHER_APP, "raw"): 1}


async def test_own_replies_and_opted_out_members_are_skipped(h: Harness) -> None:
    own = app_reply(h, h.new_id(), ALICE, name="stats")
    own["application_id"] = str(APP_ID)
    await h.feed("MESSAGE_CREATE", own)
    h.bot.optouts.add(G, BOB)
    await h.feed("MESSAGE_CREATE", app_reply(h, h.new_id(), BOB, name="play"))
    assert uses(h) == {}


async def test_unloading_restores_the_message_parser(h: Harness) -> None:
    parsers = h.bot._connection.parsers
    wrapped = parsers["MESSAGE_CREATE"]
    await h.bot.remove_cog("AppTracker")
    assert parsers["MESSAGE_CREATE"] is not wrapped
    assert parsers["MESSAGE_CREATE"].__name__ == "parse_message_create"
