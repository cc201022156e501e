"""Custom emoji images and avatars through discord.py from the sandbox's CDN: cached on disk, bounded, misses kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.reports.assets import AssetCache
from sandbox import SandboxDiscord
from tests.conftest import Backend
from tests.support.live import live_bot

pytestmark = pytest.mark.integration

PNG = b"\x89PNG\r\n\x1a\n"


async def test_images_are_fetched_once_cached_on_disk_and_bounded(backend: Backend, tmp_path: Path) -> None:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Pictures Guild")
        plain = sb.add_member(guild, "plain")
        pictured = sb.add_member(guild, "pictured")
        pictured.user.avatar = "0123456789abcdef0123456789abcdef"
        async with live_bot(backend, sb, extensions=("cogs.stats",)) as bot:
            cache = AssetCache(tmp_path / "assets", max_bytes=10_000)
            first = await cache.emoji(bot, "<:pepe_study:712345678901234561>")
            again = await cache.emoji(bot, "<:pepe_study:712345678901234561>")
            assert first is not None and first.startswith(PNG) and again == first
            assert cache.fetches == 1  # the second came from disk
            assert await cache.emoji(bot, "🎉") is None  # unicode emojis are drawn from the font
            cached = bot.get_guild(guild.id)
            assert cached is not None
            with_avatar, without = cached.get_member(pictured.user.id), cached.get_member(plain.user.id)
            assert with_avatar is not None and without is not None
            avatar = await cache.avatar(with_avatar)
            assert avatar is not None and avatar.startswith(PNG)
            assert await cache.avatar(without) is None  # Discord's default avatar: initials instead
            # A lost image (the member changed their avatar since discord.py saw it) is asked for once.
            sb.world.users[pictured.user.id].avatar = "ffffffffffffffffffffffffffffffff"
            fresh = AssetCache(tmp_path / "other")
            assert await fresh.avatar(with_avatar) is None
            assert await fresh.avatar(with_avatar) is None
            assert fresh.fetches == 1


async def test_the_cache_stays_under_its_bound(tmp_path: Path) -> None:
    cache = AssetCache(tmp_path / "assets", max_bytes=2_500)
    for i in range(10):
        cache._store(tmp_path / "assets" / f"emoji-{i}.png", bytes(1000))
    assert cache.size() <= 2_500
    kept = sorted(p.name for p in (tmp_path / "assets").iterdir())
    assert kept and "emoji-9.png" in kept  # the newest stays
