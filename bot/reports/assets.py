"""Member avatars and custom emoji images for report images: fetched through discord.py, cached on disk.

Files are named by what identifies an image for good (a custom emoji's id, an avatar's
hash), so a cached file never goes stale; the directory is kept under ``max_bytes`` by
dropping the least recently used files. An image that cannot be had (no avatar, a
deleted emoji, Discord unreachable) is remembered for ``retry_s`` and drawn as the
fallback meanwhile: initials for an avatar, the ``:name:`` text for an emoji.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final, TypeVar

import discord

from bot.render import models

log = logging.getLogger(__name__)

AVATAR_PX: Final = 64  # drawn at 32–96 px; Discord resizes on its side
EMOJI_PX: Final = 64
MAX_BYTES: Final = 32 * 1024 * 1024
RETRY_S: Final = 600.0
FETCH_TIMEOUT_S: Final = 3.0
_CUSTOM: Final = re.compile(r"<(a?):([A-Za-z0-9_~]+):(\d+)>")
MEMBER_LISTS: Final = ("top_members", "entries")
EMOJI_LISTS: Final = ("top_emojis", "emojis")
M = TypeVar("M")


def default_directory() -> Path:
    """Where the cache lives unless told: a directory of the system's temporary files (it is only a cache)."""
    return Path(tempfile.gettempdir()) / "statsbot-assets"


class AssetCache:
    """Avatars and custom emoji images by id, on disk up to a size bound; misses remembered for a while."""

    def __init__(
        self,
        directory: Path | None = None,
        *,
        max_bytes: int = MAX_BYTES,
        retry_s: float = RETRY_S,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.directory = directory or default_directory()
        self.max_bytes = max_bytes
        self.retry_s = retry_s
        self._clock = clock or time.monotonic
        self._missing: dict[str, float] = {}
        self.fetches = 0  # how many images were asked of Discord (tests, benchmarks)

    # -- the public reads -----------------------------------------------------------------

    async def avatar(self, user: discord.abc.User) -> bytes | None:
        """The member's avatar (guild avatar first) at a small size, or None when they have none."""
        asset = user.display_avatar
        if getattr(user, "avatar", None) is None and getattr(user, "guild_avatar", None) is None:
            return None  # Discord's default avatar: initials say more
        return await self._get(f"avatar-{user.id}-{asset.key}.png", asset.with_size(AVATAR_PX).with_format("png"))

    async def avatars(self, users: Iterable[discord.abc.User]) -> dict[int, bytes]:
        """Avatars of several members at once (members without one are left out)."""
        people = list(users)
        found = await asyncio.gather(*(self.avatar(u) for u in people))
        return {u.id: png for u, png in zip(people, found, strict=True) if png is not None}

    async def emoji(self, state: discord.Client, token: str) -> bytes | None:
        """The image of a custom emoji written ``<:name:id>`` / ``<a:name:id>``; None for unicode or when lost."""
        match = _CUSTOM.fullmatch(token)
        if match is None:
            return None
        emoji_id = int(match.group(3))
        return await self._get(f"emoji-{emoji_id}.png", _emoji_asset(state, emoji_id))

    async def emojis(self, state: discord.Client, tokens: Iterable[str]) -> dict[str, bytes]:
        """Images of the custom emojis among ``tokens`` (unicode emojis and lost ones are left out)."""
        wanted = [t for t in dict.fromkeys(tokens) if _CUSTOM.fullmatch(t)]
        found = await asyncio.gather(*(self.emoji(state, t) for t in wanted))
        return {t: png for t, png in zip(wanted, found, strict=True) if png is not None}

    async def decorate(self, bot: discord.Client, guild: discord.Guild | None, model: M) -> M:
        """``model`` with the avatars of its members and the images of its custom emojis, where they can be had.

        A model names its members by id (``top_members``, ``entries``, a card's ``user_id``)
        and its emojis by token (``top_emojis``, ``emojis``); what cannot be had stays None,
        and the renderer draws the fallback (initials, or the emoji's ``:name:``).
        """
        if guild is None or not dataclasses.is_dataclass(model) or isinstance(model, type):
            return model
        names = {f.name for f in dataclasses.fields(model)}
        changes: dict[str, Any] = {}
        wanted: set[int] = set()
        for field in MEMBER_LISTS:
            if field in names:
                wanted.update(item.id for item in getattr(model, field) if isinstance(item, models.RankedItem))
        card_user = getattr(model, "user_id", None) if "avatar_png" in names else None
        if isinstance(card_user, int):
            wanted.add(card_user)
        members = [m for u in wanted if (m := guild.get_member(u)) is not None]
        avatars = await self.avatars(members) if members else {}
        for field in MEMBER_LISTS:
            if field in names:
                items = getattr(model, field)
                changes[field] = tuple(
                    dataclasses.replace(i, avatar_png=avatars.get(i.id)) if isinstance(i, models.RankedItem) else i
                    for i in items
                )
        if isinstance(card_user, int) and card_user in avatars:
            changes["avatar_png"] = avatars[card_user]
        for field in EMOJI_LISTS:
            if field in names:
                uses = getattr(model, field)
                images = await self.emojis(bot, (u.emoji for u in uses if isinstance(u, models.EmojiUse)))
                changes[field] = tuple(
                    dataclasses.replace(u, image_png=images.get(u.emoji)) if isinstance(u, models.EmojiUse) else u
                    for u in uses
                )
        return dataclasses.replace(model, **changes) if changes else model

    # -- the cache ------------------------------------------------------------------------

    async def _get(self, name: str, asset: discord.Asset) -> bytes | None:
        path = self.directory / name
        try:
            data = path.read_bytes()
        except OSError:
            pass
        else:
            os.utime(path)  # recently used: kept when the directory is trimmed
            return data
        retry_at = self._missing.get(name)
        if retry_at is not None and self._clock() < retry_at:
            return None
        self.fetches += 1
        try:
            async with asyncio.timeout(FETCH_TIMEOUT_S):
                data = await asset.read()
        except (discord.HTTPException, discord.DiscordException, OSError, TimeoutError, ValueError) as exc:
            log.debug("could not fetch %s: %s", name, exc)
            self._missing[name] = self._clock() + self.retry_s
            return None
        self._store(path, data)
        return data

    def _store(self, path: Path, data: bytes) -> None:
        """Write one file (atomically) and trim the directory to its bound."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            part = path.with_suffix(".part")
            part.write_bytes(data)
            part.replace(path)
            self._trim()
        except OSError:
            log.warning("could not write the image cache in %s", self.directory, exc_info=True)

    def _trim(self) -> None:
        files = [(p.stat(), p) for p in self.directory.iterdir() if p.is_file() and p.suffix == ".png"]
        total = sum(s.st_size for s, _ in files)
        for stat, p in sorted(files, key=lambda f: f[0].st_mtime):
            if total <= self.max_bytes:
                break
            p.unlink(missing_ok=True)
            total -= stat.st_size

    def size(self) -> int:
        """Bytes held on disk."""
        if not self.directory.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.directory.iterdir() if p.is_file())


def _emoji_asset(client: discord.Client, emoji_id: int) -> discord.Asset:
    """The PNG of a custom emoji (the first frame of an animated one), read through discord.py's CDN client.

    Built as discord.py builds an emoji's ``url`` (``Asset.BASE/emojis/<id>.png``), so
    that a redirected ``Asset.BASE`` (the sandbox) is followed.
    """
    url = f"{discord.Asset.BASE}/emojis/{emoji_id}.png?size={EMOJI_PX}"
    return discord.Asset(client._connection, url=url, key=str(emoji_id))
