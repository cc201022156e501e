"""SettingsHooks: /config reaches the cogs that registered, and only while they are loaded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import discord
import pytest
from discord.ext import commands

from bot.hooks import SettingsHooks, Topic
from cogs.digest import MentorDigest
from cogs.events import Events
from cogs.nudges import Nudges
from cogs.presence import PresenceTracker
from cogs.weekly import Weekly
from tests.unit.cogs.harness import Harness, HarnessBot

G = 120_000_000_000_000_001
OTHER = 120_000_000_000_000_002
GUILD = cast(discord.Guild, object())  # the hooks only pass it on


class Calls:
    """Records what a callback was called with."""

    def __init__(self) -> None:
        self.args: list[tuple[object, ...]] = []

    def replan(self, guild_id: int) -> None:
        self.args.append((guild_id,))

    def presence(self, guild: discord.Guild, enabled: bool) -> None:
        self.args.append((guild, enabled))


def test_replan_calls_only_the_named_topics() -> None:
    hooks = SettingsHooks()
    events, weekly, nudges = Calls(), Calls(), Calls()
    hooks.add_replan("events", events.replan)
    hooks.add_replan("weekly", weekly.replan)
    hooks.add_replan("nudges", nudges.replan)
    hooks.replan(G, "events", "weekly", "digest")  # nobody registered "digest": nothing happens
    hooks.replan(OTHER, "nudges")
    assert events.args == [(G,)]
    assert weekly.args == [(G,)]
    assert nudges.args == [(OTHER,)]


def test_a_removed_replan_is_not_called_and_a_stale_removal_keeps_the_new_one() -> None:
    hooks = SettingsHooks()
    old, new = Calls(), Calls()
    hooks.add_replan("digest", old.replan)
    hooks.remove_replan("digest", old.replan)
    hooks.replan(G, "digest")
    assert old.args == []
    hooks.add_replan("digest", new.replan)
    hooks.remove_replan("digest", old.replan)  # not the registered one: no effect
    hooks.replan(G, "digest")
    assert new.args == [(G,)]


def test_one_callback_per_topic() -> None:
    hooks = SettingsHooks()
    hooks.add_replan("weekly", Calls().replan)
    with pytest.raises(ValueError, match="weekly"):
        hooks.add_replan("weekly", Calls().replan)
    hooks.add_presence(Calls().presence)
    with pytest.raises(ValueError, match="presence"):
        hooks.add_presence(Calls().presence)


def test_presence_changed_reaches_the_registered_callback_until_removed() -> None:
    hooks = SettingsHooks()
    hooks.presence_changed(GUILD, True)  # nobody registered: nothing happens
    tracker = Calls()
    hooks.add_presence(tracker.presence)
    hooks.presence_changed(GUILD, True)
    hooks.presence_changed(GUILD, False)
    hooks.remove_presence(Calls().presence)  # not the registered one: no effect
    hooks.presence_changed(GUILD, True)
    hooks.remove_presence(tracker.presence)
    hooks.presence_changed(GUILD, False)
    assert tracker.args == [(GUILD, True), (GUILD, False), (GUILD, True)]


@pytest.fixture
async def bot() -> AsyncIterator[HarnessBot]:
    h = Harness()
    await h.start()
    yield h.bot
    await h.stop()


SCHEDULED: list[tuple[Topic, type[Events | Weekly | MentorDigest | Nudges]]] = [
    ("events", Events),
    ("weekly", Weekly),
    ("digest", MentorDigest),
    ("nudges", Nudges),
]


@pytest.mark.parametrize(("topic", "cog_class"), SCHEDULED)
async def test_a_scheduled_cog_hears_its_topic_while_loaded(
    bot: HarnessBot,
    monkeypatch: pytest.MonkeyPatch,
    topic: Topic,
    cog_class: type[Events | Weekly | MentorDigest | Nudges],
) -> None:
    cog = cog_class(bot)
    calls = Calls()
    # cog_load registers the bound ``replan`` it finds: this one records the calls.
    monkeypatch.setattr(cog, "replan", calls.replan)
    await bot.add_cog(cog)
    others = [t for t, _ in SCHEDULED if t != topic]
    bot.hooks.replan(G, *others)
    bot.hooks.replan(G, topic)
    assert calls.args == [(G,)]
    await bot.remove_cog(cog.qualified_name)
    bot.hooks.replan(G, topic)
    assert calls.args == [(G,)]


async def test_the_presence_tracker_hears_presence_changes_while_loaded(
    bot: HarnessBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = PresenceTracker(bot)
    calls = Calls()
    monkeypatch.setattr(tracker, "set_enabled", calls.presence)
    await bot.add_cog(tracker)
    bot.hooks.presence_changed(GUILD, True)
    assert calls.args == [(GUILD, True)]
    await bot.remove_cog(tracker.qualified_name)
    bot.hooks.presence_changed(GUILD, False)
    assert calls.args == [(GUILD, True)]


async def test_the_cogs_reload_without_a_duplicate_hook(bot: HarnessBot) -> None:
    cogs: list[commands.Cog] = [Events(bot), Nudges(bot), PresenceTracker(bot)]
    for cog in cogs:
        await bot.add_cog(cog)
        await bot.remove_cog(cog.qualified_name)
    for cog in [Events(bot), Nudges(bot), PresenceTracker(bot)]:
        await bot.add_cog(cog)  # the first ones removed their hooks: no ValueError
