"""Finding the emojis in message content and naming them the way they are stored.

Unicode emojis are RGI sequences (UTS #51) found by the ``emoji`` library and
written without U+FE0F; custom emojis are ``<:name:id>`` / ``<a:name:id>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final

import discord
import emoji

from bot.buffer.counters import Counters
from db.series import EMOJIS

VS16: Final = "\ufe0f"
_UNQUALIFIED: Final = emoji.STATUS["unqualified"]
_SERIES: Final = EMOJIS.code
MESSAGE_KIND: Final = "message"
REACTION_KIND: Final = "reaction"

CUSTOM_EMOJI_RE: Final = re.compile(r"<(a?):([A-Za-z0-9_~]{1,32}):([0-9]{15,21})>")

# Resolves a custom emoji id to its current (name, animated), or None when unknown.
CustomLookup = Callable[[int], "tuple[str, bool] | None"]


# Runs of non-ASCII code points: no emoji sequence has an ASCII character except a
# keycap's base (``#``, ``*``, ``0``–``9``), which comes first and needs U+20E3; the
# runs are only a pre-filter, the library decides what in a run is an emoji.
_RUNS: Final = re.compile(r"[^\x00-\x7f]+")
_KEYCAP: Final = "\u20e3"
_RUNS_WITH_KEYCAPS: Final = re.compile(r"[#*0-9]?[^\x00-\x7f]+")
_CACHE_MAX: Final = 8192


class EmojiScanner:
    """Lists the unicode and custom emojis of a text, fast on the event path.

    ASCII-only text without ``<`` costs one ``isascii`` call; runs of non-ASCII code
    points are looked up in a bounded cache before asking the library.
    """

    __slots__ = ("_cache", "custom_name")

    def __init__(self, custom_name: CustomLookup | None = None) -> None:
        self._cache: dict[str, tuple[str, ...]] = {}
        self.custom_name = custom_name

    def unicode(self, content: str) -> Sequence[str]:
        """Every unicode emoji occurrence in ``content``, in order, without U+FE0F."""
        cache = self._cache
        runs = _RUNS_WITH_KEYCAPS.findall(content) if _KEYCAP in content else _RUNS.findall(content)
        if len(runs) == 1:
            run = runs[0]
            found = cache.get(run)
            return found if found is not None else self._learn(run)
        out: list[str] = []
        for run in runs:
            found = cache.get(run)
            out += found if found is not None else self._learn(run)
        return out

    def _learn(self, run: str) -> tuple[str, ...]:
        """Ask the library about a run not seen lately, and remember the answer."""
        found = _library_emojis(run)
        cache = self._cache
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[run] = found
        return found

    def custom(self, content: str) -> list[str]:
        """Every custom emoji occurrence in ``content``, as ``<:name:id>`` / ``<a:name:id>``.

        Counted by id: when the emoji is known, its current name and animation are used,
        so a renamed emoji keeps one key.
        """
        lookup = self.custom_name
        out: list[str] = []
        for animated, name, eid in CUSTOM_EMOJI_RE.findall(content):
            known = lookup(int(eid)) if lookup is not None else None
            if known is not None:
                name, is_animated = known
                animated = "a" if is_animated else ""
            out.append(f"<{animated}:{name}:{eid}>")
        return out

    def scan(self, content: str) -> list[str]:
        """Unicode then custom emojis of ``content``; empty for plain ASCII text."""
        if content.isascii():
            return self.custom(content) if "<" in content else []
        found = list(self.unicode(content))
        if "<" in content:
            found += self.custom(content)
        return found


def _library_emojis(run: str) -> tuple[str, ...]:
    """The RGI emojis the library finds in a run, FE0F removed.

    A lone code point in its unqualified (text-presentation) form, such as ``©`` or
    ``™`` typed as text, is a character rather than an emoji and is left out.
    """
    found: list[str] = []
    for match in emoji.emoji_list(run):
        e: str = match["emoji"]
        data = emoji.EMOJI_DATA.get(e)
        if data is not None and data.get("status") == _UNQUALIFIED and len(e) == 1:
            continue
        found.append(e.replace(VS16, ""))
    return tuple(found)


def reaction_name(name: str | None, emoji_id: int | None, animated: bool) -> str | None:
    """How a reaction's emoji is stored: ``<:name:id>`` for custom ones, else the unicode without FE0F."""
    if emoji_id is not None:
        return f"<{'a' if animated else ''}:{name or '_'}:{emoji_id}>"
    if not name:
        return None
    return name.replace(VS16, "")


def count_emojis(
    counters: Counters, guild_id: int, hour: int, channel_id: int, user_id: int, emojis: Sequence[str], kind: str
) -> None:
    """Add one per occurrence to the emoji counters of a member in a channel."""
    incr = counters.incr
    for e in emojis:
        incr((_SERIES, guild_id, hour, channel_id, user_id, e, kind, "count"), 1)


def custom_emoji_scanner(client: discord.Client) -> EmojiScanner:
    """A scanner that names known custom emojis by their current name (counted by id)."""

    def lookup(emoji_id: int) -> tuple[str, bool] | None:
        e = client.get_emoji(emoji_id)
        return None if e is None else (e.name, e.animated)

    return EmojiScanner(lookup)
